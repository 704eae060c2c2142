//! The command line's definitions (clap): the commands, their options and their help, exit codes
//! included. What each command does is in the sibling modules.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::output::Output;
use crate::publish::TargetName;

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
pub struct Cli {
    /// The knowledge base folder (holds kbpub.toml); default: found from the current folder upwards
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Print only errors
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
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
pub enum Audience {
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

#[derive(Subcommand)]
pub enum Command {
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
        #[arg(long, value_parser = Output::accepting(Output::DIAGNOSTICS), default_value = "human")]
        format: Output,
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
        ci: crate::init::Ci,
        /// Print the JSON schema of kbpub's Amplience content type (to register on the hub) and
        /// create nothing
        #[arg(long)]
        amplience_schema: bool,
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
        #[arg(long, value_parser = Output::accepting(Output::DIAGNOSTICS), default_value = "human")]
        format: Output,
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
        #[arg(long, value_parser = Output::accepting(Output::REPORTS), default_value = "human")]
        format: Output,
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
        #[arg(long, value_parser = Output::accepting(Output::DIAGNOSTICS), default_value = "human")]
        format: Output,
    },
    /// Show each page's approval state (draft, approved, stale, expired, rejected, emergency) and why
    #[command(after_help = STATUS_EXIT_CODES)]
    Status {
        #[arg(long, value_parser = Output::accepting(Output::REPORTS), default_value = "human")]
        format: Output,
    },
    /// List documents whose review (approval expiry or `review_by`) is due soon or overdue
    #[command(after_help = STATUS_EXIT_CODES)]
    Due {
        /// How far ahead to look: 30d, 2w, 72h
        #[arg(long, default_value = "30d", value_parser = within)]
        within: (chrono::Duration, String),
        #[arg(long, value_parser = Output::accepting(Output::REPORTS), default_value = "human")]
        format: Output,
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
        #[arg(long, value_parser = Output::accepting(Output::AUDIT), default_value = "json")]
        format: Output,
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
    Sim(crate::sim::SimArgs),
}

#[derive(Subcommand)]
pub enum DataCommand {
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
        #[arg(long, value_parser = Output::accepting(Output::REPORTS), default_value = "human")]
        format: Output,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Deny {
    /// warnings fail the check like errors (notes never do)
    Warnings,
}

pub fn within(text: &str) -> Result<(chrono::Duration, String), String> {
    crate::approval::policy::parse_duration(text).map(|d| (d, text.to_string()))
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
