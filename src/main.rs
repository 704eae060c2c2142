//! The `kbpub` command line: parses arguments, calls the library, prints results and diagnostics,
//! and turns the outcome into an exit code. No logic of its own.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use kbpub::config::Config;
use kbpub::diag::{self, Diagnostic, Format};

/// mimalloc: rendering allocates many short-lived strings on every core; glibc malloc spent a
/// fifth of a 10,000-page build in lock contention and free-list work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_CODES: &str = "\
Exit codes:
  0  the command did everything it was asked
  1  problems were found in the input (content, templates, config); nothing was written
  2  the command line was wrong";

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
    /// Live data: pull snapshots from the sources in kbpub.toml
    #[command(subcommand)]
    Data(DataCommand),
    /// Run the local simulators (Trading Grid data API) on 127.0.0.1, for demos and tests
    ///
    /// Serves deterministic, seeded data until interrupted. Fault flags make it misbehave so
    /// that clients can be tested against latency, rate limits, server errors, malformed or
    /// hostile data, and a server that echoes credentials back.
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
enum PullFormat {
    Human,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Build { format } => build(cli.root, cli.quiet, format),
        Command::Data(DataCommand::Pull { sources, format }) => data_pull(cli.root, cli.quiet, &sources, format),
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
            if diagnostics.len() - errors == 1 { "" } else { "s" }
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
                let shown = summary.output.strip_prefix(std::env::current_dir().unwrap_or_default()).unwrap_or(&summary.output);
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

fn data_pull(root: Option<PathBuf>, quiet: bool, sources: &[String], format: PullFormat) -> Result<(), ExitCode> {
    use kbpub::data::pull::{self, Outcome, Progress};
    let config = config(root).map_err(|d| {
        report(&[d], Format::Human);
        ExitCode::from(1)
    })?;
    let progress = Progress::new(quiet || format == PullFormat::Json);
    let reports = pull::pull(&config, sources, &|source, event| progress.event(source, event));
    progress.finish();
    let reports = reports.map_err(|d| {
        report(&[d], Format::Human);
        ExitCode::from(1)
    })?;
    let failed = reports.iter().any(|r| matches!(r.outcome, Outcome::Failed { .. }));
    if format == PullFormat::Json {
        let json: Vec<serde_json::Value> = reports.iter().map(|r| match &r.outcome {
            Outcome::Pulled { as_of, partners, metric_rows, incidents, pages, not_modified, path } => serde_json::json!({
                "source": r.name, "result": "pulled", "as_of": as_of, "snapshot": path, "partners": partners,
                "metric_rows": metric_rows, "incidents": incidents, "pages": pages, "not_modified": not_modified}),
            Outcome::KeptStale { reason, as_of } => serde_json::json!({"source": r.name, "result": "stale", "as_of": as_of, "reason": reason}),
            Outcome::Failed { reason } => serde_json::json!({"source": r.name, "result": "failed", "reason": reason}),
        }).collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"ok": !failed, "sources": json})).unwrap_or_default());
    } else {
        for r in &reports {
            match &r.outcome {
                Outcome::Pulled { as_of, partners, metric_rows, incidents, pages, not_modified, path } => {
                    if !quiet {
                        let cached = if *not_modified > 0 { format!(", {not_modified} unchanged since the last pull (ETag)") } else { String::new() };
                        eprintln!("{}: {partners} partners, {metric_rows} metric rows, {incidents} incidents as of {} ({pages} pages{cached}) -> {path}", r.name, as_of.to_rfc3339());
                    }
                }
                Outcome::KeptStale { reason, as_of } => eprintln!(
                    "warning: {}: pull failed: {reason}\n  kept the previous snapshot (as of {}) under on_failure = \"stale\"; pages using it show a stale banner",
                    r.name, as_of.to_rfc3339()),
                Outcome::Failed { reason } => eprintln!("error: {}: pull failed: {reason}\n  the previous snapshot, if any, was left as it was", r.name),
            }
        }
    }
    if failed { Err(ExitCode::from(1)) } else { Ok(()) }
}
