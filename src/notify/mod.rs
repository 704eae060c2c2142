//! Notifications after a publish run (issue 14): every `[[notify]]` destination hears what the
//! run changed — per target, created, updated or archived, with doc ids, titles, URLs, content
//! hashes and approvals — as a Standard Webhooks signed event ([`webhook`]) or an X post per
//! document ([`x`]), filtered by target, type, audience and change kind ([`event`]). Nothing is
//! sent by `--dry-run`. Deliveries are kept until they arrive and then become receipts
//! ([`outbox`]), so a failed notification is reported (the run exits 3 when the pages
//! themselves are fine), is never lost, and goes out with the same id on the next run.

pub mod event;
pub mod outbox;
pub mod preflight;
pub mod webhook;
pub mod x;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Url};
use serde::Serialize;

use crate::config::Config;
use crate::config::notify::{Kind, NotifyConfig};
use crate::content::Site;
use crate::diag::Diagnostic;
use crate::net::retry::{self, Budget, RetryPolicy};
use crate::net::{Answer, Auth, Body, Client, Request, Settings};
use crate::publish::gate::Gate;
use crate::publish::report::TargetReport;
use event::Change;
use outbox::{Delivery, DocRef};

/// The longest one attempt may take (Standard Webhooks: 15 to 30 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most one destination waits in total between retries.
const RETRY_BUDGET: Duration = Duration::from_secs(300);

/// What happened to one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Dry run: would be sent.
    Planned,
    Sent,
    /// X already has this text (it answered 403 duplicate): the post exists, recorded as done.
    Duplicate,
    Failed,
    /// Not tried after an earlier delivery to the destination failed; kept for the next run.
    Held,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryReport {
    pub id: String,
    pub outcome: Outcome,
    pub docs: Vec<String>,
    /// Kept from an earlier run that could not deliver it.
    pub earlier: bool,
    /// The X post's id.
    pub remote_id: Option<String>,
    pub error: Option<String>,
    pub help: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DestinationReport {
    pub name: String,
    pub kind: Kind,
    pub endpoint: String,
    pub deliveries: Vec<DeliveryReport>,
    /// Documents X was not told of again: it already has a post for this content.
    pub already_posted: Vec<String>,
    /// Why the destination sent nothing (no secret, the outbox cannot be written).
    pub error: Option<String>,
}

impl DestinationReport {
    /// Everything it was asked to deliver arrived (or, in a dry run, could be planned).
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self
                .deliveries
                .iter()
                .all(|d| !matches!(d.outcome, Outcome::Failed | Outcome::Held))
    }
}

/// The publish targets `targets = [...]` may name.
fn target_names() -> Vec<String> {
    use clap::ValueEnum;
    crate::publish::TargetName::value_variants()
        .iter()
        .filter_map(|t| t.to_possible_value())
        .map(|v| v.get_name().to_string())
        .collect()
}

/// The `[[notify]]` entries' mistakes, before anything is published.
pub fn check(config: &Config) -> Result<(), Vec<Diagnostic>> {
    let targets = target_names();
    let mut diagnostics = Vec::new();
    for (i, destination) in config.notify.iter().enumerate() {
        let mut problems = destination.problems(&targets, &crate::content::DocType::names());
        if config.notify[..i]
            .iter()
            .any(|d| d.name == destination.name)
        {
            problems.push(format!("the name `{}` is used twice", destination.name));
        }
        diagnostics.extend(problems.into_iter().map(|p| {
            Diagnostic::error(
                "notify-config",
                format!("[[notify]] `{}`: {p}", destination.name),
            )
            .in_file(crate::config::CONFIG_FILE)
            .help("see README, \"Notifications\"")
        }));
    }
    match diagnostics.is_empty() {
        true => Ok(()),
        false => Err(diagnostics),
    }
}

/// What notifying needs of the publish run.
pub struct Run<'a> {
    pub site: &'a Site,
    pub gates: &'a [Gate],
    pub dry_run: bool,
}

/// Tells every `[[notify]]` destination what the run in `reports` changed.
pub async fn fire(run: &Run<'_>, reports: &[TargetReport]) -> Vec<DestinationReport> {
    let changes = event::changes(reports, run.site, run.gates);
    let mut out = Vec::new();
    for destination in &run.site.config.notify {
        out.push(notify(run, destination, &changes).await);
    }
    out
}

async fn notify(
    run: &Run<'_>,
    destination: &NotifyConfig,
    changes: &[Change],
) -> DestinationReport {
    let root = &run.site.config.root;
    let name = &destination.name;
    let mut report = DestinationReport {
        name: name.clone(),
        kind: destination.kind,
        endpoint: destination.endpoint(),
        deliveries: Vec::new(),
        already_posted: Vec::new(),
        error: None,
    };
    let waiting = outbox::pending(root, name);
    let earlier = waiting.len();
    let wanted: Vec<&Change> = changes
        .iter()
        .filter(|c| event::wanted(destination, c))
        .collect();
    let fresh = match destination.kind {
        Kind::Webhook => Ok(webhook_deliveries(run.site, &wanted)),
        Kind::X => x_deliveries(run, destination, &wanted, &waiting, &mut report),
    };
    let fresh = match fresh {
        Ok(fresh) => fresh,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    let all: Vec<Delivery> = waiting.into_iter().chain(fresh).collect();
    let line = |i: usize, d: &Delivery, outcome| DeliveryReport {
        id: d.id.clone(),
        outcome,
        docs: d.docs.iter().map(|r| r.doc_id.clone()).collect(),
        earlier: i < earlier,
        remote_id: None,
        error: None,
        help: None,
    };
    if run.dry_run {
        report.deliveries = (all.iter().enumerate())
            .map(|(i, d)| line(i, d, Outcome::Planned))
            .collect();
        return report;
    }
    for d in &all[earlier..] {
        if let Err(e) = outbox::keep(root, name, d) {
            report.error = Some(format!(
                "cannot keep the delivery under .kb/receipts/notify/{name}/pending: {e}; nothing was sent"
            ));
            return report;
        }
    }
    let sender = match Sender::connect(destination) {
        Ok(sender) => sender,
        Err(e) => {
            report.error = Some(format!("{e}; kept for the next run"));
            report.deliveries = (all.iter().enumerate())
                .map(|(i, d)| line(i, d, Outcome::Held))
                .collect();
            return report;
        }
    };
    let mut stopped = false;
    for (i, d) in all.iter().enumerate() {
        let mut entry = line(i, d, Outcome::Held);
        if stopped {
            entry.error =
                Some("not sent after an earlier delivery failed; kept for the next run".into());
        } else {
            match sender.send(d).await {
                Ok((outcome, remote_id)) => match outbox::delivered(root, name, d, &remote_id) {
                    Ok(()) => {
                        entry.outcome = outcome;
                        entry.remote_id = Some(remote_id).filter(|_| d.kind == Kind::X);
                    }
                    Err(e) => {
                        entry.outcome = Outcome::Failed;
                        entry.error = Some(format!(
                            "delivered, but its receipt could not be written: {e}"
                        ));
                        stopped = true;
                    }
                },
                Err((error, help)) => {
                    entry.outcome = Outcome::Failed;
                    entry.error = Some(format!("{error}; kept for the next run"));
                    entry.help = help;
                    stopped = true;
                }
            }
        }
        report.deliveries.push(entry);
    }
    report
}

/// The webhook events for the wanted changes (none when nothing changed).
fn webhook_deliveries(site: &Site, wanted: &[&Change]) -> Vec<Delivery> {
    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let source = site.config.site.base_url.clone();
    event::webhook_events(wanted, &source, &created_at, webhook::new_id)
        .into_iter()
        .enumerate()
        .map(|(seq, e)| Delivery {
            id: e.id,
            kind: Kind::Webhook,
            body: e.body,
            docs: wanted[e.changes].iter().map(|c| doc_ref(c)).collect(),
            created_at: created_at.clone(),
            seq: seq as u32,
        })
        .collect()
}

/// One X post per changed document whose content X has not been told of.
fn x_deliveries(
    run: &Run<'_>,
    destination: &NotifyConfig,
    wanted: &[&Change],
    waiting: &[Delivery],
    report: &mut DestinationReport,
) -> Result<Vec<Delivery>, String> {
    let root = &run.site.config.root;
    let now = chrono::Utc::now();
    let created_at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let date = now.format("%Y-%m-%d").to_string();
    let mut fresh: Vec<Delivery> = Vec::new();
    for change in wanted {
        let seen = fresh.iter().any(|d| d.docs[0].doc_id == change.doc_id);
        let hash = change.hash().unwrap_or_default();
        if seen || outbox::told(root, &destination.name, waiting, &change.doc_id, hash) {
            if !seen {
                report.already_posted.push(change.doc_id.clone());
            }
            continue;
        }
        let text = x::text(destination.template.as_deref(), change, &date)?;
        fresh.push(Delivery {
            id: webhook::new_id().replacen("msg_", "post_", 1),
            kind: Kind::X,
            body: serde_json::json!({ "text": text }).to_string(),
            docs: vec![doc_ref(change)],
            created_at: created_at.clone(),
            seq: fresh.len() as u32,
        });
    }
    Ok(fresh)
}

fn doc_ref(change: &Change) -> DocRef {
    DocRef {
        doc_id: change.doc_id.clone(),
        source: change.source.clone(),
        hash: change.hash().map(str::to_string),
        approval_state: change.approval_state.clone(),
        approvals: change.approvals.clone(),
    }
}

/// A destination's HTTP client (through `net`: retries with backoff, the rate-limit gate, the
/// credential redacted) and its signing key.
struct Sender {
    client: Client,
    url: Url,
    shown: String,
    kind: Kind,
    key: Vec<u8>,
}

impl Sender {
    fn connect(destination: &NotifyConfig) -> Result<Sender, String> {
        let env = destination.credential_env();
        let credential = match std::env::var(env) {
            Ok(value) if !value.trim().is_empty() => value.trim().to_string(),
            _ => {
                return Err(format!(
                    "the {} is not set: export {env} (named in [[notify]] `{}`)",
                    match destination.kind {
                        Kind::Webhook => "webhook secret",
                        Kind::X => "X token",
                    },
                    destination.name
                ));
            }
        };
        let (auth, key) = match destination.kind {
            Kind::Webhook => (Auth::None, webhook::key(&credential, env)?),
            Kind::X => (Auth::Bearer(credential), Vec::new()),
        };
        let shown = destination.endpoint();
        let url = Url::parse(&shown).map_err(|e| format!("`{shown}` is not a URL: {e}"))?;
        let settings = Settings {
            connect_timeout: Duration::from_secs(10),
            request_timeout: REQUEST_TIMEOUT,
            policy: RetryPolicy::default(),
            budget: Arc::new(Budget::new(RETRY_BUDGET)),
        };
        Ok(Sender {
            client: Client::new(&auth, settings)?,
            url,
            shown,
            kind: destination.kind,
            key,
        })
    }

    /// Sends `delivery` (retried per policy); the outcome and the id to record, or why not
    /// and what to do.
    async fn send(
        &self,
        delivery: &Delivery,
    ) -> Result<(Outcome, String), (String, Option<String>)> {
        let headers = match self.kind {
            Kind::Webhook => webhook::signer(self.key.clone(), delivery.id.clone()),
            Kind::X => Arc::new(|_: &[u8]| Vec::new()),
        };
        let request = Request {
            method: Method::POST,
            url: self.url.clone(),
            shown: self.shown.clone(),
            body: Body::Signed {
                bytes: Arc::new(delivery.body.clone().into_bytes()),
                headers,
            },
            // A webhook receiver deduplicates by `webhook-id`; X has no idempotency key.
            safe: self.kind == Kind::Webhook,
            headers: &[],
        };
        let accept = |answer: Answer| match self.kind {
            Kind::Webhook => Ok(delivery.id.clone()),
            Kind::X => self.posted(answer),
        };
        match self.client.send(&request, accept, &|_| {}).await {
            Ok(id) => Ok((Outcome::Sent, id)),
            Err(e) if self.kind == Kind::X && x::is_duplicate(e.status, &e.message) => {
                Ok((Outcome::Duplicate, "duplicate".into()))
            }
            Err(e) => {
                let help = match (self.kind, e.status) {
                    (Kind::X, Some(403)) => x::forbidden_help(&e.message).map(str::to_string),
                    (Kind::X, Some(429)) => Some("X's rate limit: the post goes out with the next run after the reset (`x-rate-limit-reset`)".into()),
                    (Kind::Webhook, Some(410)) => Some("the receiver says the endpoint is gone (410): fix or remove this [[notify]] entry".into()),
                    _ => None,
                };
                Err((e.to_string(), help))
            }
        }
    }

    /// X's `201 {"data":{"id"}}`; when it says no posts are left in the window
    /// (`x-rate-limit-remaining: 0`), no request goes to X before `x-rate-limit-reset`.
    fn posted(&self, answer: Answer) -> Result<String, String> {
        let remaining = answer
            .headers
            .get("x-rate-limit-remaining")
            .and_then(|v| v.to_str().ok());
        if remaining.is_some_and(|r| r.trim() == "0")
            && let Some(wait) = retry::rate_limit_reset(&answer.headers)
        {
            crate::net::gate::for_url(&self.url).close_for(wait);
        }
        let json: serde_json::Value = serde_json::from_str(&answer.text)
            .map_err(|e| format!("a body that is not JSON ({e})"))?;
        json.pointer("/data/id")
            .and_then(|id| id.as_str())
            .map(str::to_string)
            .ok_or_else(|| "an answer without data.id".into())
    }
}

/// The notifications part of the human report.
pub fn write_human(reports: &[DestinationReport], out: &mut dyn Write) -> std::io::Result<()> {
    for r in reports {
        let kind = match r.kind {
            Kind::Webhook => "webhook",
            Kind::X => "X",
        };
        writeln!(out, "notify {} ({kind} {})", r.name, r.endpoint)?;
        for d in &r.deliveries {
            let word = match d.outcome {
                Outcome::Planned => "planned",
                Outcome::Sent => "sent",
                Outcome::Duplicate => "posted",
                Outcome::Failed => "FAILED",
                Outcome::Held => "held",
            };
            let earlier = if d.earlier {
                " (from an earlier run)"
            } else {
                ""
            };
            write!(out, "  {word:<9}  {}{earlier}: {}", d.id, d.docs.join(", "))?;
            if let Some(id) = &d.remote_id {
                write!(out, " [post {id}]")?;
            }
            if let Some(error) = &d.error {
                write!(out, " — {error}")?;
            }
            writeln!(out)?;
            if let Some(help) = &d.help {
                writeln!(out, "             to fix: {help}")?;
            }
        }
        if !r.already_posted.is_empty() {
            writeln!(
                out,
                "  already posted (same content): {}",
                r.already_posted.join(", ")
            )?;
        }
        if let Some(error) = &r.error {
            writeln!(out, "  error: {error}")?;
        }
        if r.deliveries.is_empty() && r.error.is_none() {
            writeln!(out, "  nothing to tell")?;
        }
    }
    Ok(())
}
