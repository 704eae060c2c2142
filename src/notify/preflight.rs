//! What `kbpub check` finds in the `[[notify]]` entries offline, before a publish run meets it:
//! the entries' own mistakes (as `publish` refuses them: names, URLs, filters naming unknown
//! targets, types or audiences, templates that do not parse), credentials — the environment
//! variable an entry names is not set here (a warning: CI may set it only where it publishes),
//! or does not hold a Standard Webhooks secret (an error) — and X templates: for every current
//! document an X entry would post about, the text must fit X's weighted 280 (an error when it
//! cannot even without the title; a warning when the title would be cut).

use super::event::{self, Change};
use super::{webhook, x};
use crate::config::notify::{Kind, NotifyConfig};
use crate::config::{CONFIG_FILE, Config};
use crate::content::{Audience, Site, Status};
use crate::diag::Diagnostic;

/// The date an X text is tried with (any date has this length).
const SAMPLE_DATE: &str = "2026-12-31";

/// Every problem of the `[[notify]]` entries of `site`, reading the environment through `env`.
pub fn check(site: &Site, env: &dyn Fn(&str) -> Option<String>) -> Vec<Diagnostic> {
    let config: &Config = &site.config;
    let mut diagnostics = super::check(config).err().unwrap_or_default();
    for destination in &config.notify {
        diagnostics.extend(credentials(destination, env));
        if destination.kind == Kind::X {
            diagnostics.extend(x_texts(site, destination));
        }
    }
    diagnostics
}

fn credentials(
    destination: &NotifyConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Diagnostic> {
    let (name, var) = (&destination.name, destination.credential_env());
    if var.is_empty() {
        return None; // the entry's own problem, reported by `super::check`
    }
    let key = match destination.kind {
        Kind::Webhook => "secret_env",
        Kind::X => "token_env",
    };
    match env(var).filter(|v| !v.trim().is_empty()) {
        None => Some(
            Diagnostic::warning(
                "notify-env",
                format!("[[notify]] `{name}`: the environment variable `{var}` (named by `{key}`) is not set here, so a publish run from here would not notify `{name}`"),
            )
            .in_file(CONFIG_FILE)
            .help(format!("set `{var}` where kbpub publishes (a CI secret)")),
        ),
        Some(secret) if destination.kind == Kind::Webhook => {
            webhook::key(secret.trim(), var).err().map(|why| {
                Diagnostic::error("notify-secret", format!("[[notify]] `{name}`: {why}"))
                    .in_file(CONFIG_FILE)
                    .help("copy the endpoint's signing secret as it is shown (`whsec_...`)")
            })
        }
        Some(_) => None,
    }
}

/// The X post of every current document `destination` would post about, tried with its title.
fn x_texts(site: &Site, destination: &NotifyConfig) -> Vec<Diagnostic> {
    let base = site.config.site.base_url.trim_end_matches('/');
    let Some(&change_kind) = destination.changes().first() else {
        return Vec::new();
    };
    let mut diagnostics = Vec::new();
    for index in site.documents() {
        let p = &site.pages[index];
        if p.meta.status != Status::Current {
            continue;
        }
        let change = Change {
            target: destination.targets.first().cloned().unwrap_or_default(),
            change: change_kind,
            doc_id: p.id.clone(),
            title: p.meta.title.clone(),
            doc_type: p.doc_type().map(|t| t.name().to_string()),
            audience: match p.meta.audience {
                Audience::Partner => "partner".into(),
                Audience::Internal => "internal".into(),
            },
            source: p.file.clone(),
            url: format!("{base}/{}", p.url),
            site_url: format!("{base}/{}", p.url),
            remote_id: None,
            version: None,
            content_hash: None,
            approved_hash: None,
            approval_state: None,
            approvals: Vec::new(),
        };
        if !event::wanted(destination, &change) {
            continue;
        }
        let name = &destination.name;
        match x::text(destination.template.as_deref(), &change, SAMPLE_DATE) {
            Err(why) => diagnostics.push(
                Diagnostic::error("notify-x-text", format!("[[notify]] `{name}`: {why}"))
                    .in_file(CONFIG_FILE)
                    .help("shorten `template`: X counts every URL as 23 and most other characters as 1 or 2, at most 280"),
            ),
            Ok(text) if !text.contains(&p.meta.title) => diagnostics.push(
                Diagnostic::warning(
                    "notify-x-text",
                    format!("[[notify]] `{name}`: the X post for `{}` would cut its title to fit X's 280: {text}", p.id),
                )
                .in_file(p.file.clone())
                .help("shorten the document's `title`, or the X `template`"),
            ),
            Ok(_) => {}
        }
    }
    diagnostics
}
