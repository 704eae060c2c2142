//! The one output-format type of the command line: `--format` of every command is an [`Output`],
//! each command accepting the values it can print (`publish` has no `github`, `audit` no `human`),
//! so a value a command cannot print is a command-line error (exit 2) like any other.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use crate::diag::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// For people: diagnostics rustc-style on stderr, reports as aligned text.
    Human,
    /// One JSON document on stdout, for CI.
    Json,
    /// GitHub Actions workflow commands: inline annotations on the pull request.
    Github,
    /// One row per event.
    Csv,
    /// A page that prints cleanly to PDF.
    Html,
}

impl Output {
    /// Commands that print diagnostics (`build`, `check`, `approve`).
    pub const DIAGNOSTICS: &[Output] = &[Output::Human, Output::Json, Output::Github];
    /// Commands that print a report (`publish`, `status`, `due`, `data pull`).
    pub const REPORTS: &[Output] = &[Output::Human, Output::Json];
    /// `kbpub audit`.
    pub const AUDIT: &[Output] = &[Output::Json, Output::Csv, Output::Html];

    const ALL: [Output; 5] = [
        Output::Human,
        Output::Json,
        Output::Github,
        Output::Csv,
        Output::Html,
    ];

    fn name(self) -> &'static str {
        match self {
            Output::Human => "human",
            Output::Json => "json",
            Output::Github => "github",
            Output::Csv => "csv",
            Output::Html => "html",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Output::Human => "for people (diagnostics rustc-style, with code frames)",
            Output::Json => "one JSON document",
            Output::Github => {
                "GitHub Actions workflow commands: inline annotations on the pull request"
            }
            Output::Csv => "one row per event",
            Output::Html => "a page that prints cleanly to PDF",
        }
    }

    /// The `--format` parser of a command that can print `accepted`.
    pub fn accepting(accepted: &'static [Output]) -> impl TypedValueParser<Value = Output> {
        PossibleValuesParser::new(
            accepted
                .iter()
                .map(|o| PossibleValue::new(o.name()).help(o.help())),
        )
        .map(|name| {
            Output::ALL
                .into_iter()
                .find(|o| o.name() == name)
                .expect("clap accepts only the names of outputs")
        })
    }

    /// How diagnostics are printed alongside this output: JSON and GitHub as they are, anything
    /// else for people.
    pub fn diagnostics(self) -> Format {
        match self {
            Output::Json => Format::Json,
            Output::Github => Format::Github,
            _ => Format::Human,
        }
    }
}
