//! The `kbpub` command line: parses arguments, calls the library, prints results and diagnostics,
//! and turns the outcome into an exit code. No logic of its own.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use kbpub::config::Config;
use kbpub::diag::{self, Diagnostic, Format};
use kbpub::publish::{self, TargetName};

/// mimalloc: rendering allocates many short-lived strings on every core; glibc malloc spent a
/// fifth of a 10,000-page build in lock contention and free-list work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_CODES: &str = "\
Exit codes:
  0  the command did everything it was asked
  1  problems were found in the input (content, templates, config); nothing was written
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

#[derive(Subcommand)]
enum Command {
    /// Render the knowledge base into a static site in output/
    ///
    /// The build is atomic: it is staged next to output/ and swapped in only when every page
    /// rendered, so a failed build leaves the previous output untouched. All problems are
    /// reported together, each with file:line:col.
    #[command(after_help = EXIT_CODES)]
    Build {
        /// How to report problems
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Publish approved pages to Confluence (every configured target unless --target)
    ///
    /// Plans first (create, update, move, unchanged, gated, drifted, prune), then writes with
    /// bounded concurrency. Pages edited in Confluence since kbpub last wrote them are reported
    /// as drifted and left alone unless --force. Re-running after any failure finishes the job;
    /// re-running with no change writes nothing. Credentials come from the env vars named in
    /// kbpub.toml (`[confluence] email_env`, `token_env`).
    #[command(after_help = PUBLISH_EXIT_CODES)]
    Publish {
        /// Only this target (default: every configured target)
        #[arg(long, value_enum)]
        target: Option<TargetName>,
        /// Print the plan and write nothing (the target is still read)
        #[arg(long)]
        dry_run: bool,
        /// Overwrite pages edited in Confluence since kbpub last wrote them
        #[arg(long)]
        force: bool,
        /// Archive (Cloud) or trash (Data Center) managed pages whose source is gone; never
        /// runs when any page failed
        #[arg(long)]
        prune: bool,
        /// Pages written at the same time (default: the target's `concurrency`, 4)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
        concurrency: Option<u16>,
        /// How to print the report (json: one document on stdout, for CI)
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
    /// Serve the project's simulators on 127.0.0.1 for demos and tests
    ///
    /// The Confluence test server: Cloud at http://127.0.0.1:PORT/wiki (Basic auth,
    /// kbpub@example.com / cloud-token) and Data Center at http://127.0.0.1:PORT/confluence
    /// (Bearer dc-pat), each with the spaces OPS, EDIOPS and PARTNERS.
    Sim(kbpub::sim::SimArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    /// a table on stdout, progress on stderr
    Human,
    /// one JSON document on stdout
    Json,
}

const PUBLISH_EXIT_CODES: &str = "\
Exit codes:
  0  every page is published, unchanged or gated (not approved; listed with the reason)
  1  a page failed or drifted, titles collide, the target could not be reached, or the input
     has problems; re-run after fixing: publishing is idempotent
  2  the command line was wrong";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Build { format } => build(cli.root, cli.quiet, format),
        Command::Publish {
            target,
            dry_run,
            force,
            prune,
            concurrency,
            format,
        } => {
            let options = publish::Options {
                target,
                dry_run,
                force,
                prune,
                concurrency: concurrency.map(usize::from),
                progress: publish::ProgressMode::detect(cli.quiet || format == ReportFormat::Json),
            };
            publish(cli.root, options, format)
        }
        Command::Sim(options) => kbpub::sim::run(options).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }),
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
    let errors = diag::error_count(diagnostics);
    if format == Format::Human && !diagnostics.is_empty() {
        eprintln!(
            "{} error{}, {} warning{}",
            errors,
            if errors == 1 { "" } else { "s" },
            diagnostics.len() - errors,
            if diagnostics.len() - errors == 1 {
                ""
            } else {
                "s"
            }
        );
    }
}

fn build(root: Option<PathBuf>, quiet: bool, format: Format) -> Result<(), ExitCode> {
    let started = Instant::now();
    let config = config(root).map_err(|d| {
        report(&[d], format);
        ExitCode::from(1)
    })?;
    match kbpub::site::build(&config, &Default::default()) {
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

fn publish(
    root: Option<PathBuf>,
    options: publish::Options,
    format: ReportFormat,
) -> Result<(), ExitCode> {
    let diagnostics_format = match format {
        ReportFormat::Human => Format::Human,
        ReportFormat::Json => Format::Json,
    };
    let config = config(root).map_err(|d| {
        report(&[d], diagnostics_format);
        ExitCode::from(1)
    })?;
    let outcome = publish::publish(&config, &options).map_err(|diagnostics| {
        report(&diagnostics, diagnostics_format);
        if format == ReportFormat::Human {
            eprintln!("nothing was published");
        }
        ExitCode::from(1)
    })?;
    let mut stdout = std::io::stdout().lock();
    let printed = match format {
        ReportFormat::Human => outcome.write_human(&mut stdout),
        ReportFormat::Json => outcome.write_json(&mut stdout),
    };
    if let Err(e) = printed {
        eprintln!("error: cannot print the report: {e}");
        return Err(ExitCode::from(1));
    }
    if outcome.ok {
        Ok(())
    } else {
        Err(ExitCode::from(1))
    }
}
