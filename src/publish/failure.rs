//! Why a page failed: a typed reason with a stable `code`, the sentence, and what to do — the
//! failure counterpart of [`super::plan::Skip`], shown in the human and JSON reports.

use serde::Serialize;

use crate::net::{ErrorKind, HttpError};

/// Each variant's `error` is the sentence; the JSON report shows it once, as `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum Failure {
    /// The service answered an error status, or never answered.
    Http {
        status: Option<u16>,
        #[serde(skip)]
        error: String,
    },
    /// The run's retry budget or the page's retries ran out (rate limits, server errors).
    RetryBudgetSpent {
        #[serde(skip)]
        error: String,
    },
    /// The service's request allowance is spent (Salesforce: 403 `REQUEST_LIMIT_EXCEEDED`, a
    /// rolling 24-hour window, no `Retry-After`): the run stops.
    AllowanceSpent {
        #[serde(skip)]
        error: String,
    },
    /// The community refused the article: over its size limit.
    TooLarge {
        #[serde(skip)]
        error: String,
    },
    /// The community's sanitiser refused the body kbpub sent.
    BodyRefused {
        #[serde(skip)]
        error: String,
    },
    /// The page changed again while kbpub wrote it, after one re-read.
    KeptChanging {
        #[serde(skip)]
        error: String,
    },
    /// A local step failed before anything was sent: the journal, an asset, a chart.
    Local {
        #[serde(skip)]
        error: String,
    },
    /// The page was written, but not its record (kbpub's property or the receipt).
    Unrecorded {
        #[serde(skip)]
        error: String,
    },
}

impl Failure {
    /// `then` went wrong after `error`, while kbpub was reading back or looking up.
    pub fn after(error: &HttpError, then: HttpError) -> Failure {
        Failure::http(&then, format!("{error}; then the lookup failed: {then}"))
    }

    /// An HTTP failure in the words of `text`: a spent budget, or what the service answered.
    pub fn http(e: &HttpError, text: String) -> Failure {
        match e.kind {
            ErrorKind::Budget => Failure::RetryBudgetSpent { error: text },
            _ => Failure::Http {
                status: e.status,
                error: text,
            },
        }
    }

    /// Why nothing more may be sent in this run, when this failure means that.
    pub fn stops_run(&self) -> Option<&'static str> {
        match self {
            Failure::AllowanceSpent { .. } => Some("the service's request allowance is spent"),
            _ => None,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Failure::Http { error, .. }
            | Failure::RetryBudgetSpent { error }
            | Failure::AllowanceSpent { error }
            | Failure::TooLarge { error }
            | Failure::BodyRefused { error }
            | Failure::KeptChanging { error }
            | Failure::Local { error }
            | Failure::Unrecorded { error } => error.clone(),
        }
    }

    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            Failure::Http {
                status: Some(401 | 403),
                ..
            } => "check the credentials and the account's permissions on the target, then re-run",
            Failure::Http { .. } => {
                "fix what the service reported (or wait until it answers), then re-run: publishing is idempotent"
            }
            Failure::RetryBudgetSpent { .. } => {
                "the service kept refusing (rate limits or server errors) until kbpub's retry budget was spent: wait a few minutes, then re-run, with a lower --concurrency if it repeats"
            }
            Failure::AllowanceSpent { .. } => {
                "the org's API allowance (a rolling 24 hours) is spent for every integration: re-run once it has recovered (`Sforce-Limit-Info` shows the usage); publishing is idempotent"
            }
            Failure::TooLarge { .. } => {
                "make the article smaller (fewer or smaller images), then re-run"
            }
            Failure::BodyRefused { .. } => {
                "report this as a kbpub bug: bodies are sanitised before sending"
            }
            Failure::KeptChanging { .. } => "re-run when nobody is editing the page",
            Failure::Local { .. } => "fix the local problem named, then re-run",
            Failure::Unrecorded { .. } => {
                "re-run: kbpub reads the page back and finishes recording it"
            }
        }
    }
}

impl From<HttpError> for Failure {
    fn from(e: HttpError) -> Failure {
        Failure::http(&e, e.to_string())
    }
}
