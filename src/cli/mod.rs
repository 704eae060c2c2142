//! The `kbpub` command line: `args` defines the commands (clap), `output` the one `--format`
//! type, and each command is a short function (`site`, `publish`, `approval`) that calls the
//! library and prints what it returns. Every command ends in an [`Outcome`], which [`main`] maps
//! to the exit code in one place.

mod approval;
mod args;
mod output;
mod publish;
mod site;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::approval::approve::Request;
use crate::approval::record::Decision;
use crate::config::Config;
use crate::diag::{self, Diagnostic, Format};
use args::{Cli, Command, DataCommand};

/// Why a command did not do everything it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Problems in the input, or the work failed (exit code 1).
    Failed,
    /// The invocation was wrong: an option, or an environment variable such as `KBPUB_NOW`
    /// (exit code 2, as for a command line clap refuses).
    Usage,
    /// `publish`: every page is fine, but a `[[notify]]` destination was not told (exit code 3).
    NotNotified,
}

/// What a command ends in.
pub type Outcome = Result<(), Failure>;

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = cli.root;
    let quiet = cli.quiet;
    let outcome = match cli.command {
        Command::Build { format, audience } => site::build(root, quiet, format, audience),
        Command::Check {
            external,
            format,
            deny,
            verbose,
        } => site::check(root, quiet, external, format, deny, verbose),
        Command::Init {
            amplience_schema: true,
            ..
        } => {
            print!("{}", crate::publish::amplience::mapping::SCHEMA);
            Ok(())
        }
        Command::Init {
            dir,
            title,
            templates,
            ci,
            ..
        } => site::init(dir.or(root), quiet, title, templates, ci),
        Command::Serve {
            port,
            bind,
            allow_remote,
            open,
        } => site::serve(
            root,
            crate::serve::Options {
                bind,
                port,
                allow_remote,
                open,
                quiet,
            },
        ),
        Command::Publish {
            target,
            dry_run,
            force,
            adopt,
            prune,
            concurrency,
            format,
        } => {
            let options = crate::publish::Options {
                target,
                dry_run,
                force,
                adopt,
                prune,
                concurrency: concurrency.map(usize::from),
                progress: crate::publish::ProgressMode::detect(
                    quiet || format == output::Output::Json,
                ),
            };
            publish::publish(root, options, format, quiet)
        }
        Command::Data(DataCommand::Pull { sources, format }) => {
            publish::data_pull(root, quiet, &sources, format)
        }
        Command::Sim(options) => crate::sim::run(options).map_err(|e| {
            eprintln!("error: {e}");
            Failure::Failed
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
            let request = |now| Request {
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
            approval::approve(root, quiet, format, request)
        }
        Command::Status { format } => approval::status(root, format),
        Command::Audit {
            docs,
            since,
            format,
        } => approval::audit(root, &docs, since, format),
        Command::Due { within, format } => approval::due(root, within, format),
    };
    exit_code(outcome)
}

/// The one place an outcome becomes an exit code.
fn exit_code(outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Failed) => ExitCode::from(1),
        Err(Failure::Usage) => ExitCode::from(2),
        Err(Failure::NotNotified) => ExitCode::from(3),
    }
}

/// Loads `kbpub.toml` from `--root`, or found from the current folder upwards; a failure is
/// printed in `format` and fails the command.
fn load_config(root: Option<PathBuf>, format: Format) -> Result<Config, Failure> {
    let loaded = match root {
        Some(root) => Config::load(&root),
        None => Config::discover(&std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))),
    };
    loaded.map_err(|d| fail(&[d], format))
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

/// Reports `diagnostics` that stop a command: [`Failure::Failed`].
fn fail(diagnostics: &[Diagnostic], format: Format) -> Failure {
    report(diagnostics, format);
    Failure::Failed
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}
