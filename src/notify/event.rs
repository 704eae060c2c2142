//! What a publish run changed, as destinations hear it: one [`Change`] per page a target
//! created, updated (or moved) or archived (or pruned), built from the run's report, the page's
//! receipt and its approval gate; the filters of a `[[notify]]` entry; and the webhook event, a
//! CloudEvents-shaped JSON body (reference §3.1) kept under 20 KB by splitting a long run into
//! several events.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::notify::{ChangeKind, NotifyConfig};
use crate::content::Site;
use crate::publish::gate::Gate;
use crate::publish::plan::Action;
use crate::publish::receipt::Receipt;
use crate::publish::report::{Outcome, TargetReport};

/// The event type of a webhook body: one publish run's changes.
pub const EVENT_TYPE: &str = "kb.publish.completed";

/// The largest webhook body kbpub sends (Standard Webhooks: keep payloads small, under 20 KB).
pub const MAX_PAYLOAD: usize = 20_000;

/// One page one target changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub target: String,
    pub change: ChangeKind,
    pub doc_id: String,
    pub title: String,
    pub doc_type: Option<String>,
    pub audience: String,
    /// `content/...` path of the source.
    pub source: String,
    /// Where readers find it: the community article, the Confluence page, else the site page.
    pub url: String,
    /// The page on the static site.
    pub site_url: String,
    pub remote_id: Option<String>,
    pub version: Option<u64>,
    /// Hash of what the target got (its receipt).
    pub content_hash: Option<String>,
    /// The document's content hash that approvals name.
    pub approved_hash: Option<String>,
    pub approval_state: Option<String>,
    pub approvals: Vec<String>,
}

impl Change {
    /// The hash that says "this content": the approved one, else what the target got.
    pub fn hash(&self) -> Option<&str> {
        self.approved_hash
            .as_deref()
            .or(self.content_hash.as_deref())
    }
}

/// The changes of a run, by target and doc id: pages done (planned, in a dry run) with a create,
/// update, move, archive or prune.
pub fn changes(reports: &[TargetReport], site: &Site, gates: &[Gate]) -> Vec<Change> {
    let base = site.config.site.base_url.trim_end_matches('/');
    let mut changes = Vec::new();
    for target in reports {
        // A dry run tells what it would have told: the pages it plans to write.
        let told = |o: Outcome| o == Outcome::Done || (target.dry_run && o == Outcome::Planned);
        for page in target.pages.iter().filter(|p| told(p.outcome)) {
            let change = match page.action {
                Action::Create => ChangeKind::Created,
                Action::Update | Action::Move => ChangeKind::Updated,
                Action::Archive | Action::Prune => ChangeKind::Archived,
                _ => continue,
            };
            let index = site.page_by_id(&page.doc_id);
            let doc = index.map(|i| &site.pages[i]);
            let gate = index.and_then(|i| gates.get(i));
            let receipt: Option<Receipt> = page
                .receipt
                .as_ref()
                .and_then(|path| serde_json::from_slice(&std::fs::read(path).ok()?).ok());
            let site_url = match doc {
                Some(d) => format!("{base}/{}", d.url),
                None => format!("{base}/"),
            };
            let url = match (target.target, &page.remote_id) {
                ("community", _) => site
                    .config
                    .community
                    .as_ref()
                    .map(|c| c.article_url(&page.doc_id)),
                ("amplience", _) => site.config.amplience.as_ref().map(|c| {
                    c.article_url(&crate::publish::amplience::mapping::delivery_key(
                        c,
                        &page.doc_id,
                    ))
                }),
                ("confluence", Some(id)) => Some(format!(
                    "{}/pages/viewpage.action?pageId={id}",
                    target.endpoint.trim_end_matches('/')
                )),
                _ => None,
            };
            changes.push(Change {
                target: target.target.to_string(),
                change,
                doc_id: page.doc_id.clone(),
                title: page.title.clone(),
                doc_type: doc.and_then(|d| d.doc_type()).map(|t| t.name().to_string()),
                audience: match doc.map(|d| d.meta.audience) {
                    Some(crate::content::Audience::Partner) => "partner".into(),
                    _ => "internal".into(),
                },
                source: page.source.clone(),
                url: url.unwrap_or_else(|| site_url.clone()),
                site_url,
                remote_id: page.remote_id.clone(),
                version: page.version,
                content_hash: receipt.map(|r| r.content_hash),
                approved_hash: gate.and_then(|g| g.approved_hash.clone()),
                approval_state: page.approval.clone(),
                approvals: gate.map(|g| g.approvals_used.clone()).unwrap_or_default(),
            });
        }
    }
    changes.sort_by(|a, b| (&a.target, &a.doc_id).cmp(&(&b.target, &b.doc_id)));
    changes
}

/// Whether `destination` hears of `change` (its targets, types, audience and change kinds).
pub fn wanted(destination: &NotifyConfig, change: &Change) -> bool {
    let listed = |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
    listed(&destination.targets, &change.target)
        && listed(
            &destination.types,
            change.doc_type.as_deref().unwrap_or_default(),
        )
        && destination
            .audience
            .as_deref()
            .is_none_or(|a| a == change.audience)
        && destination.changes().contains(&change.change)
}

/// One webhook event: its id, its exact body and which of the changes it carries.
pub struct Event {
    pub id: String,
    pub body: String,
    pub changes: std::ops::Range<usize>,
}

/// The webhook events for `changes`, in order, split so that every body stays under
/// [`MAX_PAYLOAD`]; `new_id` names each event.
pub fn webhook_events(
    changes: &[&Change],
    source: &str,
    time: &str,
    mut new_id: impl FnMut() -> String,
) -> Vec<Event> {
    let body = |id: &str, chunk: &[&Change]| {
        json!({
            "specversion": "1.0",
            "id": id,
            "source": source,
            "type": EVENT_TYPE,
            "time": time,
            "datacontenttype": "application/json",
            "data": {"changes": chunk},
        })
        .to_string()
    };
    let mut events = Vec::new();
    let mut start = 0;
    let mut event = |range: std::ops::Range<usize>| {
        let id = new_id();
        Event {
            body: body(&id, &changes[range.clone()]),
            id,
            changes: range,
        }
    };
    for end in 1..changes.len() {
        // An id is 30 characters; 64 leaves room for it.
        if body("", &changes[start..=end]).len() + 64 > MAX_PAYLOAD {
            events.push(event(start..end));
            start = end;
        }
    }
    if start < changes.len() {
        events.push(event(start..changes.len()));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(i: usize) -> Change {
        Change {
            target: "community".into(),
            change: ChangeKind::Updated,
            doc_id: format!("doc-{i}"),
            title: "A title that takes some room ".repeat(4),
            doc_type: Some("notice".into()),
            audience: "partner".into(),
            source: format!("content/notices/doc-{i}.md"),
            url: format!("https://community.example.com/kb/doc-{i}"),
            site_url: format!("https://kb.example.com/notices/doc-{i}.html"),
            remote_id: Some(format!("a{i}")),
            version: Some(2),
            content_hash: Some(format!("sha256:{}", "a".repeat(64))),
            approved_hash: Some(format!("sha256:{}", "b".repeat(64))),
            approval_state: Some("approved".into()),
            approvals: vec!["Ana Ops <ana@example.com> (ops, 2026-11-02T10:00:00Z)".into()],
        }
    }

    #[test]
    fn a_long_run_is_split_into_events_under_20_kb_and_nothing_is_lost() {
        let all: Vec<Change> = (0..60).map(change).collect();
        let refs: Vec<&Change> = all.iter().collect();
        let mut n = 0;
        let events = webhook_events(
            &refs,
            "https://kb.example.com",
            "2026-12-02T10:00:00Z",
            || {
                n += 1;
                format!("msg_{n}")
            },
        );
        assert!(events.len() > 1, "60 changes do not fit in one event");
        let mut seen = Vec::new();
        for event in &events {
            assert!(event.body.len() < MAX_PAYLOAD, "{} bytes", event.body.len());
            let json: serde_json::Value = serde_json::from_str(&event.body).unwrap();
            assert_eq!(json["id"], event.id.as_str());
            assert_eq!(
                json["data"]["changes"].as_array().unwrap().len(),
                event.changes.len()
            );
            assert_eq!(json["type"], EVENT_TYPE);
            for c in json["data"]["changes"].as_array().unwrap() {
                seen.push(c["doc_id"].as_str().unwrap().to_string());
            }
        }
        let expected: Vec<String> = all.iter().map(|c| c.doc_id.clone()).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn filters_by_target_type_audience_and_change() {
        let destination: NotifyConfig = toml::from_str(
            r#"name = "partners"
kind = "webhook"
url = "https://hooks.example.com/kb"
secret_env = "HOOK_SECRET"
targets = ["community"]
types = ["notice"]
audience = "partner"
changes = ["created", "updated"]"#,
        )
        .unwrap();
        let c = change(1);
        assert!(wanted(&destination, &c));
        for other in [
            Change {
                target: "confluence".into(),
                ..c.clone()
            },
            Change {
                doc_type: Some("sop".into()),
                ..c.clone()
            },
            Change {
                audience: "internal".into(),
                ..c.clone()
            },
            Change {
                change: ChangeKind::Archived,
                ..c.clone()
            },
        ] {
            assert!(!wanted(&destination, &other), "{other:?}");
        }
    }
}
