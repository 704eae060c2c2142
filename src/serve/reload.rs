//! Live reload: the [`Status`] every open page listens to over server-sent events, and the
//! client script added to every served page (`client.js`), which reloads the page when the
//! served generation changes (keeping its scroll position), shows an overlay with the errors of a
//! broken edit until it is fixed, and draws the reviewer panel.

use std::sync::Arc;

use serde::Serialize;

use super::review::ReviewView;
use crate::diag::{self, Diagnostic};
use crate::text::escape_html;

/// The client script, served at [`CLIENT_PATH`].
pub const CLIENT_JS: &str = include_str!("client.js");
pub const CLIENT_PATH: &str = "/_kbpub/client.js";
pub const EVENTS_PATH: &str = "/_kbpub/events";

/// Errors beyond this many are counted, not sent: the overlay is for fixing the first ones.
const MAX_SHOWN: usize = 50;

/// What every open page is told after each rebuild, as the `data` of a server-sent event.
#[derive(Debug, Serialize)]
pub struct Status {
    /// The generation of the served files: a page of another generation reloads.
    pub generation: u64,
    /// How many errors the last rebuild found; while there are any, the last good files are
    /// served and the pages show the overlay.
    pub error_count: usize,
    /// The first errors, in order of file and position.
    pub errors: Vec<Problem>,
}

/// One error as the overlay shows it.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// `content/sops/x.md:12:5`.
    pub position: String,
    pub code: &'static str,
    pub message: String,
    /// The rustc-style report: position, code frame and help.
    pub report: String,
}

impl Status {
    pub fn new(generation: u64, diagnostics: &[Diagnostic]) -> Status {
        let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
        Status {
            generation,
            error_count: errors.len(),
            errors: errors
                .iter()
                .take(MAX_SHOWN)
                .map(|d| Problem {
                    position: d.position(),
                    code: d.code,
                    message: d.message.clone(),
                    report: diag::render_human(d),
                })
                .collect(),
        }
    }

    /// The event data: JSON, serialised once for every listener.
    pub fn to_json(&self) -> Arc<str> {
        Arc::from(serde_json::to_string(self).expect("status serialises"))
    }
}

/// `html` with the client script added before `</body>`: it is told the generation the page
/// belongs to, the page's path and the view it shows.
pub fn inject(html: &[u8], generation: u64, page: &str, view: ReviewView) -> Vec<u8> {
    let tag = format!(
        "<script src=\"{CLIENT_PATH}\" data-generation=\"{generation}\" data-page=\"{}\" data-view=\"{}\"></script>\n",
        escape_html(page),
        view.name()
    );
    let at = find_last(html, b"</body>").unwrap_or(html.len());
    let mut out = Vec::with_capacity(html.len() + tag.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(&html[at..]);
    out
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_goes_before_the_end_of_body() {
        let out = inject(
            b"<html><body><p>x</p></BODY></html>",
            7,
            "a&b.html",
            ReviewView::Partner,
        );
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "<html><body><p>x</p><script src=\"/_kbpub/client.js\" data-generation=\"7\" data-page=\"a&amp;b.html\" \
             data-view=\"partner\"></script>\n</BODY></html>"
        );
        assert!(
            String::from_utf8(inject(b"no body", 1, "x.html", ReviewView::Internal))
                .unwrap()
                .starts_with("no body<script")
        );
    }

    #[test]
    fn status_counts_errors_and_keeps_positions() {
        let source: Arc<str> = Arc::from("# T\n\n[x](missing.md)\n");
        let error = Diagnostic::error("broken-link", "no document at `missing.md`")
            .at(diag::Location::new("content/a.md", source, 5..20));
        let warning = Diagnostic::warning("overdue", "review date passed");
        let status = Status::new(3, &[error, warning]);
        assert_eq!(status.error_count, 1);
        assert_eq!(status.errors[0].position, "content/a.md:3:1");
        assert!(
            status.errors[0].report.contains("[x](missing.md)"),
            "{}",
            status.errors[0].report
        );
        let json: serde_json::Value = serde_json::from_str(&status.to_json()).unwrap();
        assert_eq!(json["generation"], 3);
    }
}
