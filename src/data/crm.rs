//! The Salesforce CRM source (`kind = "salesforce"`): partner Accounts (the partner id from a
//! configurable external-id field), their escalation Contacts (by a role field) and open
//! exception Cases, read with SOQL over [`crate::net::oauth`] (JWT bearer or client
//! credentials), following `nextRecordsUrl` until `done` (each batch a progress [`Event`], as the
//! Trading Grid client reports its pages), and validated into the snapshot's [`Crm`] part. Field names from config are checked to be plain API names before they go into
//! a query.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::Event;
use crate::net::oauth::{ApiRequest, Grant, OAuth, OAuthConfig, OAuthError};
use crate::net::{Answer, Retry, Settings};

/// A partner's account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub partner: String,
    pub id: String,
    pub name: String,
    pub account_number: Option<String>,
    pub owner: Option<String>,
    pub owner_email: Option<String>,
}

/// An escalation contact of a partner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub partner: String,
    pub id: String,
    pub name: String,
    pub role: String,
    pub title: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// An open exception case of a partner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub partner: String,
    pub id: String,
    pub number: String,
    pub subject: String,
    pub status: String,
    pub priority: Option<String>,
    pub opened: Option<String>,
}

/// What a snapshot holds of the CRM, each list sorted by partner, then id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Crm {
    pub accounts: Vec<Account>,
    pub contacts: Vec<Contact>,
    pub cases: Vec<Case>,
}

impl Crm {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.contacts.is_empty() && self.cases.is_empty()
    }

    /// Adds `other`'s records (another source's), keeping the lists sorted.
    pub fn extend(&mut self, other: Crm) {
        self.accounts.extend(other.accounts);
        self.contacts.extend(other.contacts);
        self.cases.extend(other.cases);
        self.sort();
    }

    fn sort(&mut self) {
        self.accounts
            .sort_by(|a, b| (&a.partner, &a.id).cmp(&(&b.partner, &b.id)));
        self.contacts
            .sort_by(|a, b| (&a.partner, &a.id).cmp(&(&b.partner, &b.id)));
        self.cases
            .sort_by(|a, b| (&a.partner, &a.id).cmp(&(&b.partner, &b.id)));
    }
}

/// The Salesforce settings of one `[[data.sources]]` entry.
#[derive(Debug, Clone)]
pub struct CrmSource {
    pub oauth: OAuthConfig,
    /// The Account field holding the Trading Grid partner id (an external id).
    pub partner_id_field: String,
    /// The Contact field naming the escalation role.
    pub role_field: String,
    /// The Case `Type` of exception cases.
    pub case_type: String,
}

/// Builds the OAuth settings from a source's keys: the flow is JWT bearer with `key_file_env`,
/// client credentials with `secret_env`.
pub fn grant(
    consumer_key: &str,
    username: Option<&str>,
    audience: Option<&str>,
    key_file_env: Option<&str>,
    secret_env: Option<&str>,
) -> Result<Grant, String> {
    match (key_file_env, secret_env) {
        (Some(key_file_env), None) => Ok(Grant::JwtBearer {
            consumer_key: consumer_key.to_string(),
            username: username
                .ok_or("`username` (the user to run as) is required with `key_file_env`")?
                .to_string(),
            audience: audience
                .unwrap_or("https://login.salesforce.com")
                .to_string(),
            key_file_env: key_file_env.to_string(),
        }),
        (None, Some(secret_env)) => Ok(Grant::ClientCredentials {
            consumer_key: consumer_key.to_string(),
            secret_env: secret_env.to_string(),
        }),
        _ => Err("set exactly one of `key_file_env` (JWT bearer flow) and `secret_env` (client-credentials flow)".into()),
    }
}

/// Why the CRM could not be read. Never holds a credential.
#[derive(Debug)]
pub enum CrmError {
    OAuth(OAuthError),
    /// A record is not what kbpub needs: the object, its position and id, and what is wrong.
    Record(String),
}

impl std::fmt::Display for CrmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CrmError::OAuth(e) => e.fmt(f),
            CrmError::Record(why) => write!(f, "invalid CRM record: {why}"),
        }
    }
}

/// How a pull reports its work: each batch as a page of its object, each retry.
struct Reporter<'e> {
    events: &'e (dyn Fn(Event) + Sync),
    /// Query batches read so far, of every object.
    pages: AtomicUsize,
}

/// Every record of `soql`, following `nextRecordsUrl` until `done`; each batch reported as a
/// page of `kind`.
async fn query_all(
    oauth: &OAuth,
    kind: &'static str,
    soql: &str,
    reporter: &Reporter<'_>,
    on_retry: &(dyn Fn(&Retry) + Sync),
) -> Result<Vec<Value>, CrmError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Batch {
        done: bool,
        next_records_url: Option<String>,
        records: Vec<Value>,
    }
    let accept = |answer: Answer| {
        serde_json::from_str::<Batch>(&answer.text)
            .map_err(|e| format!("a body that is not a query result: {e}"))
    };
    let mut records = Vec::new();
    let query = [("q", soql)];
    let mut batch = oauth
        .send(&ApiRequest::get("query", &query), accept, on_retry)
        .await
        .map_err(CrmError::OAuth)?;
    for pages in 1.. {
        records.append(&mut batch.records);
        reporter.pages.fetch_add(1, Ordering::Relaxed);
        (reporter.events)(Event::Page {
            kind,
            records: records.len(),
            pages,
            not_modified: 0,
            done: batch.done,
        });
        match (batch.done, batch.next_records_url.take()) {
            (true, _) => break,
            (false, Some(next)) => {
                batch = oauth
                    .send(&ApiRequest::get(&next, &[]), accept, on_retry)
                    .await
                    .map_err(CrmError::OAuth)?;
            }
            (false, None) => {
                return Err(CrmError::Record(
                    "a query batch says it is not done but names no nextRecordsUrl".into(),
                ));
            }
        }
    }
    Ok(records)
}

/// One record's fields, read with errors that name the object, position and id.
struct Fields {
    object: &'static str,
    index: usize,
    record: Value,
}

/// The records of `soql` on `object` (reported as pages of `kind`), ready to be read.
async fn records(
    oauth: &OAuth,
    (object, kind): (&'static str, &'static str),
    soql: &str,
    reporter: &Reporter<'_>,
    on_retry: &(dyn Fn(&Retry) + Sync),
) -> Result<Vec<Fields>, CrmError> {
    Ok(query_all(oauth, kind, soql, reporter, on_retry)
        .await?
        .into_iter()
        .enumerate()
        .map(|(index, record)| Fields {
            object,
            index,
            record,
        })
        .collect())
}

impl Fields {
    fn at(&self, path: &[&str]) -> Option<&Value> {
        path.iter().try_fold(&self.record, |v, key| v.get(key))
    }

    fn optional(&self, path: &[&str]) -> Result<Option<String>, CrmError> {
        match self.at(path) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.problem(&format!("`{}` is not text", path.join(".")))),
        }
    }

    fn required(&self, path: &[&str]) -> Result<String, CrmError> {
        self.optional(path)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| self.problem(&format!("`{}` is missing or empty", path.join("."))))
    }

    fn problem(&self, what: &str) -> CrmError {
        let id = self.at(&["Id"]).and_then(Value::as_str).unwrap_or("?");
        let id = crate::text::display_safe(id, 40);
        CrmError::Record(format!("{}[{}] (Id {id}): {what}", self.object, self.index))
    }
}

/// The CRM part of a snapshot, how many query batches it took, and the access tokens used (to
/// check they did not end up in the data).
pub struct Pulled {
    pub crm: Crm,
    pub pages: usize,
    pub tokens: Vec<crate::net::Secret>,
}

/// Pulls the CRM part of a snapshot; `events` hears every batch (a page of `accounts`,
/// `contacts` or `cases`) and every retry.
pub async fn pull(
    source: &CrmSource,
    settings: Settings,
    events: &(dyn Fn(Event) + Sync),
) -> Result<Pulled, CrmError> {
    let oauth = OAuth::new(&source.oauth, settings).map_err(CrmError::OAuth)?;
    let reporter = Reporter {
        events,
        pages: Default::default(),
    };
    let on_retry = |retry: &Retry| {
        events(Event::Retry {
            url: source.oauth.my_domain.clone(),
            reason: retry.reason.clone(),
            wait: retry.wait,
            attempt: retry.attempt,
        })
    };
    let on_retry = &on_retry;
    let pid = &source.partner_id_field;
    let role = &source.role_field;
    let accounts_soql = format!(
        "SELECT Id, Name, AccountNumber, Owner.Name, Owner.Email, {pid} FROM Account WHERE {pid} != null ORDER BY {pid}"
    );
    let contacts_soql = format!(
        "SELECT Id, Name, Title, Email, Phone, {role}, Account.{pid} FROM Contact WHERE Account.{pid} != null AND {role} != null"
    );
    let cases_soql = format!(
        "SELECT Id, CaseNumber, Subject, Status, Priority, CreatedDate, Account.{pid} FROM Case WHERE Account.{pid} != null AND IsClosed = false AND Type = '{}'",
        source.case_type
    );
    let mut crm = Crm::default();
    let mut seen = std::collections::HashMap::new();
    for f in records(
        &oauth,
        ("Account", "accounts"),
        &accounts_soql,
        &reporter,
        on_retry,
    )
    .await?
    {
        let account = Account {
            partner: f.required(&[pid.as_str()])?,
            id: f.required(&["Id"])?,
            name: f.required(&["Name"])?,
            account_number: f.optional(&["AccountNumber"])?,
            owner: f.optional(&["Owner", "Name"])?,
            owner_email: f.optional(&["Owner", "Email"])?,
        };
        if let Some(first) = seen.insert(account.partner.clone(), account.id.clone()) {
            return Err(f.problem(&format!(
                "partner `{}` is also on account {first}: `{pid}` must be unique",
                crate::text::display_safe(&account.partner, 60)
            )));
        }
        crm.accounts.push(account);
    }
    for f in records(
        &oauth,
        ("Contact", "contacts"),
        &contacts_soql,
        &reporter,
        on_retry,
    )
    .await?
    {
        crm.contacts.push(Contact {
            partner: f.required(&["Account", pid.as_str()])?,
            id: f.required(&["Id"])?,
            name: f.required(&["Name"])?,
            role: f.required(&[role.as_str()])?,
            title: f.optional(&["Title"])?,
            email: f.optional(&["Email"])?,
            phone: f.optional(&["Phone"])?,
        });
    }
    for f in records(&oauth, ("Case", "cases"), &cases_soql, &reporter, on_retry).await? {
        crm.cases.push(Case {
            partner: f.required(&["Account", pid.as_str()])?,
            id: f.required(&["Id"])?,
            number: f.required(&["CaseNumber"])?,
            subject: f.optional(&["Subject"])?.unwrap_or_default(),
            status: f.required(&["Status"])?,
            priority: f.optional(&["Priority"])?,
            opened: f.optional(&["CreatedDate"])?,
        });
    }
    crm.sort();
    Ok(Pulled {
        crm,
        pages: reporter.pages.into_inner(),
        tokens: oauth.tokens(),
    })
}
