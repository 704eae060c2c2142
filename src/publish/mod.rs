//! Publish: plan -> execute -> receipt, for every configured target. Load the site and its data
//! snapshot exactly as `build` does, render,
//! ask approval gating which pages may go out (failing closed when gating is broken), then let
//! each target scan, plan and write. The pure planner (`plan`), receipts, retries, the HTTP edge
//! and the concurrent runner are shared; `confluence` is one target (issue 6 adds the community
//! as a second client of the same pieces).

pub mod confluence;
pub mod gate;
pub mod http;
pub mod plan;
pub mod receipt;
pub mod report;
pub mod retry;
pub mod run;

use crate::config::Config;
use crate::diag::Diagnostic;
use crate::render::Engine;
pub use report::Report;
pub use run::ProgressMode;

/// The publish targets `--target` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetName {
    /// Confluence Cloud or Data Center (`[confluence]` in kbpub.toml)
    Confluence,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Only this target; `None`: every configured one.
    pub target: Option<TargetName>,
    pub dry_run: bool,
    pub force: bool,
    pub prune: bool,
    /// Overrides the target's configured concurrency.
    pub concurrency: Option<usize>,
    pub progress: ProgressMode,
}

/// What every target of one run shares.
pub struct Context<'a> {
    pub engine: &'a Engine<'a>,
    pub gates: &'a [gate::Gate],
    pub options: &'a Options,
    /// The data snapshot's `as_of`, for receipts.
    pub data_as_of: Option<String>,
}

/// Publishes to the selected targets. `Err`: problems a writer must fix before anything can
/// be published (content, templates, config, approval policy or history); nothing was sent.
pub fn publish(config: &Config, options: &Options) -> Result<Report, Vec<Diagnostic>> {
    let confluence = match (options.target, &config.confluence) {
        (None | Some(TargetName::Confluence), Some(c)) => Some(c),
        (Some(TargetName::Confluence), None) => {
            return Err(vec![not_configured("confluence", "[confluence]")]);
        }
        (None, None) => None,
    };
    if confluence.is_none() {
        return Err(vec![
            Diagnostic::error("no-target", "no publish target is configured")
                .in_file(crate::config::CONFIG_FILE)
                .help("add a `[confluence]` section to kbpub.toml (see README, \"Publishing to Confluence\")"),
        ]);
    }
    let (site, diagnostics, data) = crate::site::load(config)?;
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    let data_as_of = data
        .as_of()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let engine = Engine::new(&site, data)?;
    let gates = gate::evaluate(&engine)?;
    let context = Context {
        engine: &engine,
        gates: &gates,
        options,
        data_as_of,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            vec![Diagnostic::error(
                "io",
                format!("cannot start the async runtime: {e}"),
            )]
        })?;
    let mut reports = Vec::new();
    if let Some(c) = confluence {
        reports.push(runtime.block_on(confluence::publish(&context, c))?);
    }
    Ok(Report::new(reports))
}

fn not_configured(target: &str, section: &str) -> Diagnostic {
    Diagnostic::error(
        "no-target",
        format!("`--target {target}` but kbpub.toml has no {section} section"),
    )
    .in_file(crate::config::CONFIG_FILE)
    .help(format!(
        "add {section} to kbpub.toml (see README), or leave out `--target`"
    ))
}
