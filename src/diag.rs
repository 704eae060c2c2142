//! Diagnostics: every problem kbpub reports to a writer, with where it is (file, line, column and
//! a code frame) and what to do. Load, render and check collect these instead of stopping at the
//! first one; this module also prints them (rustc-style, JSON, or GitHub workflow commands).

use std::io::Write;
use std::ops::Range;
use std::sync::Arc;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// Information that needs no fix in this change (e.g. a page still waiting for approval);
    /// never fails a command, not even under `kbpub check --deny warnings`.
    Note,
}

/// A place in a source file: the file's display path (relative to the site root), its text, and
/// the byte range the problem covers.
#[derive(Debug, Clone)]
pub struct Location {
    pub file: String,
    pub source: Arc<str>,
    pub span: Range<usize>,
}

impl Location {
    pub fn new(file: impl Into<String>, source: Arc<str>, span: Range<usize>) -> Self {
        let len = source.len();
        let start = floor_char_boundary(&source, span.start.min(len));
        let end = floor_char_boundary(&source, span.end.clamp(start, len));
        Location {
            file: file.into(),
            source,
            span: start..end,
        }
    }

    /// 1-based line and column (column counted in characters) of the span start.
    pub fn line_col(&self) -> (usize, usize) {
        let before = &self.source[..self.span.start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.source[line_start..self.span.start].chars().count() + 1;
        (line, col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable kebab-case code, e.g. `front-matter`, `duplicate-id`, `broken-link`.
    pub code: &'static str,
    pub message: String,
    /// Where the problem is; `None` for whole-site problems.
    pub location: Option<Location>,
    /// File path when there is no span to show (e.g. an unreadable file).
    pub file: Option<String>,
    /// Short text under the caret in the code frame.
    pub label: Option<String>,
    /// A secondary place (e.g. where a duplicate id was first defined).
    pub related: Option<(Location, String)>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: None,
            file: None,
            label: None,
            related: None,
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn note(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Note,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.file = Some(location.file.clone());
        self.location = Some(location);
        self
    }

    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn related(mut self, location: Location, label: impl Into<String>) -> Self {
        self.related = Some((location, label.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col`, `file`, or `kbpub` when the problem has no file.
    pub fn position(&self) -> String {
        match (&self.location, &self.file) {
            (Some(loc), _) => {
                let (line, col) = loc.line_col();
                format!("{}:{line}:{col}", loc.file)
            }
            (None, Some(file)) => file.clone(),
            (None, None) => "kbpub".to_string(),
        }
    }

    fn sort_key(&self) -> (String, usize, usize, &'static str) {
        let (line, col) = self.location.as_ref().map_or((0, 0), Location::line_col);
        (self.file.clone().unwrap_or_default(), line, col, self.code)
    }
}

/// Sorts diagnostics by file and position so reports are stable across parallel runs.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_cached_key(Diagnostic::sort_key);
}

/// Every `Ok` value, or every problem of every `Err` (sorted) when there is one.
pub fn all_or_problems<T>(
    results: impl IntoIterator<Item = Result<T, Vec<Diagnostic>>>,
) -> Result<Vec<T>, Vec<Diagnostic>> {
    let mut values = Vec::new();
    let mut problems = Vec::new();
    for result in results {
        match result {
            Ok(value) => values.push(value),
            Err(mut e) => problems.append(&mut e),
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        sort(&mut problems);
        Err(problems)
    }
}

pub fn error_count(diagnostics: &[Diagnostic]) -> usize {
    count(diagnostics, Severity::Error)
}

pub fn count(diagnostics: &[Diagnostic], severity: Severity) -> usize {
    diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .count()
}

/// `1 error, 2 warnings` (and `, 3 notes` when there are notes).
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut text = format!(
        "{}, {}",
        plural(error_count(diagnostics), "error"),
        plural(count(diagnostics, Severity::Warning), "warning")
    );
    let notes = count(diagnostics, Severity::Note);
    if notes > 0 {
        text.push_str(&format!(", {}", plural(notes, "note")));
    }
    text
}

/// Notes folded into one line, so that a clean run is quiet: the diagnostics to print one by one
/// (every note too when `verbose`) and, when notes were left out, the line that counts them by
/// kind (`13 notes (13 approval); run with --verbose to list them`).
pub fn fold_notes(
    diagnostics: Vec<Diagnostic>,
    verbose: bool,
) -> (Vec<Diagnostic>, Option<String>) {
    if verbose {
        return (diagnostics, None);
    }
    let (notes, shown): (Vec<Diagnostic>, Vec<Diagnostic>) = diagnostics
        .into_iter()
        .partition(|d| d.severity == Severity::Note);
    if notes.is_empty() {
        return (shown, None);
    }
    let mut by_code: std::collections::BTreeMap<&str, usize> = Default::default();
    for note in &notes {
        *by_code.entry(note.code).or_default() += 1;
    }
    let kinds: Vec<String> = by_code
        .iter()
        .map(|(code, n)| format!("{n} {code}"))
        .collect();
    let line = format!(
        "{} note{} ({}); run with --verbose to list them",
        notes.len(),
        if notes.len() == 1 { "" } else { "s" },
        kinds.join(", ")
    );
    (shown, Some(line))
}

/// A GitHub Actions notice with no file: one summary line on the run.
pub fn github_summary_notice(message: &str) -> String {
    format!(
        "::notice title=kbpub check::{}",
        github_escape_data(message)
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-style messages with code frames (colour on a terminal only)
    Human,
    /// one JSON document with every diagnostic
    Json,
    /// GitHub Actions workflow commands: inline annotations on the pull request
    Github,
}

/// Prints diagnostics in the chosen format; `Human` goes to stderr, the others to stdout.
pub fn emit(diagnostics: &[Diagnostic], format: Format) -> std::io::Result<()> {
    emit_in(diagnostics, format, "")
}

/// [`emit`], with `repo_prefix` (the site root's folder inside its git repository, `""` or
/// `docs/`) put before file paths in GitHub annotations, which name files from the repository
/// root.
pub fn emit_in(
    diagnostics: &[Diagnostic],
    format: Format,
    repo_prefix: &str,
) -> std::io::Result<()> {
    match format {
        Format::Human => emit_human(diagnostics),
        Format::Json => {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &json_report(diagnostics))?;
            writeln!(out)
        }
        Format::Github => {
            let mut out = std::io::stdout().lock();
            for d in diagnostics {
                writeln!(out, "{}", github_line(d, repo_prefix))?;
            }
            Ok(())
        }
    }
}

fn emit_human(diagnostics: &[Diagnostic]) -> std::io::Result<()> {
    let choice = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        termcolor::ColorChoice::Auto
    } else {
        termcolor::ColorChoice::Never
    };
    let stream = termcolor::StandardStream::stderr(choice);
    let mut lock = stream.lock();
    for d in diagnostics {
        with_codespan(d, |diagnostic, file| {
            term::emit_to_write_style(&mut lock, &term::Config::default(), file, diagnostic)
        })
        .map_err(std::io::Error::other)?;
    }
    Ok(())
}

/// One diagnostic as plain rustc-style text with a code frame.
pub fn render_human(d: &Diagnostic) -> String {
    let mut text = String::new();
    with_codespan(d, |diagnostic, file| {
        term::emit_to_string(&mut text, &term::Config::default(), file, diagnostic)
    })
    .ok();
    text
}

/// Builds the codespan view of `d` and hands it to `emit`.
fn with_codespan<R>(
    d: &Diagnostic,
    emit: impl FnOnce(&CsDiagnostic<()>, &SimpleFile<&str, &str>) -> R,
) -> R {
    let mut diagnostic = match d.severity {
        Severity::Error => CsDiagnostic::error(),
        Severity::Warning => CsDiagnostic::warning(),
        Severity::Note => CsDiagnostic::note(),
    }
    .with_code(d.code)
    .with_message(&d.message);
    let mut notes = Vec::new();
    let file = match &d.location {
        Some(loc) => {
            let mut labels = vec![
                Label::primary((), loc.span.clone())
                    .with_message(d.label.clone().unwrap_or_default()),
            ];
            if let Some((rel, msg)) = &d.related {
                if rel.file == loc.file {
                    labels.push(Label::secondary((), rel.span.clone()).with_message(msg));
                } else {
                    let (line, col) = rel.line_col();
                    notes.push(format!("{msg}: {}:{line}:{col}", rel.file));
                }
            }
            diagnostic = diagnostic.with_labels(labels);
            SimpleFile::new(loc.file.as_str(), &*loc.source)
        }
        None => {
            if let Some(file) = &d.file {
                notes.push(format!("in {file}"));
            }
            SimpleFile::new("", "")
        }
    };
    if let Some(help) = &d.help {
        notes.push(format!("help: {help}"));
    }
    emit(&diagnostic.with_notes(notes), &file)
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    severity: Severity,
    code: &'a str,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    help: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    errors: usize,
    warnings: usize,
    notes: usize,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

fn json_report(diagnostics: &[Diagnostic]) -> JsonReport<'_> {
    JsonReport {
        errors: error_count(diagnostics),
        warnings: count(diagnostics, Severity::Warning),
        notes: count(diagnostics, Severity::Note),
        diagnostics: diagnostics.iter().map(json_diagnostic).collect(),
    }
}

fn json_diagnostic(d: &Diagnostic) -> JsonDiagnostic<'_> {
    let start = d.location.as_ref().map(Location::line_col);
    let end = d.location.as_ref().map(|loc| {
        Location {
            span: loc.span.end..loc.span.end,
            ..loc.clone()
        }
        .line_col()
    });
    JsonDiagnostic {
        severity: d.severity,
        code: d.code,
        message: &d.message,
        file: d.file.as_deref(),
        line: start.map(|s| s.0),
        column: start.map(|s| s.1),
        end_line: end.map(|e| e.0),
        end_column: end.map(|e| e.1),
        help: d.help.as_deref(),
    }
}

/// A GitHub Actions workflow command (`::error file=..,line=..,col=..,title=..::message`;
/// `::warning`, `::notice`); `repo_prefix` goes before the file path (see [`emit_in`]).
pub fn github_line(d: &Diagnostic, repo_prefix: &str) -> String {
    let command = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    };
    let mut props = Vec::new();
    if let Some(file) = &d.file {
        props.push(format!(
            "file={}",
            github_escape_property(&format!("{repo_prefix}{file}"))
        ));
    }
    if let Some(loc) = &d.location {
        let (line, col) = loc.line_col();
        props.push(format!("line={line}"));
        props.push(format!("col={col}"));
    }
    props.push(format!(
        "title={}",
        github_escape_property(&format!("kbpub {}", d.code))
    ));
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    format!(
        "::{command} {}::{}",
        props.join(","),
        github_escape_data(&message)
    )
}

fn github_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn github_escape_property(s: &str) -> String {
    github_escape_data(s)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(src: &str, span: Range<usize>) -> Location {
        Location::new("content/a.md", Arc::from(src), span)
    }

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let l = loc("ab\ncé x\n", 7..8);
        assert_eq!(l.line_col(), (2, 4));
    }

    #[test]
    fn span_inside_a_multibyte_char_is_clamped() {
        let l = loc("é", 1..2);
        assert_eq!(l.span, 0..2);
    }

    #[test]
    fn human_output_has_position_code_and_frame() {
        let d = Diagnostic::error("broken-link", "no document at `x.md`")
            .at(loc("# T\n\nsee [x](x.md)\n", 9..18))
            .label("this link")
            .help("fix the path");
        let text = render_human(&d);
        assert!(
            text.contains("error[broken-link]: no document at `x.md`"),
            "{text}"
        );
        assert!(text.contains("content/a.md:3:5"), "{text}");
        assert!(text.contains("see [x](x.md)"), "{text}");
        assert!(text.contains("help: fix the path"), "{text}");
    }

    #[test]
    fn github_line_escapes_properties_and_message() {
        let d = Diagnostic::warning("overdue", "line1\nline2: 100%").at(loc("a\nb", 2..3));
        assert_eq!(
            github_line(&d, ""),
            "::warning file=content/a.md,line=2,col=1,title=kbpub overdue::line1%0Aline2: 100%25"
        );
        let note = Diagnostic::note("approval", "a, b").in_file("content/x,y.md");
        assert_eq!(
            github_line(&note, "docs/"),
            "::notice file=docs/content/x%2Cy.md,title=kbpub approval::a, b"
        );
    }
}
