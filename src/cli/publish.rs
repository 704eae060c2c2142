//! `kbpub publish` and `kbpub data pull`: the commands that talk to other systems.

use std::path::PathBuf;

use super::output::Output;
use super::{Failure, Outcome, fail, load_config};
use crate::data::pull::{self, Progress};
use crate::diag::Format;
use crate::publish;

pub fn publish(
    root: Option<PathBuf>,
    options: publish::Options,
    format: Output,
    quiet: bool,
) -> Outcome {
    let diagnostics_format = format.diagnostics();
    let config = load_config(root, diagnostics_format)?;
    let outcome = publish::publish(&config, &options).map_err(|mut diagnostics| {
        diagnostics.retain(|d| !quiet || d.is_error());
        let failure = fail(&diagnostics, diagnostics_format);
        if format == Output::Human {
            eprintln!("nothing was published");
        }
        failure
    })?;
    if quiet && format == Output::Human {
        print_errors(&outcome);
    } else {
        let mut stdout = std::io::stdout().lock();
        let printed = match format {
            Output::Json => outcome.write_json(&mut stdout),
            _ => outcome.write_human(&mut stdout),
        };
        if let Err(e) = printed {
            eprintln!("error: cannot print the report: {e}");
            return Err(Failure::Failed);
        }
    }
    match (outcome.ok, outcome.pages_ok()) {
        (true, _) => Ok(()),
        (false, true) => Err(Failure::NotNotified),
        (false, false) => Err(Failure::Failed),
    }
}

/// `publish --quiet`: only what went wrong, on stderr — targets that stopped, title collisions,
/// and pages that failed, were skipped or drifted.
fn print_errors(outcome: &publish::Report) {
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
        let failed = n.deliveries.iter().filter_map(|d| d.error.as_ref());
        for why in n.error.iter().chain(failed) {
            eprintln!("error: notify {}: {why}", n.name);
        }
    }
}

pub fn data_pull(
    root: Option<PathBuf>,
    quiet: bool,
    sources: &[String],
    format: Output,
) -> Outcome {
    let config = load_config(root, Format::Human)?;
    let progress = Progress::new(quiet || format == Output::Json);
    let reports = pull::pull(&config, sources, &|source, event| {
        progress.event(source, event)
    });
    progress.finish();
    let reports = reports.map_err(|d| fail(&[d], Format::Human))?;
    if format == Output::Json {
        super::print_json(&pull::json_report(&reports));
    } else {
        for r in reports.iter().filter(|r| !quiet || !r.is_pulled()) {
            eprintln!("{}", r.summary());
        }
    }
    if pull::any_failed(&reports) {
        Err(Failure::Failed)
    } else {
        Ok(())
    }
}
