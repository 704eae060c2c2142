//! Publish: plan -> execute -> receipt, for every configured target. Load the site and its data
//! snapshot exactly as `build` does, render, ask approval gating which pages may go out (failing
//! closed when gating is broken), then run each target through the one flow (`target`): survey,
//! plan (`plan`, pure), execute (`run`), receipts, report. A target (`confluence`, `community`,
//! `salesforce`, `amplience`) is a client and a mapping behind `target::Target`; `target`'s module comment says how to add
//! one.

pub mod amplience;
pub mod community;
pub mod confluence;
pub mod failure;
pub mod gate;
pub mod http;
pub mod journal;
pub mod plan;
pub mod receipt;
pub mod receipt_log;
pub mod report;
pub use crate::net::retry;
pub mod run;
pub mod salesforce;
pub mod target;

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
    /// The partner community (`[community]` in kbpub.toml)
    Community,
    /// Salesforce Knowledge (`[salesforce]` in kbpub.toml)
    Salesforce,
    /// Amplience Dynamic Content (`[amplience]` in kbpub.toml)
    Amplience,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Only this target; `None`: every configured one.
    pub target: Option<TargetName>,
    pub dry_run: bool,
    pub force: bool,
    /// Take over pages kbpub does not manage that hold a wanted title.
    pub adopt: bool,
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

/// Why a target's run stopped before writing its pages.
pub enum Stopped {
    /// Content problems a writer must fix; nothing was sent.
    Content(Vec<Diagnostic>),
    /// The target cannot be published to now (unreachable, a scan failed, titles collide).
    Target(String),
}

impl From<String> for Stopped {
    fn from(why: String) -> Stopped {
        Stopped::Target(why)
    }
}

impl From<Vec<Diagnostic>> for Stopped {
    fn from(diagnostics: Vec<Diagnostic>) -> Stopped {
        Stopped::Content(diagnostics)
    }
}

/// A secret from the environment variable `name` (named in kbpub.toml by `key`); the error says
/// which variable to set, never a value.
fn secret(name: &str, what: &str, key: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_string()),
        _ => Err(format!(
            "the {what} is not set: export {name} (named by `{key}` in kbpub.toml)"
        )),
    }
}

/// Stops a target whose section `Config` refused (`config.refused`), naming the value's place in
/// kbpub.toml (or the environment variable that set it).
fn refused(refusal: &Option<Diagnostic>) -> Result<(), String> {
    match refusal {
        Some(d) if d.file.is_some() => Err(format!("{}: {}", d.position(), d.message)),
        Some(d) => Err(d.message.clone()),
        None => Ok(()),
    }
}

/// Publishes to the selected targets. `Err`: problems a writer must fix before anything can
/// be published (content, templates, config, approval policy or history); nothing was sent.
pub fn publish(config: &Config, options: &Options) -> Result<Report, Vec<Diagnostic>> {
    let confluence = selected(options, TargetName::Confluence, config.confluence.as_ref())?;
    let community = selected(options, TargetName::Community, config.community.as_ref())?;
    let salesforce = selected(options, TargetName::Salesforce, config.salesforce.as_ref())?;
    let amplience = selected(options, TargetName::Amplience, config.amplience.as_ref())?;
    if confluence.is_none() && community.is_none() && salesforce.is_none() && amplience.is_none() {
        return Err(vec![
            Diagnostic::error("no-target", "no publish target is configured")
                .in_file(crate::config::CONFIG_FILE)
                .help("add a `[confluence]`, `[community]`, `[salesforce]` or `[amplience]` section to kbpub.toml (see README, \"Publishing\")"),
        ]);
    }
    crate::notify::check(config)?;
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
        let mut target = confluence::Confluence::new(c);
        reports.push(runtime.block_on(target::publish(&context, &mut target))?);
    }
    if let Some(c) = community {
        let mut target = community::Community::new(c);
        reports.push(runtime.block_on(target::publish(&context, &mut target))?);
    }
    if let Some(c) = salesforce {
        let mut target = salesforce::Salesforce::new(c);
        reports.push(runtime.block_on(target::publish(&context, &mut target))?);
    }
    if let Some(c) = amplience {
        let mut target = amplience::Amplience::new(c);
        reports.push(runtime.block_on(target::publish(&context, &mut target))?);
    }
    let notify = crate::notify::Run {
        site: &site,
        gates: &gates,
        dry_run: options.dry_run,
    };
    let notified = runtime.block_on(crate::notify::fire(&notify, &reports));
    Ok(Report::new(reports, notified))
}

/// The target's configuration when the run publishes to it: named by `--target`, or configured
/// when no target is named. `--target` naming an unconfigured target is an error.
fn selected<'c, T>(
    options: &Options,
    name: TargetName,
    config: Option<&'c T>,
) -> Result<Option<&'c T>, Vec<Diagnostic>> {
    let (target, section) = match name {
        TargetName::Confluence => ("confluence", "[confluence]"),
        TargetName::Community => ("community", "[community]"),
        TargetName::Salesforce => ("salesforce", "[salesforce]"),
        TargetName::Amplience => ("amplience", "[amplience]"),
    };
    match (options.target, config) {
        (Some(asked), _) if asked != name => Ok(None),
        (Some(_), None) => Err(vec![
            Diagnostic::error(
                "no-target",
                format!("`--target {target}` but kbpub.toml has no {section} section"),
            )
            .in_file(crate::config::CONFIG_FILE)
            .help(format!(
                "add {section} to kbpub.toml (see README), or leave out `--target`"
            )),
        ]),
        (_, config) => Ok(config),
    }
}
