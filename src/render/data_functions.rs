//! Template functions and filters over the data snapshot, registered on both Tera instances:
//! `partners()`, `partner(id)`, `metrics(...)` with computed rates, `incidents(...)`,
//! `error_codes()`, `as_of()`, `data_available()`; the partials `metrics_table(...)`,
//! `incident_list(...)` and `trend_chart(...)` (see [`super::partials`]); and the filters
//! `number`, `percent` and `duration`. Functions read the in-memory [`Dataset`] only.
//!
//! Rendering reports whether a page used data: every data function marks the current render
//! (a thread-local scope around one Tera render, see [`scoped`]), so "data as of" and the stale
//! banner appear exactly on pages whose output came from data. A scope can also *withhold* data
//! (partner-facing pages while a source is stale): functions then return nothing and partials
//! a notice, so stale numbers never reach partners.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};
use tera::Tera;

use super::partials;
use crate::content::Site;
use crate::data::Dataset;
use crate::data::contract::{Direction, Incident, IncidentStatus, Partner};
use crate::data::metrics::{Counts, RATE_NAMES};
use crate::data::pages::{self, Plan};

pub const DAY: i64 = 86_400;

/// What one render did with data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataUse {
    /// A data function was called.
    pub used: bool,
    /// Data was withheld (a partner-facing page while a source is stale).
    pub withheld: bool,
}

thread_local! {
    static SCOPE: Cell<DataUse> = const { Cell::new(DataUse { used: false, withheld: false }) };
}

/// Runs `render` (one Tera render on this thread) and reports whether it used data. With
/// `withhold`, data functions see no data.
pub fn scoped<R>(withhold: bool, render: impl FnOnce() -> R) -> (R, DataUse) {
    let outer = SCOPE.with(|s| {
        s.replace(DataUse {
            used: false,
            withheld: withhold,
        })
    });
    let result = render();
    let inner = SCOPE.with(|s| s.replace(outer));
    (result, inner)
}

/// Marks the current render as using data; true when data is withheld from it.
fn touch() -> bool {
    SCOPE.with(|s| {
        let mut scope = s.get();
        scope.used = true;
        s.set(scope);
        scope.withheld
    })
}

/// The data and what templates may link to.
pub struct DataContext {
    pub data: Arc<Dataset>,
    /// Document id -> (content-relative path, title), for `related_kb` links.
    docs: HashMap<String, (String, String)>,
    pub plan: Plan,
}

impl DataContext {
    pub fn new(data: Arc<Dataset>, site: &Site) -> DataContext {
        let docs = site
            .pages
            .iter()
            .map(|p| (p.id.clone(), (p.rel_path.clone(), p.meta.title.clone())))
            .collect();
        let plan = pages::plan(&data, &site.config.data.pages);
        DataContext { data, docs, plan }
    }

    /// `/path/in/content.md` of the page with document id `id`, and its title.
    pub fn doc(&self, id: &str) -> Option<(String, &str)> {
        self.docs
            .get(id)
            .map(|(rel, title)| (format!("/{rel}"), title.as_str()))
    }

    pub fn partner_page(&self, id: &str) -> Option<String> {
        self.plan.partners.get(id).map(|rel| format!("/{rel}"))
    }

    pub fn error_code_page(&self, code: &str) -> Option<String> {
        self.plan.error_codes.get(code).map(|rel| format!("/{rel}"))
    }

    fn require_configured(&self, function: &str) -> tera::Result<()> {
        if self.data.is_configured() {
            Ok(())
        } else {
            Err(tera::Error::msg(format!(
                "`{function}` needs live data, but kbpub.toml configures no `[[data.sources]]`"
            )))
        }
    }
}

/// Whether partials produce Markdown (document bodies) or HTML (layout templates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Markdown,
    Html,
}

/// Registers every data function, partial and filter on `tera`.
pub fn register(tera: &mut Tera, context: &Arc<DataContext>, output: Output) {
    let value_functions: [(&str, ValueFn); 10] = [
        ("partners", partners_fn),
        ("partner", partner_fn),
        ("account", account_fn),
        ("contacts", contacts_fn),
        ("cases", cases_fn),
        ("metrics", metrics_fn),
        ("incidents", incidents_fn),
        ("error_codes", error_codes_fn),
        ("as_of", as_of_fn),
        ("data_available", data_available_fn),
    ];
    for (name, function) in value_functions {
        let context = Arc::clone(context);
        tera.register_function(name, move |args: &HashMap<String, Value>| {
            context.require_configured(name)?;
            let withheld = touch();
            function(&context, &Args::new(name, args)?, withheld)
        });
    }
    for (name, render) in partials::ALL {
        tera.register_function(
            name,
            Partial {
                name,
                render,
                context: Arc::clone(context),
                output,
            },
        );
    }
    tera.register_filter("number", number_filter);
    tera.register_filter("percent", percent_filter);
    tera.register_filter("duration", duration_filter);
}

type ValueFn = fn(&DataContext, &Args, bool) -> tera::Result<Value>;

/// A partial: a function whose output is finished markup (every data value in it escaped), so
/// Tera must not escape it again.
struct Partial {
    name: &'static str,
    render: partials::Render,
    context: Arc<DataContext>,
    output: Output,
}

impl tera::Function for Partial {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        self.context.require_configured(self.name)?;
        let withheld = touch();
        let args = Args::new(self.name, args)?;
        let markdown = if withheld {
            partials::withheld_notice(&self.context)
        } else {
            (self.render)(&self.context, &args)?
        };
        Ok(Value::String(match self.output {
            Output::Markdown => markdown,
            Output::Html => {
                let mut html = String::new();
                pulldown_cmark::html::push_html(
                    &mut html,
                    pulldown_cmark::Parser::new_ext(&markdown, super::markdown::options()),
                );
                html
            }
        }))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// A function's named arguments, checked against what it accepts.
pub struct Args<'a> {
    function: &'static str,
    map: &'a HashMap<String, Value>,
}

/// The arguments each function and partial accepts (a misspelt one is an error).
fn accepted(function: &str) -> Vec<&'static str> {
    let metric_selection = ["partner", "doc_type", "direction", "days", "from", "to"];
    match function {
        "partners" => vec!["segment", "status"],
        "partner" => vec!["id"],
        "account" | "open_cases" => vec!["partner"],
        "contacts" => vec!["partner", "role"],
        "cases" => vec!["partner", "status"],
        "metrics" | "metrics_table" => [&metric_selection[..], &["by"]].concat(),
        "trend_chart" => [&metric_selection[..], &["metric", "title"]].concat(),
        "incidents" | "incident_list" => vec![
            "partner",
            "status",
            "doc_type",
            "related",
            "error_code",
            "severity",
            "limit",
            "detail",
        ],
        _ => Vec::new(),
    }
}

impl<'a> Args<'a> {
    fn new(function: &'static str, map: &'a HashMap<String, Value>) -> tera::Result<Args<'a>> {
        let allowed = accepted(function);
        let mut names: Vec<&String> = map.keys().collect();
        names.sort();
        for name in names {
            if !allowed.contains(&name.as_str()) {
                let expected = if allowed.is_empty() {
                    "no arguments".to_string()
                } else {
                    format!("one of: {}", allowed.join(", "))
                };
                return Err(tera::Error::msg(format!(
                    "`{function}` has no argument `{name}` (it takes {expected})"
                )));
            }
        }
        Ok(Args { function, map })
    }

    fn error(&self, message: String) -> tera::Error {
        tera::Error::msg(format!("`{}`: {message}", self.function))
    }

    pub fn string(&self, key: &str) -> tera::Result<Option<String>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(self.error(format!("`{key}` must be a string, not {other}"))),
        }
    }

    /// A list: an array of strings, or one string of comma-separated values.
    pub fn list(&self, key: &str) -> tera::Result<Option<Vec<String>>> {
        match self.map.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| self.error(format!("`{key}` must hold strings, not {v}")))
                })
                .collect::<tera::Result<Vec<_>>>()
                .map(Some),
            _ => Ok(self.string(key)?.map(|s| {
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect()
            })),
        }
    }

    pub fn number(&self, key: &str) -> tera::Result<Option<u64>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.error(format!("`{key}` must be a whole number, not {v}"))),
        }
    }

    pub fn flag(&self, key: &str) -> tera::Result<bool> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.error(format!("`{key}` must be true or false, not {v}"))),
        }
    }

    fn date(&self, key: &str) -> tera::Result<Option<i64>> {
        self.string(key)?
            .map(|text| {
                NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                    .map(|d| {
                        d.and_hms_opt(0, 0, 0)
                            .expect("midnight")
                            .and_utc()
                            .timestamp()
                    })
                    .map_err(|_| {
                        self.error(format!(
                            "`{key}` must be a date like 2026-11-01, not `{text}`"
                        ))
                    })
            })
            .transpose()
    }
}

// ---- partners -------------------------------------------------------------------------------

fn partner_value(context: &DataContext, p: &Partner) -> Value {
    let mut value = serde_json::to_value(p).expect("partner serialises");
    value["page"] = context
        .partner_page(&p.id)
        .map_or(Value::Null, Value::String);
    value
}

fn partners_fn(context: &DataContext, args: &Args, withheld: bool) -> tera::Result<Value> {
    if withheld {
        return Ok(json!([]));
    }
    let segment = args.string("segment")?;
    let status = args.string("status")?;
    Ok(Value::Array(
        context
            .data
            .partners
            .iter()
            .filter(|p| segment.as_ref().is_none_or(|s| &p.segment == s))
            .filter(|p| {
                status.as_ref().is_none_or(|s| {
                    serde_json::to_value(p.status)
                        .ok()
                        .as_ref()
                        .and_then(Value::as_str)
                        == Some(s)
                })
            })
            .map(|p| partner_value(context, p))
            .collect(),
    ))
}

// ---- CRM (Salesforce sources) ---------------------------------------------------------------

/// The required `partner` argument of the CRM functions.
pub fn partner_arg(args: &Args) -> tera::Result<String> {
    args.string("partner")?
        .ok_or_else(|| args.error("`partner` is required, e.g. partner=\"ACME-RETAIL\"".into()))
}

/// `account(partner=)`: the partner's CRM account, or null.
fn account_fn(context: &DataContext, args: &Args, withheld: bool) -> tera::Result<Value> {
    let partner = partner_arg(args)?;
    let account = context
        .data
        .crm
        .accounts
        .iter()
        .find(|a| a.partner == partner);
    Ok(match account {
        Some(account) if !withheld => serde_json::to_value(account).expect("account serialises"),
        _ => Value::Null,
    })
}

/// `contacts(partner=, role=)`: the partner's escalation contacts, of one role if given.
fn contacts_fn(context: &DataContext, args: &Args, withheld: bool) -> tera::Result<Value> {
    let partner = partner_arg(args)?;
    let role = args.string("role")?;
    if withheld {
        return Ok(json!([]));
    }
    let contacts = context.data.crm.contacts.iter().filter(|c| {
        c.partner == partner && role.as_ref().is_none_or(|r| c.role.eq_ignore_ascii_case(r))
    });
    Ok(serde_json::to_value(contacts.collect::<Vec<_>>()).expect("contacts serialise"))
}

/// `cases(partner=, status=)`: the partner's open exception cases, of one status if given.
fn cases_fn(context: &DataContext, args: &Args, withheld: bool) -> tera::Result<Value> {
    let partner = partner_arg(args)?;
    let status = args.string("status")?;
    if withheld {
        return Ok(json!([]));
    }
    Ok(
        serde_json::to_value(open_cases(context, &partner, status.as_deref()))
            .expect("cases serialise"),
    )
}

/// The partner's open cases, of `status` if given, in the snapshot's order.
pub fn open_cases<'d>(
    context: &'d DataContext,
    partner: &str,
    status: Option<&str>,
) -> Vec<&'d crate::data::crm::Case> {
    context
        .data
        .crm
        .cases
        .iter()
        .filter(|c| c.partner == partner && status.is_none_or(|s| c.status.eq_ignore_ascii_case(s)))
        .collect()
}

fn partner_fn(context: &DataContext, args: &Args, withheld: bool) -> tera::Result<Value> {
    let id = args
        .string("id")?
        .ok_or_else(|| args.error("`id` is required, e.g. partner(id=\"ACME-RETAIL\")".into()))?;
    if withheld {
        return Ok(
            json!({"id": id, "name": id, "edi_qualifier": null, "edi_id": null, "status": null, "onboarded_at": null, "segment": null, "page": null}),
        );
    }
    match context.data.partner(&id) {
        Some(p) => Ok(partner_value(context, p)),
        None => {
            let known: Vec<&str> = context
                .data
                .partners
                .iter()
                .take(12)
                .map(|p| p.id.as_str())
                .collect();
            Err(args.error(format!(
                "no partner `{id}` in the data snapshot (known: {}{})",
                known.join(", "),
                if context.data.partners.len() > 12 {
                    ", ..."
                } else {
                    ""
                }
            )))
        }
    }
}

// ---- metrics --------------------------------------------------------------------------------

/// Which rows to sum and how to group them.
pub struct MetricQuery {
    pub partners: Option<Vec<String>>,
    pub doc_types: Option<Vec<String>>,
    pub direction: Option<Direction>,
    /// Unix seconds: rows starting at or after `from` and ending at or before `to`.
    pub from: i64,
    pub to: i64,
    pub by_partner: bool,
    pub by_doc_type: bool,
    pub by_direction: bool,
    pub by_day: bool,
}

/// Group key: partner id, document type rank (by code), direction, day start.
type GroupKey<'d> = (Option<&'d str>, Option<u16>, Option<Direction>, Option<i64>);

/// A group of summed rows.
pub struct Group<'d> {
    pub partner: Option<&'d str>,
    pub doc_type: Option<u16>,
    pub direction: Option<Direction>,
    pub day: Option<i64>,
    pub counts: Counts,
    pub start: i64,
    pub end: i64,
}

impl MetricQuery {
    /// Reads `partner`, `doc_type` (comma list), `direction`, `days` (ending at the data's
    /// `as_of`) or `from`/`to` dates, and `by` (comma list of partner, doc_type, direction, day;
    /// `total` for one row).
    pub fn from_args(
        args: &Args,
        data: &Dataset,
        default_days: Option<u64>,
        default_by: &str,
    ) -> tera::Result<MetricQuery> {
        let as_of = data.as_of().map_or(0, |t| t.timestamp());
        let direction = match args.string("direction")?.as_deref() {
            None => None,
            Some("inbound") => Some(Direction::Inbound),
            Some("outbound") => Some(Direction::Outbound),
            Some(other) => {
                return Err(args.error(format!(
                    "`direction` is `inbound` or `outbound`, not `{other}`"
                )));
            }
        };
        let days = args.number("days")?;
        let (from, to) = match (days, args.date("from")?, args.date("to")?) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(args.error("give either `days` or `from`/`to`, not both".into()));
            }
            (None, from, to) if from.is_some() || to.is_some() => {
                (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX))
            }
            (days, _, _) => match days.or(default_days) {
                Some(days) => (as_of - as_of.rem_euclid(DAY) - days as i64 * DAY, as_of),
                None => (i64::MIN, i64::MAX),
            },
        };
        let by = args.string("by")?.unwrap_or_else(|| default_by.to_string());
        let keys: Vec<&str> = by
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty() && *k != "total")
            .collect();
        for key in &keys {
            if !["partner", "doc_type", "direction", "day"].contains(key) {
                return Err(args.error(format!(
                    "`by` takes partner, doc_type, direction, day or total, not `{key}`"
                )));
            }
        }
        Ok(MetricQuery {
            partners: args.list("partner")?,
            doc_types: args.list("doc_type")?,
            direction,
            from,
            to,
            by_partner: keys.contains(&"partner"),
            by_doc_type: keys.contains(&"doc_type"),
            by_direction: keys.contains(&"direction"),
            by_day: keys.contains(&"day"),
        })
    }

    /// The first and last whole day (their starts, inclusive) that rows of this query can cover,
    /// each `None` where the query is open-ended: `days=30` at 06:00 covers the 30 days before
    /// today, so its last day is yesterday.
    pub fn covered_days(&self) -> (Option<i64>, Option<i64>) {
        let first =
            (self.from != i64::MIN).then(|| self.from + (DAY - self.from.rem_euclid(DAY)) % DAY);
        let last = (self.to != i64::MAX).then(|| self.to - self.to.rem_euclid(DAY) - DAY);
        (first, last)
    }

    /// Sums the matching rows per group, groups in key order.
    pub fn run<'d>(&self, data: &'d Dataset) -> tera::Result<Vec<Group<'d>>> {
        let partners: Vec<&'d str> = match &self.partners {
            Some(ids) => ids
                .iter()
                .map(|id| match data.partner(id) {
                    Some(p) => Ok(p.id.as_str()),
                    None => match data.metrics.get_key_value(id) {
                        Some((key, _)) => Ok(key.as_str()),
                        None => Err(tera::Error::msg(format!(
                            "no partner `{id}` in the data snapshot"
                        ))),
                    },
                })
                .collect::<tera::Result<_>>()?,
            None => {
                let mut ids: Vec<&str> = data.metrics.keys().map(String::as_str).collect();
                ids.sort_unstable();
                ids
            }
        };
        let doc_filter: Option<Vec<u16>> = self.doc_types.as_ref().map(|codes| {
            data.doc_types
                .iter()
                .enumerate()
                .filter(|(_, (c, _))| codes.contains(c))
                .map(|(i, _)| i as u16)
                .collect()
        });
        // Groups order by partner, document type code, direction and day: rank each type once.
        let mut by_code: Vec<u16> = (0..data.doc_types.len() as u16).collect();
        by_code.sort_by(|a, b| {
            data.doc_types[*a as usize]
                .0
                .cmp(&data.doc_types[*b as usize].0)
        });
        let mut rank = vec![0u16; by_code.len()];
        for (position, &doc_type) in by_code.iter().enumerate() {
            rank[doc_type as usize] = position as u16;
        }
        let mut groups: BTreeMap<GroupKey, Group> = BTreeMap::new();
        for partner in partners {
            for row in data.rows(partner) {
                if row.start < self.from
                    || row.end > self.to
                    || self.direction.is_some_and(|d| d != row.direction)
                {
                    continue;
                }
                if doc_filter
                    .as_ref()
                    .is_some_and(|f| !f.contains(&row.doc_type))
                {
                    continue;
                }
                let key: GroupKey = (
                    self.by_partner.then_some(partner),
                    self.by_doc_type.then_some(rank[row.doc_type as usize]),
                    self.by_direction.then_some(row.direction),
                    self.by_day.then_some(row.start - row.start.rem_euclid(DAY)),
                );
                let group = groups.entry(key).or_insert(Group {
                    partner: key.0,
                    doc_type: self.by_doc_type.then_some(row.doc_type),
                    direction: key.2,
                    day: key.3,
                    counts: Counts::default(),
                    start: row.start,
                    end: row.end,
                });
                group.counts.add(&row.counts);
                group.start = group.start.min(row.start);
                group.end = group.end.max(row.end);
            }
        }
        Ok(groups.into_values().collect())
    }
}

pub fn date_of(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string())
}

fn group_value(data: &Dataset, g: &Group) -> Value {
    let mut row = Map::new();
    let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::String(s.to_string()));
    row.insert("partner_id".into(), text(g.partner));
    row.insert(
        "partner_name".into(),
        text(
            g.partner
                .and_then(|p| data.partner(p))
                .map(|p| p.name.as_str()),
        ),
    );
    row.insert(
        "doc_type".into(),
        text(g.doc_type.map(|d| data.doc_types[d as usize].0.as_str())),
    );
    row.insert(
        "doc_name".into(),
        text(g.doc_type.map(|d| data.doc_types[d as usize].1.as_str())),
    );
    row.insert("direction".into(), text(g.direction.map(Direction::name)));
    row.insert(
        "day".into(),
        g.day.map_or(Value::Null, |d| Value::String(date_of(d))),
    );
    row.insert("start".into(), Value::String(date_of(g.start)));
    row.insert("end".into(), Value::String(date_of(g.end)));
    if let Value::Object(counts) = serde_json::to_value(g.counts).expect("counts serialise") {
        row.extend(counts);
    }
    let rates = g.counts.rates();
    for name in RATE_NAMES {
        row.insert(
            name.into(),
            rates.get(name).flatten().map_or(Value::Null, Value::from),
        );
    }
    Value::Object(row)
}

fn metrics_fn(context: &DataContext, args: &Args, withheld: bool) -> tera::Result<Value> {
    let query = MetricQuery::from_args(args, &context.data, None, "doc_type,direction")?;
    if withheld {
        return Ok(json!([]));
    }
    let groups = query
        .run(&context.data)
        .map_err(|e| args.error(e.to_string()))?;
    Ok(Value::Array(
        groups
            .iter()
            .map(|g| group_value(&context.data, g))
            .collect(),
    ))
}

// ---- incidents ------------------------------------------------------------------------------

/// Which incidents to list.
pub struct IncidentQuery {
    pub partners: Option<Vec<String>>,
    pub statuses: Option<Vec<IncidentStatus>>,
    pub doc_type: Option<String>,
    pub related: Option<String>,
    pub error_code: Option<String>,
    pub severity: Option<String>,
    pub limit: Option<usize>,
}

impl IncidentQuery {
    /// `status` is a comma list of contract statuses, `live` (open, investigating,
    /// awaiting_partner) or `all` (the default).
    pub fn from_args(args: &Args) -> tera::Result<IncidentQuery> {
        let statuses = match args.string("status")?.as_deref() {
            None | Some("all") => None,
            Some("live") => Some(IncidentStatus::ALL.into_iter().filter(|s| s.is_live()).collect()),
            Some(list) => Some(
                list.split(',')
                    .map(|s| IncidentStatus::parse(s.trim()).ok_or_else(|| args.error(format!("unknown status `{}` (use open, investigating, awaiting_partner, resolved, closed, live or all)", s.trim()))))
                    .collect::<tera::Result<Vec<_>>>()?,
            ),
        };
        Ok(IncidentQuery {
            partners: args.list("partner")?,
            statuses,
            doc_type: args.string("doc_type")?,
            related: args.string("related")?,
            error_code: args.string("error_code")?,
            severity: args.string("severity")?,
            limit: args.number("limit")?.map(|l| l as usize),
        })
    }

    /// Matching incidents, most recently opened first.
    pub fn run<'d>(&self, data: &'d Dataset) -> Vec<&'d Incident> {
        let mut list: Vec<&Incident> = data
            .incidents
            .iter()
            .filter(|i| {
                self.partners
                    .as_ref()
                    .is_none_or(|p| p.contains(&i.partner_id))
            })
            .filter(|i| self.statuses.as_ref().is_none_or(|s| s.contains(&i.status)))
            .filter(|i| self.doc_type.as_ref().is_none_or(|d| &i.doc_type == d))
            .filter(|i| {
                self.related
                    .as_ref()
                    .is_none_or(|r| i.related_kb.contains(r))
            })
            .filter(|i| self.error_code.as_ref().is_none_or(|c| &i.error.code == c))
            .filter(|i| {
                self.severity.as_ref().is_none_or(|s| {
                    serde_json::to_value(i.severity)
                        .ok()
                        .as_ref()
                        .and_then(Value::as_str)
                        == Some(s)
                })
            })
            .collect();
        list.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then_with(|| a.id.cmp(&b.id)));
        if let Some(limit) = self.limit {
            list.truncate(limit);
        }
        list
    }
}

fn incident_value(context: &DataContext, i: &Incident) -> Value {
    let mut value = serde_json::to_value(i).expect("incident serialises");
    value["status_label"] = i.status.label().into();
    value["is_live"] = i.status.is_live().into();
    value["opened"] = i.opened_at.format("%Y-%m-%d %H:%M UTC").to_string().into();
    value["page"] = context
        .error_code_page(&i.error.code)
        .map_or(Value::Null, Value::String);
    value["partner_page"] = context
        .partner_page(&i.partner_id)
        .map_or(Value::Null, Value::String);
    value["related"] = i
        .related_kb
        .iter()
        .map(|id| match context.doc(id) {
            Some((page, title)) => json!({"id": id, "title": title, "page": page}),
            None => json!({"id": id, "title": id, "page": null}),
        })
        .collect();
    value
}

fn incidents_fn(context: &DataContext, args: &Args, withheld: bool) -> tera::Result<Value> {
    let query = IncidentQuery::from_args(args)?;
    if withheld {
        return Ok(json!([]));
    }
    Ok(Value::Array(
        query
            .run(&context.data)
            .into_iter()
            .map(|i| incident_value(context, i))
            .collect(),
    ))
}

pub fn incident_values(context: &DataContext, incidents: &[&Incident]) -> Vec<Value> {
    incidents
        .iter()
        .map(|i| incident_value(context, i))
        .collect()
}

/// Every error code with how many incidents carry it (and how many are live), by code.
pub fn error_code_summaries(context: &DataContext) -> Vec<Value> {
    let mut by_code: BTreeMap<&str, Vec<&Incident>> = BTreeMap::new();
    for i in &context.data.incidents {
        by_code.entry(i.error.code.as_str()).or_default().push(i);
    }
    by_code
        .into_iter()
        .map(|(code, list)| {
            let latest = list.iter().map(|i| i.opened_at).max();
            json!({
                "code": code,
                "page": context.error_code_page(code),
                "incidents": list.len(),
                "live": list.iter().filter(|i| i.status.is_live()).count(),
                "category": list[0].error.category,
                "source": list[0].error.source,
                "latest": latest.map(|t| t.format("%Y-%m-%d").to_string()),
            })
        })
        .collect()
}

fn error_codes_fn(context: &DataContext, _: &Args, withheld: bool) -> tera::Result<Value> {
    Ok(if withheld {
        json!([])
    } else {
        Value::Array(error_code_summaries(context))
    })
}

fn as_of_fn(context: &DataContext, _: &Args, withheld: bool) -> tera::Result<Value> {
    Ok(match context.data.as_of() {
        Some(t) if !withheld => Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        _ => Value::String("n/a".into()),
    })
}

fn data_available_fn(_: &DataContext, _: &Args, withheld: bool) -> tera::Result<Value> {
    Ok(Value::Bool(!withheld))
}

// ---- filters --------------------------------------------------------------------------------

fn decimals(args: &HashMap<String, Value>, default: usize) -> usize {
    args.get("decimals")
        .and_then(Value::as_u64)
        .map_or(default, |d| d.min(6) as usize)
}

/// `1234567 | number` -> `1,234,567`; `number(decimals=2)`.
fn number_filter(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let Some(n) = value.as_f64() else {
        return Ok(Value::String("n/a".into()));
    };
    Ok(Value::String(format_number(n, decimals(args, 0))))
}

pub fn format_number(n: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, n.abs());
    let (whole, fraction) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if n < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    match fraction {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A rate (0.0 to 1.0) as a percentage: `0.0247 | percent` -> `2.5%`; null is `n/a`.
fn percent_filter(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(format_percent(
        value.as_f64(),
        decimals(args, 1),
    )))
}

pub fn format_percent(rate: Option<f64>, decimals: usize) -> String {
    match rate {
        Some(r) if r.is_finite() => format!("{:.*}%", decimals, r * 100.0),
        _ => "n/a".to_string(),
    }
}

/// Minutes as a duration: `95 | duration` -> `1 h 35 min`; `2900` -> `2 d 0 h`.
fn duration_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(value.as_f64().map_or_else(
        || "n/a".to_string(),
        |m| format_minutes(m.round() as i64),
    )))
}

pub fn format_minutes(minutes: i64) -> String {
    let m = minutes.abs();
    let sign = if minutes < 0 { "-" } else { "" };
    match m {
        0..60 => format!("{sign}{m} min"),
        60..1440 => format!("{sign}{} h {:02} min", m / 60, m % 60),
        _ => format!("{sign}{} d {} h", m / 1440, (m % 1440) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_percent_and_duration_formats() {
        assert_eq!(format_number(1234567.0, 0), "1,234,567");
        assert_eq!(format_number(999.0, 0), "999");
        assert_eq!(format_number(-1234.5, 1), "-1,234.5");
        assert_eq!(format_percent(Some(0.02467), 1), "2.5%");
        assert_eq!(format_percent(Some(0.0), 1), "0.0%");
        assert_eq!(format_percent(None, 1), "n/a");
        assert_eq!(format_minutes(45), "45 min");
        assert_eq!(format_minutes(95), "1 h 35 min");
        assert_eq!(format_minutes(2900), "2 d 0 h");
    }

    #[test]
    fn scopes_record_use_and_restore_the_outer_scope() {
        let ((_, inner), outer) = scoped(false, || {
            touch();
            scoped(true, || assert!(touch()))
        });
        assert_eq!(
            inner,
            DataUse {
                used: true,
                withheld: true
            }
        );
        assert_eq!(
            outer,
            DataUse {
                used: true,
                withheld: false
            }
        );
        let ((), unused) = scoped(false, || ());
        assert!(!unused.used);
    }
}
