//! The `kbpub` command line: parses arguments, calls the library, prints results and diagnostics,
//! and turns the outcome into an exit code. No logic of its own.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{CommandFactory, Parser, Subcommand};

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
}

const SERVE_EXIT_CODES: &str = "\
Exit codes:
  0  stopped with Ctrl-C
  1  cannot start: no kbpub.toml, the port is in use, or the folders cannot be watched
     (problems in documents and templates do not stop the server: they are shown in the browser)
  2  the command line was wrong, e.g. --bind beyond loopback without --allow-remote";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Build { format } => build(cli.root, cli.quiet, format),
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
