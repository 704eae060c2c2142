//! The `kbpub` command line: parses arguments, calls the library, prints results and diagnostics,
//! and turns the outcome into an exit code. No logic of its own.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{CommandFactory, Parser, Subcommand};

use kbpub::approval::{self, approve, record::Decision, report};
use kbpub::config::Config;
use kbpub::content::Site;
use kbpub::diag::{self, Diagnostic, Format};
use kbpub::publish::{self, TargetName};
use kbpub::render::Engine;

/// mimalloc: rendering allocates many short-lived strings on every core; glibc malloc spent a
/// fifth of a 10,000-page build in lock contention and free-list work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_CODES: &str = "\
Exit codes:
  0  the command did everything it was asked
  1  problems were found in the input (content, templates, config); nothing was written
  2  the command line was wrong";

const CHECK_EXIT_CODES: &str = "\
Exit codes:
  0  no errors: the knowledge base builds and can be published (warnings and notes are printed
     but do not fail the check, unless --deny warnings)
  1  errors were found (with --deny warnings: errors or warnings), or the knowledge base could
     not be checked at all (no kbpub.toml, no content/); nothing was written
  2  the command line was wrong

Errors are what build or publish would refuse: front matter, broken links and anchors, missing
images, template errors, unknown partners, a broken approval policy or missing git history,
Confluence title collisions, partner renderings that leak something internal, broken external
links (--external). Warnings need someone to act, but not in this change: review_by passed,
expired or emergency approvals, pages no policy rule matches, pages no navigation reaches, raw
HTML that Confluence shows as text, external links that moved, time out or cannot be verified.
Notes are information: pages waiting for approval (draft, stale, rejected), reviews due within
[check] review_due_within (30 days).

KBPUB_NOW (RFC 3339) sets the clock for review dates and approval expiry, for tests and CI.";

const INIT_EXIT_CODES: &str = "\
Exit codes:
  0  the knowledge base was created
  1  refused, nothing written: the folder already holds a knowledge base (kbpub.toml) or a file
     the scaffold would write (an existing .gitignore gets the missing lines instead); or a file
     could not be written
  2  the command line was wrong

Then: cd DIR, `git init`, commit, and run `kbpub build` and `kbpub check`. Put your reviewers in
.kb/people.toml, your Confluence site in kbpub.toml, and CONFLUENCE_EMAIL and CONFLUENCE_TOKEN in
the repository's CI secrets.";

const PULL_EXIT_CODES: &str = "\
Exit codes:
  0  every source was pulled, or kept its previous snapshot under `on_failure = \"stale\"` (a
     warning says so, and pages using it show a stale banner)
  1  a source failed (its previous snapshot is left untouched), or the configuration is wrong
  2  the command line was wrong";

#[derive(Parser)]
#[command(name = "kbpub", version, about = "Docs-as-code for trading-partner operations: build, preview, approve and publish a knowledge base", after_help = EXIT_CODES)]
struct Cli {
    /// The knowledge base folder (holds kbpub.toml); default: found from the current folder upwards
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Print only errors
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

const APPROVE_EXIT_CODES: &str = "\
Exit codes:
  0  every record was written (and committed, unless --no-commit)
  1  nothing was written: the approval could not count (not an approver for the document, an
     author of its changes, uncommitted changes, ...), the policy is broken, or git failed
  2  the command line was wrong

Records count only when the commit that adds them is authored by the approver; kbpub commits them
with `--author` set to the approver. KBPUB_NOW (RFC 3339) overrides the clock, for tests and CI.";

const STATUS_EXIT_CODES: &str = "\
Exit codes:
  0  every page's state was computed (whatever the states are)
  1  states cannot be computed: no or broken .kb/policy.toml / .kb/people.toml, not a git
     repository, a shallow clone (fetch full history: `git fetch --unshallow`, or
     `fetch-depth: 0` with actions/checkout), or the knowledge base does not load
  2  the command line was wrong

KBPUB_NOW (RFC 3339, e.g. 2026-05-01T09:00:00Z) overrides the clock, for tests and CI.";

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Audience {
    /// everything, internal-only passages marked (output/)
    Internal,
    /// what partners get ([partner] output, output-partner/)
    Partner,
}

const BUILD_EXIT_CODES: &str = "\
Exit codes:
  0  the site was built
  1  problems were found in the input (content, templates, config) or, for --audience partner,
     a partner page leaks something internal (an internal marker, host or e-mail address, or a
     link to an internal page); nothing was written
  2  the command line was wrong";

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AuditFormat {
    /// one JSON document
    Json,
    /// one row per event
    Csv,
    /// a page that prints cleanly to PDF
    Html,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    /// aligned text for people
    Human,
    /// one JSON document
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Render the knowledge base into a static site in output/
    ///
    /// The build is atomic: it is staged next to output/ and swapped in only when every page
    /// rendered, so a failed build leaves the previous output untouched. All problems are
    /// reported together, each with file:line:col.
    ///
    /// `--audience partner` builds the partner view into `[partner] output` (output-partner/):
    /// only the documents partners get, each exactly as the community gets it (internal-only
    /// passages removed, links to internal pages as plain text), leak checked.
    #[command(after_help = BUILD_EXIT_CODES)]
    Build {
        /// How to report problems
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Whose view of the site to build
        #[arg(long, value_enum, default_value_t = Audience::Internal)]
        audience: Audience,
    },
    /// Create a knowledge-base repository: config, example documents, policy, data, CI workflow
    ///
    /// Writes kbpub.toml, content/ (a home page, a section and one document of each type: sop,
    /// playbook, faq, partner, incident-review, notice), .kb/ (a starter approval policy and
    /// people), local data sources under data/exports/ with their snapshots (so the site builds
    /// offline at once), .gitignore, and CI: .github/workflows/kbpub.yml (or with --ci gitlab
    /// .gitlab-ci.yml) and .kb/install-kbpub.sh, which installs this kbpub release in seconds:
    /// `kbpub check --format github` on pull requests; on merges to main `kbpub data pull`,
    /// `kbpub build` deployed to Pages, and `kbpub publish` (full git history, credentials from
    /// the CI secret store). The built-in templates are used unless --templates copies them into
    /// templates/. Never overwrites anything.
    #[command(after_help = INIT_EXIT_CODES)]
    Init {
        /// The folder to create it in (created when missing); default: --root, or the current folder
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The site's title
        #[arg(long, default_value = "Operations knowledge base")]
        title: String,
        /// Also copy the built-in templates into templates/, to customise them
        #[arg(long)]
        templates: bool,
        /// The CI configuration to write: a GitHub Actions workflow or a GitLab CI pipeline
        #[arg(long, value_enum, default_value = "github")]
        ci: kbpub::init::Ci,
    },
    /// Check everything build and publish would, and more, writing nothing
    ///
    /// Loads and renders the site exactly as `build` does (front matter, links and anchors,
    /// images, templates, data), then checks what publishing needs: partners named in front
    /// matter exist in the data snapshot, review dates, approval states, that navigation reaches
    /// every page from the home page, the partner leak check on every partner document, and what
    /// Confluence would refuse (title collisions) or show as text (raw HTML). With --external, links to other sites are requested too (concurrently,
    /// with a timeout; links that worked are cached for a day in .kbpub-cache/). Every problem is
    /// reported at once, with file:line:col; --format github turns them into annotations on the
    /// pull request.
    #[command(after_help = CHECK_EXIT_CODES)]
    Check {
        /// Also check links to other sites, over HTTP (`[check.external]` in kbpub.toml tunes it)
        #[arg(long)]
        external: bool,
        /// How to report problems (human: on stderr; json and github: on stdout)
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Fail the check on warnings too: `--deny warnings`
        #[arg(long, value_enum, value_name = "LEVEL")]
        deny: Option<Deny>,
        /// List every note (otherwise notes are counted in one line; json lists them always)
        #[arg(long)]
        verbose: bool,
    },
    /// Preview the knowledge base in a browser, rebuilding and reloading on every save
    ///
    /// Renders the site into memory exactly as `kbpub build` would and serves it on
    /// http://127.0.0.1:PORT/. Watches content/, templates/, data/, .kb/ and kbpub.toml; a save
    /// re-renders only the pages it affects and every open page reloads, keeping its scroll
    /// position. A broken edit shows its errors (file:line:col) over the last good page until it
    /// is fixed. Reviewers switch between the internal site, the partner view and the Confluence
    /// view in the panel on each page (or with ?view=partner, ?view=confluence). Prints
    /// "Serving on URL" once the site is ready.
    #[command(after_help = SERVE_EXIT_CODES)]
    Serve {
        /// Port to listen on (0 picks a free one)
        #[arg(long, default_value_t = 4000)]
        port: u16,
        /// Address to listen on; other than loopback needs --allow-remote
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Allow binding beyond loopback and answer requests for any host name: the preview (with
        /// internal-only content) becomes reachable from other machines
        #[arg(long)]
        allow_remote: bool,
        /// Open the site in the default browser
        #[arg(long)]
        open: bool,
    },
    /// Publish approved pages to Confluence and the partner community (every configured target unless --target)
    ///
    /// Only approved pages (or pages under an emergency approval) are published; the others are
    /// listed as gated with the reason, and nothing at all is published when approval states
    /// cannot be known (no or broken policy, shallow clone). Plans first (create, update, move,
    /// unchanged, gated, drifted, archive, prune), then writes with bounded concurrency. Pages
    /// edited in Confluence or on the community since kbpub last wrote them are reported as
    /// drifted and left alone unless --force; a page kbpub cannot prove it created that holds a
    /// document's title is reported and left alone unless --adopt, and fails the run like a
    /// page whose parent was not written. The community gets only `audience = "partner"`
    /// documents, in their partner rendering, and nothing when a rendering leaks something
    /// internal; obsolete ones are archived. Re-running after any failure finishes the job;
    /// re-running with no change writes nothing. Credentials come from the env vars named in
    /// kbpub.toml (`[confluence] email_env`, `token_env`; `[community] token_env`).
    #[command(after_help = PUBLISH_EXIT_CODES)]
    Publish {
        /// Only this target (default: every configured target)
        #[arg(long, value_enum)]
        target: Option<TargetName>,
        /// Print the plan and write nothing (the target is still read)
        #[arg(long)]
        dry_run: bool,
        /// Overwrite pages edited in Confluence or on the community since kbpub last wrote them
        #[arg(long)]
        force: bool,
        /// Take over pages kbpub does not manage that hold a document's title (by default they
        /// are reported and left alone)
        #[arg(long)]
        adopt: bool,
        /// Archive (Cloud, community) or trash (Data Center) managed pages whose source is gone
        /// (or, on the community, no longer for partners); never runs when any page failed
        #[arg(long)]
        prune: bool,
        /// Pages written at the same time (default: the target's `concurrency`, 4)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: Option<u16>,
        /// How to print the report (json: one document on stdout, for CI)
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
    /// Approve (or reject) documents' current content
    ///
    /// Writes `.kb/approvals/<doc-id>/<time>-<approver>.toml` naming the document's content hash
    /// (its source and every template it renders through), the decision, its meaning, the time
    /// and the expiry, and commits it authored by the approver. The approver is
    /// `git config user.email`, or `--as`. Refused, with the reason, when the approval could
    /// not count.
    #[command(after_help = APPROVE_EXIT_CODES)]
    Approve {
        /// Document ids or paths (content/sops/x.md), or data-driven page families (family-data-partner)
        #[arg(required = true, value_name = "DOC")]
        docs: Vec<String>,
        /// Record a rejection: blocks publication of this content until the rejecter approves
        #[arg(long)]
        reject: bool,
        /// A comment kept in the record (what to change, for a rejection)
        #[arg(long, value_name = "TEXT")]
        comment: Option<String>,
        /// Approve as this person (e-mail in .kb/people.toml) instead of git's user.email
        #[arg(long = "as", value_name = "EMAIL")]
        approver: Option<String>,
        /// Leave the records staged instead of committing them (they count once committed by the approver)
        #[arg(long)]
        no_commit: bool,
        /// Emergency approval by a member of the policy's emergency groups, valid for a short time
        #[arg(long, requires = "reason", conflicts_with = "reject")]
        emergency: bool,
        /// Why the emergency approval is needed (required with --emergency)
        #[arg(long, requires = "emergency", value_name = "TEXT")]
        reason: Option<String>,
        /// The content hash you reviewed (from `kbpub status` or the preview); refused if the content changed since
        #[arg(long, value_name = "HASH")]
        hash: Option<String>,
        /// How to report problems
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Show each page's approval state (draft, approved, stale, expired, rejected, emergency) and why
    #[command(after_help = STATUS_EXIT_CODES)]
    Status {
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
    /// List documents whose review (approval expiry or `review_by`) is due soon or overdue
    #[command(after_help = STATUS_EXIT_CODES)]
    Due {
        /// How far ahead to look: 30d, 2w, 72h
        #[arg(long, default_value = "30d", value_parser = within)]
        within: (chrono::Duration, String),
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
    /// The audit trail per document: decisions (who, when, commit, signing key, content hash, policy commit), publishes (from .kb/receipts/log.jsonl) and tampering
    #[command(after_help = STATUS_EXIT_CODES)]
    Audit {
        /// Document ids or files (every document when none)
        #[arg(value_name = "DOC")]
        docs: Vec<String>,
        /// Only events on or after this day (YYYY-MM-DD)
        #[arg(long, value_name = "DATE")]
        since: Option<chrono::NaiveDate>,
        /// json (one document), csv (one row per event) or html (prints to PDF)
        #[arg(long, value_enum, default_value_t = AuditFormat::Json)]
        format: AuditFormat,
    },
    /// Live data: pull snapshots from the sources in kbpub.toml
    #[command(subcommand)]
    Data(DataCommand),
    /// Run the local simulators (Trading Grid data API, Confluence, partner community) on 127.0.0.1, for demos and tests
    ///
    /// Serves deterministic, seeded data until interrupted. Fault flags make it misbehave so
    /// that clients can be tested against latency, rate limits, server errors, malformed or
    /// hostile data, and a server that echoes credentials back. The Confluence test server:
    /// Cloud at http://127.0.0.1:PORT/wiki (Basic auth, kbpub@example.com / cloud-token) and
    /// Data Center at http://127.0.0.1:PORT/confluence (Bearer dc-pat), each with the spaces
    /// OPS, EDIOPS and PARTNERS. The partner community (contract community-v1) at
    /// http://127.0.0.1:PORT/community (Bearer community-token; moderator-token edits as a
    /// moderator would).
    Sim(kbpub::sim::SimArgs),
}

#[derive(Subcommand)]
enum DataCommand {
    /// Fetch every source in kbpub.toml and write its snapshot under data/
    ///
    /// Each source's token is read from the environment variable named by its `token_env` and
    /// sent only as an Authorization header. Snapshots are written atomically with their
    /// `as_of` and sha256; builds render from them without network access.
    #[command(after_help = PULL_EXIT_CODES)]
    Pull {
        /// Pull only this source (repeatable); default: every source
        #[arg(long = "source", value_name = "NAME")]
        sources: Vec<String>,
        /// How to report the result (json: one document on stdout, for CI)
        #[arg(long, value_enum, default_value_t = PullFormat::Human)]
        format: PullFormat,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Deny {
    /// warnings fail the check like errors (notes never do)
    Warnings,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PullFormat {
    Human,
    Json,
}

fn within(text: &str) -> Result<(chrono::Duration, String), String> {
    kbpub::approval::policy::parse_duration(text).map(|d| (d, text.to_string()))
}

const SERVE_EXIT_CODES: &str = "\
Exit codes:
  0  stopped with Ctrl-C
  1  cannot start: no kbpub.toml, the port is in use, or the folders cannot be watched
     (problems in documents and templates do not stop the server: they are shown in the browser)
  2  the command line was wrong, e.g. --bind beyond loopback without --allow-remote";

const PUBLISH_EXIT_CODES: &str = "\
Exit codes:
  0  every page is published, unchanged or gated (not approved; listed with the reason)
  1  a page failed, drifted or was skipped (its parent was not written, a page kbpub does not
     manage holds its title), titles collide, the target could not be reached, or the input
     has problems (including a partner rendering that leaks something internal: nothing is
     published then); re-run after fixing: publishing is idempotent
  2  the command line was wrong
  3  every page is published, unchanged or gated, but a [[notify]] destination was not told
     (no secret, the receiver or X refused or is down): the delivery is kept under
     .kb/receipts/notify/ and the next `kbpub publish` sends it again, with the same id";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Build { format, audience } => build(cli.root, cli.quiet, format, audience),
        Command::Check {
            external,
            format,
            deny,
            verbose,
        } => check(
            cli.root,
            cli.quiet,
            CheckArgs {
                external,
                format,
                deny,
                verbose,
            },
        ),
        Command::Init {
            dir,
            title,
            templates,
            ci,
        } => init(dir.or(cli.root), cli.quiet, title, templates, ci),
        Command::Serve {
            port,
            bind,
            allow_remote,
            open,
        } => {
            if !bind.is_loopback() && !allow_remote {
                Cli::command()
                    .error(
                        clap::error::ErrorKind::ArgumentConflict,
                        format!("--bind {bind} would make the preview reachable from other machines; add --allow-remote if that is what you want"),
                    )
                    .exit();
            }
            serve(
                cli.root,
                kbpub::serve::Options {
                    bind,
                    port,
                    allow_remote,
                    open,
                    quiet: cli.quiet,
                },
            )
        }
        Command::Publish {
            target,
            dry_run,
            force,
            adopt,
            prune,
            concurrency,
            format,
        } => {
            let options = publish::Options {
                target,
                dry_run,
                force,
                adopt,
                prune,
                concurrency: concurrency.map(usize::from),
                progress: publish::ProgressMode::detect(cli.quiet || format == ReportFormat::Json),
            };
            publish(cli.root, options, format, cli.quiet)
        }
        Command::Data(DataCommand::Pull { sources, format }) => {
            data_pull(cli.root, cli.quiet, &sources, format)
        }
        Command::Sim(options) => kbpub::sim::run(options).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }),
        Command::Approve {
            docs,
            reject,
            comment,
            approver,
            no_commit,
            emergency,
            reason,
            hash,
            format,
        } => {
            let decision = if reject {
                Decision::Reject
            } else {
                Decision::Approve
            };
            let request = |now| approve::Request {
                targets: docs,
                decision,
                comment,
                approver,
                emergency: reason.filter(|_| emergency),
                expected_hash: hash,
                commit: !no_commit,
                now,
                cwd: std::env::current_dir().unwrap_or_default(),
            };
            approve_command(cli.root, cli.quiet, format, request)
        }
        Command::Status { format } => status(cli.root, format),
        Command::Audit {
            docs,
            since,
            format,
        } => audit(cli.root, &docs, since, format),
        Command::Due { within, format } => due(cli.root, within, format),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn config(root: Option<PathBuf>) -> Result<Config, Diagnostic> {
    match root {
        Some(root) => Config::load(&root),
        None => Config::discover(&std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))),
    }
}

/// Prints diagnostics and a one-line summary of how many errors and warnings there were.
fn report(diagnostics: &[Diagnostic], format: Format) {
    if let Err(e) = diag::emit(diagnostics, format) {
        eprintln!("error: cannot print diagnostics: {e}");
    }
    if format == Format::Human && !diagnostics.is_empty() {
        eprintln!("{}", diag::summary(diagnostics));
    }
}

fn build(
    root: Option<PathBuf>,
    quiet: bool,
    format: Format,
    audience: Audience,
) -> Result<(), ExitCode> {
    let started = Instant::now();
    let config = config(root).map_err(|d| {
        report(&[d], format);
        ExitCode::from(1)
    })?;
    let built = match audience {
        Audience::Internal => kbpub::site::build(&config, approval::banner::decorations),
        Audience::Partner => kbpub::site::partner::build(&config, approval::banner::decorations),
    };
    match built {
        Ok(summary) => {
            report(&summary.render.warnings, format);
            if !quiet {
                let shown = summary
                    .output
                    .strip_prefix(std::env::current_dir().unwrap_or_default())
                    .unwrap_or(&summary.output);
                eprintln!(
                    "Built {} pages ({} files) in {:.2}s into {}/\nOpen {}/index.html in a browser, or run `kbpub serve`.",
                    summary.render.pages,
                    summary.render.files,
                    started.elapsed().as_secs_f64(),
                    shown.display(),
                    shown.display()
                );
            }
            Ok(())
        }
        Err(diagnostics) => {
            report(&diagnostics, format);
            if format == Format::Human {
                eprintln!("build failed; the previous output was left as it was");
            }
            Err(ExitCode::from(1))
        }
    }
}

fn init(
    dir: Option<PathBuf>,
    quiet: bool,
    title: String,
    templates: bool,
    ci: kbpub::init::Ci,
) -> Result<(), ExitCode> {
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    let options = kbpub::init::Options {
        title,
        templates,
        ci,
        now: clock(Format::Human)?,
    };
    let created = kbpub::init::init(&dir, &options).map_err(|diagnostics| {
        report(&diagnostics, Format::Human);
        ExitCode::from(1)
    })?;
    if !quiet {
        let merged = if created.gitignore_merged {
            " (and added kbpub's lines to .gitignore)"
        } else {
            ""
        };
        eprintln!(
            "Created a knowledge base in {}: {} files{merged}.\n\nNext:\n  cd {}\n  git init && git add -A && git commit -m \"Knowledge base\"\n  kbpub build && kbpub check\n\nThen put your reviewers in .kb/people.toml, your Confluence site in kbpub.toml ([confluence]),\nand CONFLUENCE_EMAIL and CONFLUENCE_TOKEN in your repository's CI secrets:\n{} checks every pull request; every merge to main deploys the site and publishes.",
            dir.display(),
            created.files.len(),
            dir.display(),
            ci.config_file()
        );
    }
    Ok(())
}

/// `kbpub check`'s own options.
struct CheckArgs {
    external: bool,
    format: Format,
    deny: Option<Deny>,
    verbose: bool,
}

fn check(root: Option<PathBuf>, quiet: bool, args: CheckArgs) -> Result<(), ExitCode> {
    let CheckArgs {
        external,
        format,
        deny,
        verbose,
    } = args;
    let config = config(root).map_err(|d| {
        report(&[d], format);
        ExitCode::from(1)
    })?;
    let outcome = kbpub::check::check(&config, kbpub::check::Options { external });
    let shown: Vec<Diagnostic> = outcome
        .diagnostics
        .iter()
        .filter(|d| !quiet || d.is_error())
        .cloned()
        .collect();
    let prefix = if format == Format::Github {
        repo_prefix(&config.root)
    } else {
        String::new()
    };
    let (shown, notes) = diag::fold_notes(shown, verbose || format == Format::Json);
    if let Err(e) = diag::emit_in(&shown, format, &prefix) {
        eprintln!("error: cannot print diagnostics: {e}");
    }
    if let (Some(notes), Format::Github) = (&notes, format) {
        println!("{}", diag::github_summary_notice(notes));
    }
    if !quiet {
        let links = outcome
            .external_links
            .map(|n| format!(" and {n} external link{}", if n == 1 { "" } else { "s" }))
            .unwrap_or_default();
        let summary = match &notes {
            Some(notes) => format!("{}, {notes}", diag::summary(&shown)),
            None => diag::summary(&outcome.diagnostics),
        };
        eprintln!("Checked {} pages{links}: {summary}", outcome.pages);
    }
    let failing = match deny {
        Some(Deny::Warnings) => diag::Severity::Warning,
        None => diag::Severity::Error,
    };
    if outcome.diagnostics.iter().any(|d| d.severity <= failing) {
        Err(ExitCode::from(1))
    } else {
        Ok(())
    }
}

/// The site root's folder inside its git repository (`docs/`, or `""` at the top), so GitHub
/// annotations name files from the repository root; `""` outside a repository.
fn repo_prefix(root: &std::path::Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--show-prefix"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}

fn publish(
    root: Option<PathBuf>,
    options: publish::Options,
    format: ReportFormat,
    quiet: bool,
) -> Result<(), ExitCode> {
    let diagnostics_format = match format {
        ReportFormat::Human => Format::Human,
        ReportFormat::Json => Format::Json,
    };
    let config = config(root).map_err(|d| {
        report(&[d], diagnostics_format);
        ExitCode::from(1)
    })?;
    let outcome = publish::publish(&config, &options).map_err(|mut diagnostics| {
        diagnostics.retain(|d| !quiet || d.is_error());
        report(&diagnostics, diagnostics_format);
        if format == ReportFormat::Human {
            eprintln!("nothing was published");
        }
        ExitCode::from(1)
    })?;
    if quiet && format == ReportFormat::Human {
        publish_errors(&outcome);
        return publish_exit(&outcome);
    }
    let mut stdout = std::io::stdout().lock();
    let printed = match format {
        ReportFormat::Human => outcome.write_human(&mut stdout),
        ReportFormat::Json => outcome.write_json(&mut stdout),
    };
    if let Err(e) = printed {
        eprintln!("error: cannot print the report: {e}");
        return Err(ExitCode::from(1));
    }
    publish_exit(&outcome)
}

/// 0: all done; 3: every page is fine but a notification was not delivered; 1: anything else.
fn publish_exit(outcome: &publish::Report) -> Result<(), ExitCode> {
    match (outcome.ok, outcome.pages_ok()) {
        (true, _) => Ok(()),
        (false, true) => Err(ExitCode::from(3)),
        (false, false) => Err(ExitCode::from(1)),
    }
}

/// `publish --quiet`: only what went wrong, on stderr — targets that stopped, title collisions,
/// and pages that failed, were skipped or drifted.
fn publish_errors(outcome: &publish::Report) {
    use publish::report::Outcome;
    for t in &outcome.targets {
        if let Some(error) = &t.error {
            eprintln!("error: {}: {error}", t.target);
        }
        for c in &t.collisions {
            eprintln!(
                "error: {}: {}: title \"{}\" is used by {} and {}",
                t.target, c.scope, c.title, c.first, c.second
            );
        }
        for p in &t.pages {
            let what = match (p.outcome, p.action) {
                (Outcome::Failed, _) => "failed",
                (Outcome::Skipped, _) => "skipped",
                (_, publish::plan::Action::Drifted) => "drifted",
                _ => continue,
            };
            let why = p.error.as_deref().or(p.note.as_deref()).unwrap_or_default();
            eprintln!(
                "error: {}: {} ({}) {what}: {why}",
                t.target, p.title, p.source
            );
        }
    }
    for n in &outcome.notify {
        let failed = n.deliveries.iter().filter(|d| d.error.is_some());
        for why in n
            .error
            .iter()
            .chain(failed.filter_map(|d| d.error.as_ref()))
        {
            eprintln!("error: notify {}: {why}", n.name);
        }
    }
}

fn data_pull(
    root: Option<PathBuf>,
    quiet: bool,
    sources: &[String],
    format: PullFormat,
) -> Result<(), ExitCode> {
    use kbpub::data::pull::{self, Outcome, Progress};
    let config = config(root).map_err(|d| {
        report(&[d], Format::Human);
        ExitCode::from(1)
    })?;
    let progress = Progress::new(quiet || format == PullFormat::Json);
    let reports = pull::pull(&config, sources, &|source, event| {
        progress.event(source, event)
    });
    progress.finish();
    let reports = reports.map_err(|d| {
        report(&[d], Format::Human);
        ExitCode::from(1)
    })?;
    let failed = reports
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed { .. }));
    if format == PullFormat::Json {
        let json: Vec<serde_json::Value> = reports.iter().map(|r| match &r.outcome {
            Outcome::Pulled { as_of, partners, metric_rows, incidents, pages, not_modified, path } => serde_json::json!({
                "source": r.name, "result": "pulled", "as_of": as_of, "snapshot": path, "partners": partners,
                "metric_rows": metric_rows, "incidents": incidents, "pages": pages, "not_modified": not_modified}),
            Outcome::KeptStale { reason, as_of } => serde_json::json!({"source": r.name, "result": "stale", "as_of": as_of, "reason": reason}),
            Outcome::Failed { reason } => serde_json::json!({"source": r.name, "result": "failed", "reason": reason}),
        }).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"ok": !failed, "sources": json}))
                .unwrap_or_default()
        );
    } else {
        for r in &reports {
            match &r.outcome {
                Outcome::Pulled {
                    as_of,
                    partners,
                    metric_rows,
                    incidents,
                    pages,
                    not_modified,
                    path,
                } => {
                    if !quiet {
                        let cached = if *not_modified > 0 {
                            format!(", {not_modified} unchanged since the last pull (ETag)")
                        } else {
                            String::new()
                        };
                        eprintln!(
                            "{}: {partners} partners, {metric_rows} metric rows, {incidents} incidents as of {} ({pages} pages{cached}) -> {path}",
                            r.name,
                            as_of.to_rfc3339()
                        );
                    }
                }
                Outcome::KeptStale { reason, as_of } => eprintln!(
                    "warning: {}: pull failed: {reason}\n  kept the previous snapshot (as of {}) under on_failure = \"stale\"; pages using it show a stale banner",
                    r.name,
                    as_of.to_rfc3339()
                ),
                Outcome::Failed { reason } => eprintln!(
                    "error: {}: pull failed: {reason}\n  the previous snapshot, if any, was left as it was",
                    r.name
                ),
            }
        }
    }
    if failed {
        Err(ExitCode::from(1))
    } else {
        Ok(())
    }
}

/// Loads the knowledge base for the approval commands: a site without errors, with the
/// data-driven pages the snapshot generates (their families are approved by template).
fn load_site(root: Option<PathBuf>, format: Format) -> Result<Site, ExitCode> {
    let fail = |diagnostics: Vec<Diagnostic>| {
        report(&diagnostics, format);
        ExitCode::from(1)
    };
    let config = config(root).map_err(|d| fail(vec![d]))?;
    let (site, diagnostics, _) = kbpub::site::load(&config).map_err(fail)?;
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(fail(diagnostics));
    }
    Ok(site)
}

/// The engine for the approval commands: approvals bind to content and templates, never to live
/// data values, so the engine gets no dataset.
fn engine(site: &Site, format: Format) -> Result<Engine<'_>, ExitCode> {
    Engine::new(site, Default::default()).map_err(|diagnostics| {
        report(&diagnostics, format);
        ExitCode::from(1)
    })
}

fn clock(format: Format) -> Result<chrono::DateTime<chrono::Utc>, ExitCode> {
    approval::now().map_err(|d| {
        report(&[d], format);
        ExitCode::from(2)
    })
}

fn approve_command(
    root: Option<PathBuf>,
    quiet: bool,
    format: Format,
    request: impl FnOnce(chrono::DateTime<chrono::Utc>) -> approve::Request,
) -> Result<(), ExitCode> {
    let now = clock(format)?;
    let site = load_site(root, format)?;
    let engine = engine(&site, format)?;
    let request = request(now);
    let outcome = approve::approve(&engine, &request).map_err(|diagnostics| {
        report(&diagnostics, format);
        ExitCode::from(1)
    })?;
    if !quiet {
        for record in &outcome.records {
            let verb = match (record.decision, record.is_emergency()) {
                (Decision::Reject, _) => "Rejected",
                (Decision::Approve, true) => "Emergency-approved",
                (Decision::Approve, false) => "Approved",
            };
            let until = record
                .expires
                .map(|e| format!(", expires {}", e.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default();
            eprintln!(
                "{verb} {} ({}) as {}{until}: {}",
                record.doc,
                approval::hash::short(&record.content_hash),
                outcome.approver,
                record.path
            );
        }
        if !outcome.unchanged.is_empty() {
            eprintln!(
                "Unchanged (the same decision by {} already stands): {}",
                outcome.approver,
                outcome.unchanged.join(", ")
            );
        }
        match &outcome.commit {
            Some(commit) => eprintln!(
                "Committed {} authored by {}.",
                &commit[..commit.len().min(10)],
                outcome.approver
            ),
            None if outcome.records.is_empty() => {}
            None => eprintln!(
                "Staged, not committed: the records count once committed with the approver as author."
            ),
        }
    }
    Ok(())
}

fn audit(
    root: Option<PathBuf>,
    docs: &[String],
    since: Option<chrono::NaiveDate>,
    format: AuditFormat,
) -> Result<(), ExitCode> {
    let now = clock(Format::Human)?;
    let site = load_site(root, Format::Human)?;
    let engine = engine(&site, Format::Human)?;
    let approvals = approvals(&engine, now)?;
    let people = approval::policy::Policy::load(&site.config.root)
        .ok()
        .flatten()
        .map(|p| p.people)
        .unwrap_or_default();
    let since = since.map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc());
    let audit = approval::audit::audit(&site.config.root, &approvals, &people, docs, since)
        .map_err(|e| {
            report(&e.diagnostics(), Format::Human);
            ExitCode::from(1)
        })?;
    match format {
        AuditFormat::Json => print_json(&audit),
        AuditFormat::Html => print!("{}", approval::audit::to_html(&audit)),
        AuditFormat::Csv => match approval::audit::to_csv(&audit) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("error: cannot write CSV: {e}");
                return Err(ExitCode::from(1));
            }
        },
    }
    Ok(())
}

/// Evaluates approvals for `status` and `due`; an error means states cannot be known (exit 1).
fn approvals(
    engine: &Engine,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<approval::Approvals, ExitCode> {
    let approvals = approval::evaluate(engine, now).map_err(|e| {
        report(&e.diagnostics(), Format::Human);
        ExitCode::from(1)
    })?;
    report(&approvals.warnings, Format::Human);
    Ok(approvals)
}

fn status(root: Option<PathBuf>, format: ReportFormat) -> Result<(), ExitCode> {
    let now = clock(Format::Human)?;
    let site = load_site(root, Format::Human)?;
    let engine = engine(&site, Format::Human)?;
    let approvals = approvals(&engine, now)?;
    match format {
        ReportFormat::Human => print!("{}", report::status_text(&approvals)),
        ReportFormat::Json => print_json(&report::status_json(&approvals)),
    }
    Ok(())
}

fn due(
    root: Option<PathBuf>,
    (within, within_text): (chrono::Duration, String),
    format: ReportFormat,
) -> Result<(), ExitCode> {
    let now = clock(Format::Human)?;
    let site = load_site(root, Format::Human)?;
    let engine = engine(&site, Format::Human)?;
    let has_policy = site
        .config
        .root
        .join(approval::policy::POLICY_FILE)
        .exists();
    let approvals = if has_policy {
        Some(approvals(&engine, now)?)
    } else {
        None
    };
    let list = report::due(&site, approvals.as_ref(), now, within);
    match format {
        ReportFormat::Human => print!("{}", report::due_text(&list, now, &within_text)),
        ReportFormat::Json => {
            print_json(&serde_json::json!({ "now": now, "within": within_text, "documents": list }))
        }
    }
    Ok(())
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

fn serve(root: Option<PathBuf>, options: kbpub::serve::Options) -> Result<(), ExitCode> {
    let config = config(root).map_err(|d| {
        report(&[d], Format::Human);
        ExitCode::from(1)
    })?;
    kbpub::serve::serve(config.root, options).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    })
}
