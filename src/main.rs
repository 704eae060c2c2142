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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Build { format } => build(cli.root, cli.quiet, format),
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
