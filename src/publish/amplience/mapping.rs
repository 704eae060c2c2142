//! Which documents become Amplience content items and what each should be: the partner
//! documents `[amplience.select]` picks (current ones published, obsolete ones archived), each
//! with its delivery key (the prefix and the doc id, validated before anything is written), and
//! an item body of kbpub's content type (the schema kbpub ships, [`SCHEMA`]): title, summary,
//! the partner rendering (leak checked; images embedded) as the body, type and tags, and the
//! `kbpub` record of doc id and content hash. The content hash is the [`fingerprint`] of what
//! kbpub writes, so an item a CMS user edited no longer matches the hash it carries (drift).
//! Every body must fit the 200 KB limit (reference §2.4). The same checks serve `kbpub check`
//! (`preflight`). Pure: reads the site and content assets, never the network.

use std::collections::HashMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::amplience::{AmplienceConfig, MAX_DELIVERY_KEY, is_delivery_key};
use crate::content::{Audience, Page, Site, Status, url};
use crate::diag::Diagnostic;
use crate::publish::gate::Gate;
use crate::render::Engine;
use crate::render::leak;
use crate::render::partner::{self, Links, is_partner_document};

/// The content type schema kbpub ships; `kbpub init --amplience-schema` prints it.
pub const SCHEMA: &str = include_str!("kb-onboarding-article.json");
/// The content item body limit (reference §2.4: 200 KB).
pub const MAX_BODY: usize = 200 * 1024;
/// A title holds at most this many characters (the schema's `maxLength`).
pub const MAX_TITLE: usize = 150;
/// A summary holds at most this many characters (longer descriptions are cut).
pub const MAX_SUMMARY: usize = 300;

/// An item as kbpub wants it.
#[derive(Debug, Clone)]
pub struct Desired {
    pub page: usize,
    pub doc_id: String,
    pub key: String,
    pub title: String,
    /// The item body, `_meta` and the `kbpub` record included; for retired and gated documents
    /// nothing of theirs is sent, and the body is empty.
    pub body: Value,
    pub hash: String,
    /// `status = "obsolete"`: archive the item.
    pub retire: bool,
}

/// The selected documents of the site, current and obsolete, in nav order.
pub fn documents(site: &Site, config: &AmplienceConfig) -> Vec<usize> {
    site.documents()
        .filter(|&d| {
            let p = &site.pages[d];
            p.meta.audience == Audience::Partner
                && config.selects(
                    url::parent_dir(&p.rel_path),
                    p.doc_type().map(|t| t.name()),
                    &p.meta.tags,
                )
        })
        .collect()
}

/// The delivery key of document `id`: the prefix, then the id with every character outside
/// letters, digits, `-` and `_` as `-`.
pub fn delivery_key(config: &AmplienceConfig, id: &str) -> String {
    let slug: String = id
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                true => c,
                false => '-',
            },
        )
        .collect();
    match config.delivery_key_prefix.as_str() {
        "" => slug,
        prefix => format!("{prefix}/{slug}"),
    }
}

/// Problems with the keys and titles of the selected documents: an invalid delivery key, two
/// documents with one key, a title over the schema's limit. Nothing is written while any is
/// found (publish and `kbpub check` both ask).
pub fn key_problems(site: &Site, config: &AmplienceConfig) -> Vec<Diagnostic> {
    let mut holders: HashMap<String, &Page> = HashMap::new();
    let mut problems = Vec::new();
    for page in documents(site, config) {
        let p = &site.pages[page];
        let key = delivery_key(config, &p.id);
        let invalid = (!is_delivery_key(&key)).then(|| {
            (
                "amplience-delivery-key",
                format!("document `{}` would get the invalid Amplience delivery key `{key}` (1 to {MAX_DELIVERY_KEY} of letters, digits, `-`, `_` and `/`)", p.id),
                "give the document a shorter `id` in its front matter, or a shorter `amplience.delivery_key_prefix`",
            )
        });
        let shared = holders.get(&key).map(|first| {
            (
                "amplience-delivery-key",
                format!("documents `{}` ({}) and `{}` would share the Amplience delivery key `{key}`; keys are unique on a hub", first.id, first.file, p.id),
                "give one of them another `id` in its front matter",
            )
        });
        let long_title = (p.meta.title.chars().count() > MAX_TITLE).then(|| {
            (
                "amplience-title",
                format!(
                    "the title of `{}` is over the content type's {MAX_TITLE} characters",
                    p.id
                ),
                "shorten `title` in the front matter",
            )
        });
        holders.entry(key).or_insert(p);
        let found = [invalid, shared, long_title].into_iter().flatten();
        problems.extend(found.map(|(code, message, help)| {
            Diagnostic::error(code, message)
                .in_file(p.file.clone())
                .help(help)
        }));
    }
    problems
}

/// An error when an item body of `size` bytes is over the 200 KB limit.
fn too_large(p: &Page, size: usize) -> Option<Diagnostic> {
    (size > MAX_BODY).then(|| {
        Diagnostic::error(
            "too-large",
            format!(
                "the Amplience item of `{}` would be {size} bytes, over the 200 KB limit of a content item (embedded images count)",
                p.id
            ),
        )
        .in_file(p.file.clone())
        .help("use fewer or smaller images, or split the document")
    })
}

/// The size of the largest request that carries `body` (a create, with label and locale).
fn request_size(title: &str, body: &Value, config: &AmplienceConfig) -> usize {
    let request =
        json!({"label": title, "locale": config.locale, "body": body, "version": u64::MAX});
    serde_json::to_vec(&request).map_or(usize::MAX, |bytes| bytes.len())
}

/// What publishing to Amplience would refuse, found offline for `kbpub check`: an `[amplience]`
/// section that cannot work, delivery keys that are invalid or shared, titles over the limit,
/// and bodies over 200 KB. Every current selected document is checked as if it were approved;
/// render problems are `check`'s own.
pub fn preflight(engine: &Engine, config: &AmplienceConfig) -> Vec<Diagnostic> {
    let site = engine.site;
    let settings = site.config.refused.amplience.clone();
    let current: Vec<usize> = documents(site, config)
        .into_iter()
        .filter(|&d| is_partner_document(site, d))
        .collect();
    let article_url = |page: usize| config.article_url(&delivery_key(config, &site.pages[page].id));
    let oversized = partner::each_article(
        site,
        &current,
        &article_url,
        &|page| current.contains(&page),
        |links, page| {
            let p = &site.pages[page];
            Ok(partner::body(engine, page, links)
                .ok()
                .and_then(|rendered| {
                    let body = item_body(config, p, &rendered.html);
                    too_large(p, request_size(&p.meta.title, &body, config))
                }))
        },
    );
    settings
        .into_iter()
        .chain(key_problems(site, config))
        .chain(oversized.unwrap_or_default().into_iter().flatten())
        .collect()
}

/// Renders every selected document. `linkable(page)`: links to that document point at its
/// item; others become plain text. `Err`: problems a writer must fix (keys, render errors,
/// leaks, bodies over the limit); nothing is sent.
pub fn render(
    engine: &Engine,
    config: &AmplienceConfig,
    gates: &[Gate],
    linkable: &(dyn Fn(usize) -> bool + Sync),
) -> Result<Vec<Desired>, Vec<Diagnostic>> {
    let site = engine.site;
    let keys = key_problems(site, config);
    if !keys.is_empty() {
        return Err(keys);
    }
    let selected = documents(site, config);
    let linkable = |page: usize| selected.contains(&page) && linkable(page);
    let article_url = |page: usize| config.article_url(&delivery_key(config, &site.pages[page].id));
    partner::each_article(site, &selected, &article_url, &linkable, |links, page| {
        desired(engine, config, gates, links, page)
    })
}

fn desired(
    engine: &Engine,
    config: &AmplienceConfig,
    gates: &[Gate],
    links: &Links,
    page: usize,
) -> Result<Desired, Vec<Diagnostic>> {
    let p = &engine.site.pages[page];
    let retire = p.meta.status == Status::Obsolete;
    let html = if retire || !gates[page].publishable {
        None
    } else {
        let rendered = partner::body(engine, page, links)?;
        let leaks = leak::check(engine, page, &rendered);
        if !leaks.is_empty() {
            return Err(leaks);
        }
        Some(rendered.html)
    };
    let body = match &html {
        Some(html) => item_body(config, p, html),
        None => Value::Null,
    };
    if let Some(too_large) = too_large(p, request_size(&p.meta.title, &body, config)) {
        return Err(vec![too_large]);
    }
    let hash = match &body {
        Value::Null => fingerprint(&item_body(config, p, "")),
        body => fingerprint(body),
    };
    Ok(Desired {
        page,
        doc_id: p.id.clone(),
        key: delivery_key(config, &p.id),
        title: p.meta.title.clone(),
        body,
        hash,
        retire,
    })
}

/// The item body of document `p` with the partner rendering `html`, stamped with its
/// fingerprint.
fn item_body(config: &AmplienceConfig, p: &Page, html: &str) -> Value {
    let summary = p.summary(MAX_SUMMARY);
    let mut body = json!({
        "_meta": {
            "schema": config.schema,
            "name": p.id,
            "deliveryKey": delivery_key(config, &p.id),
        },
        "title": p.meta.title,
        "summary": summary,
        "body": html,
        "docType": p.doc_type().map(|t| t.name()),
        "partnerSegments": p.meta.tags,
        "kbpub": {"docId": p.id},
    });
    body["kbpub"]["contentHash"] = json!(fingerprint(&body));
    body
}

/// The hash of everything kbpub writes in an item body (not its own `contentHash`): equal for
/// the body kbpub sent and the same body read back, different once anyone changed a field.
pub fn fingerprint(body: &Value) -> String {
    let field = |pointer: &str| body.pointer(pointer).cloned().unwrap_or(Value::Null);
    let canonical = json!([
        field("/_meta/schema"),
        field("/_meta/name"),
        field("/_meta/deliveryKey"),
        field("/title"),
        field("/summary"),
        field("/body"),
        field("/docType"),
        field("/partnerSegments"),
        field("/kbpub/docId"),
    ]);
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    )
}

/// The hash kbpub stamped on an item body, when it carries one.
pub fn stamp(body: &Value) -> Option<&str> {
    body.pointer("/kbpub/contentHash").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(prefix: &str) -> AmplienceConfig {
        toml::from_str(&format!(
            "hub = \"h\"\nrepository = \"r\"\npat_env = \"P\"\ndelivery_key_prefix = \"{prefix}\"\narticle_url = \"https://x.test/{{delivery_key}}\"\n"
        ))
        .unwrap()
    }

    #[test]
    fn delivery_keys_come_from_doc_ids_under_the_prefix() {
        assert_eq!(
            delivery_key(&config("partners/onboarding"), "as2-setup"),
            "partners/onboarding/as2-setup"
        );
        assert_eq!(delivery_key(&config(""), "a.b c_d"), "a-b-c_d");
    }

    #[test]
    fn the_fingerprint_changes_with_any_written_field_but_not_with_the_stamp() {
        let body = json!({"_meta": {"schema": "s", "name": "n", "deliveryKey": "k"}, "title": "T", "body": "B", "kbpub": {"docId": "d"}});
        let hash = fingerprint(&body);
        let mut stamped = body.clone();
        stamped["kbpub"]["contentHash"] = json!(hash);
        assert_eq!(fingerprint(&stamped), hash);
        let mut edited = stamped.clone();
        edited["body"] = json!("B, edited in the CMS");
        assert_ne!(fingerprint(&edited), hash);
        assert_eq!(stamp(&edited), Some(hash.as_str()));
    }

    #[test]
    fn the_shipped_schema_is_json_with_kbpubs_id() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        assert_eq!(schema["$id"], crate::config::amplience::SCHEMA_ID);
        assert_eq!(
            schema["properties"]["_meta"]["properties"]["deliveryKey"]["maxLength"],
            150
        );
    }
}
