//! `[[notify]]` in `kbpub.toml`: where a publish run reports what it changed — a signed webhook
//! (Standard Webhooks) or a post on X — with the secret or token by environment-variable name,
//! and the filters that pick which changes each destination hears of (target, document type,
//! audience, change kind).

use serde::{Deserialize, Serialize};

/// Where X API v2 lives when `url` is not given.
pub const X_API: &str = "https://api.x.com";

/// The default text of an X post: the title, what changed and when, and the public URL (the
/// same notice on the same day is the same text, which X refuses as a duplicate).
pub const X_TEMPLATE: &str = "{{ title }} ({{ change }} {{ date }}): {{ url }}";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Webhook,
    X,
}

/// What a publish run did to a page, as destinations hear it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Created,
    Updated,
    Archived,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Names the destination in reports and receipts (`.kb/receipts/notify/<name>/`).
    pub name: String,
    pub kind: Kind,
    /// The webhook endpoint; for X the API base (default `https://api.x.com`).
    pub url: Option<String>,
    /// Webhook: env var holding the `whsec_<base64>` signing secret.
    pub secret_env: Option<String>,
    /// X: env var holding an OAuth 2.0 user-context access token.
    pub token_env: Option<String>,
    /// Only changes on these publish targets (empty: every target).
    #[serde(default)]
    pub targets: Vec<String>,
    /// Only documents of these types (empty: every type).
    #[serde(default)]
    pub types: Vec<String>,
    /// Only documents for this audience (`internal` or `partner`).
    pub audience: Option<String>,
    /// Only these kinds of change (empty: created, updated and archived; X: created and updated).
    #[serde(default)]
    pub changes: Vec<ChangeKind>,
    /// X: the post's text, a Tera template over `title`, `url`, `doc_id`, `doc_type`, `change`.
    pub template: Option<String>,
}

impl NotifyConfig {
    /// The `[[notify]]` entry's mistakes, each naming the key and what to write.
    pub fn problems(&self, targets: &[String], doc_types: &[&str]) -> Vec<String> {
        let mut problems = Vec::new();
        let name = &self.name;
        let name_ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            problems.push(format!(
                "`name = \"{name}\"`: use letters, digits, `-` and `_` (it names a folder under .kb/receipts/notify/)"
            ));
        }
        let url_ok = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        match (self.kind, self.url.as_deref()) {
            (Kind::Webhook, None) => problems.push("a webhook needs `url`".into()),
            (_, Some(url)) if !url_ok(url) => {
                problems.push(format!("`url = \"{url}\"` must be an http(s) URL"))
            }
            (_, Some(url)) if url.contains('@') => problems.push(
                "`url` must not hold credentials; name the env var in `secret_env` or `token_env`"
                    .into(),
            ),
            _ => {}
        }
        match self.kind {
            Kind::Webhook if self.secret_env.is_none() => problems.push(
                "a webhook needs `secret_env`, the env var holding its `whsec_...` secret".into(),
            ),
            Kind::X if self.token_env.is_none() => problems.push(
                "X needs `token_env`, the env var holding an OAuth 2.0 user-context token".into(),
            ),
            Kind::Webhook if self.template.is_some() => {
                problems.push("`template` is for X posts; a webhook sends the event as JSON".into())
            }
            _ => {}
        }
        for t in &self.targets {
            if !targets.contains(t) {
                problems.push(format!(
                    "`targets`: unknown target `{t}` (one of {})",
                    targets.join(", ")
                ));
            }
        }
        if let Some(a) = self.audience.as_deref()
            && !matches!(a, "internal" | "partner")
        {
            problems.push(format!(
                "`audience = \"{a}\"`: use \"internal\" or \"partner\""
            ));
        }
        for t in &self.types {
            if !doc_types.contains(&t.as_str()) {
                problems.push(format!(
                    "`types`: unknown document type `{t}` (one of {})",
                    doc_types.join(", ")
                ));
            }
        }
        if let Some(template) = &self.template
            && let Err(e) = tera::Tera::default().add_raw_template("x", template)
        {
            problems.push(format!("`template` is not a valid template: {e}"));
        }
        problems
    }

    /// The kinds of change this destination hears of.
    pub fn changes(&self) -> Vec<ChangeKind> {
        match (self.changes.is_empty(), self.kind) {
            (false, _) => self.changes.clone(),
            (true, Kind::Webhook) => vec![
                ChangeKind::Created,
                ChangeKind::Updated,
                ChangeKind::Archived,
            ],
            (true, Kind::X) => vec![ChangeKind::Created, ChangeKind::Updated],
        }
    }

    /// Where requests go: the webhook URL, or X's `POST /2/tweets`.
    pub fn endpoint(&self) -> String {
        match self.kind {
            Kind::Webhook => self.url.clone().unwrap_or_default(),
            Kind::X => format!(
                "{}/2/tweets",
                self.url.as_deref().unwrap_or(X_API).trim_end_matches('/')
            ),
        }
    }

    /// The env var holding the credential.
    pub fn credential_env(&self) -> &str {
        match self.kind {
            Kind::Webhook => self.secret_env.as_deref().unwrap_or_default(),
            Kind::X => self.token_env.as_deref().unwrap_or_default(),
        }
    }
}
