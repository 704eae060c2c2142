//! `.kb/policy.toml` and `.kb/people.toml`: who may approve which documents. The policy's rules
//! match documents by path glob and/or audience and say how many approvals a document needs, from
//! which groups, whether its authors are excluded and how long an approval lasts; `people.toml`
//! lists the people and their groups. Both are parsed strictly, every problem is reported with
//! its position, and a broken policy is an error: approval gating fails closed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use chrono::Duration;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use toml::Spanned;

use crate::config::toml_diagnostic;
use crate::content::{Audience, Page, PageKind, Site};
use crate::diag::{Diagnostic, Location};

pub const POLICY_FILE: &str = ".kb/policy.toml";
pub const PEOPLE_FILE: &str = ".kb/people.toml";

/// How long an approval lasts when a rule does not say.
const DEFAULT_MAX_AGE: &str = "365d";
/// How long an emergency approval lasts when the policy does not say.
const DEFAULT_EMERGENCY_VALIDITY: &str = "72h";

#[derive(Debug)]
pub struct Policy {
    /// Approvals count only from commits signed by one of the approver's keys.
    pub require_signed: bool,
    pub rules: Vec<Rule>,
    pub emergency: Option<EmergencyRule>,
    /// Who approves changes to the policy and people files (`[owners]`); without it, any
    /// committed change is in force at once.
    pub owners: Option<OwnersRule>,
    pub people: People,
    text: Arc<str>,
}

/// The index of the rule governing each page (by page index), and warnings.
pub type Assignment = (Vec<Option<usize>>, Vec<Diagnostic>);

#[derive(Debug)]
pub struct Rule {
    pub name: String,
    /// Globs over paths inside `content/` (`partners/**`); empty matches every path.
    pub paths: Vec<String>,
    matcher: GlobSet,
    pub audience: Option<Audience>,
    /// How many distinct eligible people must approve.
    pub approvals: usize,
    /// Members of these groups may approve.
    pub groups: Vec<String>,
    /// Each counted approval must come from a different group.
    pub distinct_groups: bool,
    /// People who authored or committed changes since the last approved state may not approve.
    pub exclude_authors: bool,
    pub max_age: Duration,
    pub max_age_text: String,
    pub precedence: Option<i64>,
    name_span: Range<usize>,
    path_spans: Vec<Range<usize>>,
}

/// Who must approve a change to `.kb/policy.toml` or `.kb/people.toml` before it is in force.
#[derive(Debug)]
pub struct OwnersRule {
    pub groups: Vec<String>,
    /// How many distinct owners must approve.
    pub approvals: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwners {
    groups: Spanned<Vec<Spanned<String>>>,
    approvals: Option<usize>,
}

/// Who may approve with `--emergency`, and for how long such an approval lasts.
#[derive(Debug)]
pub struct EmergencyRule {
    pub groups: Vec<String>,
    pub valid_for: Duration,
    pub valid_for_text: String,
    pub exclude_authors: bool,
}

#[derive(Debug, Clone)]
pub struct Person {
    /// Lower-case e-mail address: how records and commits name the person.
    pub email: String,
    pub name: String,
    /// SSH public keys (`ssh-ed25519 AAAA... comment`) the person signs commits with.
    pub ssh_keys: Vec<String>,
    /// GPG key fingerprints the person signs commits with.
    pub gpg_keys: Vec<String>,
}

#[derive(Debug, Default)]
pub struct People {
    by_email: BTreeMap<String, Person>,
    /// Group name -> members' e-mail addresses.
    groups: BTreeMap<String, BTreeSet<String>>,
}

impl People {
    pub fn get(&self, email: &str) -> Option<&Person> {
        self.by_email.get(&email.to_lowercase())
    }

    pub fn is_member(&self, email: &str, group: &str) -> bool {
        self.groups
            .get(group)
            .is_some_and(|m| m.contains(&email.to_lowercase()))
    }

    /// The groups among `groups` that `email` belongs to.
    pub fn memberships<'g>(&self, email: &str, groups: &'g [String]) -> Vec<&'g str> {
        groups
            .iter()
            .filter(|g| self.is_member(email, g))
            .map(String::as_str)
            .collect()
    }

    /// Every person, by e-mail address.
    pub fn all(&self) -> impl Iterator<Item = &Person> {
        self.by_email.values()
    }

    /// `Name <email>`, or the address alone for someone not in `people.toml`.
    pub fn display(&self, email: &str) -> String {
        match self.get(email) {
            Some(p) => format!("{} <{}>", p.name, p.email),
            None => email.to_string(),
        }
    }

    fn members(&self, groups: &[String]) -> BTreeSet<&str> {
        groups
            .iter()
            .filter_map(|g| self.groups.get(g))
            .flatten()
            .map(String::as_str)
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeople {
    #[serde(default)]
    person: Vec<RawPerson>,
    #[serde(default)]
    groups: BTreeMap<String, Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    email: Spanned<String>,
    name: String,
    #[serde(default)]
    ssh_keys: Vec<Spanned<String>>,
    #[serde(default)]
    gpg_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    require_signed: bool,
    #[serde(default)]
    rule: Vec<RawRule>,
    emergency: Option<RawEmergency>,
    owners: Option<RawOwners>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    #[serde(default)]
    paths: Vec<Spanned<String>>,
    audience: Option<Spanned<String>>,
    approvals: Spanned<i64>,
    groups: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    distinct_groups: bool,
    exclude_authors: Option<bool>,
    max_age: Option<Spanned<String>>,
    precedence: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmergency {
    groups: Spanned<Vec<Spanned<String>>>,
    valid_for: Option<Spanned<String>>,
    exclude_authors: Option<bool>,
}

/// Collects the problems of one file, each at its position.
struct Problems {
    file: &'static str,
    text: Arc<str>,
    errors: Vec<Diagnostic>,
}

impl Problems {
    fn new(file: &'static str, text: &Arc<str>) -> Self {
        Problems {
            file,
            text: text.clone(),
            errors: Vec::new(),
        }
    }

    fn at(&self, span: Range<usize>) -> Location {
        Location::new(self.file, self.text.clone(), span)
    }

    fn push(&mut self, span: Range<usize>, message: impl Into<String>, help: impl Into<String>) {
        let d = Diagnostic::error("policy", message)
            .at(self.at(span))
            .help(help);
        self.errors.push(d);
    }
}

impl Policy {
    /// Reads `.kb/policy.toml` and `.kb/people.toml` under `root`. `Ok(None)` when the knowledge
    /// base has no policy (approval gating is not set up); every problem otherwise.
    pub fn load(root: &Path) -> Result<Option<Policy>, Vec<Diagnostic>> {
        let policy_path = root.join(POLICY_FILE);
        if !policy_path.exists() {
            return Ok(None);
        }
        let policy_text = read(root, POLICY_FILE)?;
        let people_text = read(root, PEOPLE_FILE)?;
        let people = People::parse(&people_text)?;
        Policy::parse(&policy_text, people).map(Some)
    }

    /// Parses the policy text against already parsed people.
    pub fn parse(text: &str, people: People) -> Result<Policy, Vec<Diagnostic>> {
        let text: Arc<str> = Arc::from(text);
        let raw: RawPolicy = toml::from_str(&text)
            .map_err(|e| vec![toml_diagnostic("policy", POLICY_FILE, &text, &e)])?;
        let mut problems = Problems::new(POLICY_FILE, &text);
        let mut rules = Vec::new();
        let mut names: HashMap<String, Range<usize>> = HashMap::new();
        for raw_rule in raw.rule {
            let span = raw_rule.name.span();
            if let Some(first) = names.insert(raw_rule.name.get_ref().clone(), span.clone()) {
                problems.errors.push(
                    Diagnostic::error(
                        "policy",
                        format!("two rules are named `{}`", raw_rule.name.get_ref()),
                    )
                    .at(problems.at(span.clone()))
                    .related(problems.at(first), "first used here")
                    .help("give every rule its own name"),
                );
            }
            if let Some(rule) = parse_rule(raw_rule, &people, &mut problems) {
                rules.push(rule);
            }
        }
        if rules.is_empty() && problems.errors.is_empty() {
            problems.push(
                0..0,
                "the policy has no rules",
                "add a `[[rule]]` that says who approves which documents",
            );
        }
        let owners = raw.owners.map(|o| OwnersRule {
            groups: group_names(&o.groups, &people, &mut problems),
            approvals: o.approvals.unwrap_or(1).max(1),
        });
        let emergency = raw
            .emergency
            .and_then(|e| parse_emergency(e, &people, &mut problems));
        if problems.errors.is_empty() {
            Ok(Policy {
                require_signed: raw.require_signed,
                rules,
                emergency,
                owners,
                people,
                text,
            })
        } else {
            Err(problems.errors)
        }
    }

    /// The rule governing each page (`None` for pages nobody has to approve: generated section
    /// pages, and pages no rule matches), plus warnings (a path glob matching no document).
    /// Two rules matching a document without one declaring a higher `precedence` is an error.
    pub fn assign(&self, site: &Site) -> Result<Assignment, Vec<Diagnostic>> {
        let mut assigned = vec![None; site.pages.len()];
        let mut conflicts: BTreeMap<(usize, usize), Vec<&str>> = BTreeMap::new();
        let mut glob_used = vec![Vec::new(); self.rules.len()];
        for (i, page) in site.pages.iter().enumerate() {
            if !is_gated(page) {
                continue;
            }
            let mut matching: Vec<usize> = Vec::new();
            for (r, rule) in self.rules.iter().enumerate() {
                let globs = rule.matcher.matches(&page.rel_path);
                glob_used[r].extend(globs.iter().copied());
                if (rule.paths.is_empty() || !globs.is_empty())
                    && rule.audience.is_none_or(|a| a == page.meta.audience)
                {
                    matching.push(r);
                }
            }
            let top = matching
                .iter()
                .map(|&r| self.rules[r].precedence.unwrap_or(0))
                .max();
            let winners: Vec<usize> = matching
                .into_iter()
                .filter(|&r| Some(self.rules[r].precedence.unwrap_or(0)) == top)
                .collect();
            if let [first, second, ..] = winners[..] {
                conflicts
                    .entry((first, second))
                    .or_default()
                    .push(&page.file);
            }
            assigned[i] = winners.first().copied();
        }
        let errors: Vec<Diagnostic> = conflicts
            .into_iter()
            .map(|((a, b), files)| self.conflict(a, b, &files))
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut warnings = Vec::new();
        for (r, rule) in self.rules.iter().enumerate() {
            for (g, span) in rule.path_spans.iter().enumerate() {
                if !glob_used[r].contains(&g) {
                    warnings.push(
                        Diagnostic::warning(
                            "policy",
                            format!(
                                "`{}` in rule `{}` matches no document",
                                rule.paths[g], rule.name
                            ),
                        )
                        .at(self.at(span.clone()))
                        .help(
                            "paths are globs inside `content/`, e.g. `partners/**` or `sops/*.md`",
                        ),
                    );
                }
            }
        }
        Ok((assigned, warnings))
    }

    fn conflict(&self, a: usize, b: usize, files: &[&str]) -> Diagnostic {
        let (ra, rb) = (&self.rules[a], &self.rules[b]);
        let shown: Vec<&str> = files.iter().take(3).copied().collect();
        let more = if files.len() > 3 {
            format!(" and {} more", files.len() - 3)
        } else {
            String::new()
        };
        Diagnostic::error(
            "policy",
            format!("rules `{}` and `{}` both match {}{more}, and neither has a higher `precedence`", ra.name, rb.name, shown.join(", ")),
        )
        .at(self.at(rb.name_span.clone()))
        .related(self.at(ra.name_span.clone()), "the other rule")
        .help("narrow one rule's `paths`/`audience`, or give the rule that should win a higher `precedence = N`")
    }

    fn at(&self, span: Range<usize>) -> Location {
        Location::new(POLICY_FILE, self.text.clone(), span)
    }

    /// Every distinct person who may approve under `rule`.
    pub fn eligible_count(&self, rule: &Rule) -> usize {
        self.people.members(&rule.groups).len()
    }
}

/// Pages someone has to approve: documents, the section pages written as `_index.md`
/// (generated section pages, whose source is empty, hold nothing to approve), and data-driven
/// pages (through their family: see `family`).
pub fn is_gated(page: &Page) -> bool {
    matches!(page.kind, PageKind::Document(_)) || !page.source.is_empty()
}

fn read(root: &Path, file: &'static str) -> Result<String, Vec<Diagnostic>> {
    std::fs::read_to_string(root.join(file)).map_err(|e| {
        let help = if file == PEOPLE_FILE {
            "a policy needs `.kb/people.toml` listing the people (`[[person]]` with `email` and `name`) and `[groups]`"
        } else {
            "check the file is readable UTF-8 text"
        };
        vec![Diagnostic::error("policy", format!("cannot read {file}: {e}")).in_file(file).help(help)]
    })
}

impl People {
    pub fn parse(text: &str) -> Result<People, Vec<Diagnostic>> {
        let text: Arc<str> = Arc::from(text);
        let raw: RawPeople = toml::from_str(&text)
            .map_err(|e| vec![toml_diagnostic("policy", PEOPLE_FILE, &text, &e)])?;
        let mut problems = Problems::new(PEOPLE_FILE, &text);
        let mut people = People::default();
        let mut first_seen: HashMap<String, Range<usize>> = HashMap::new();
        for person in raw.person {
            let email = person.email.get_ref().trim().to_lowercase();
            let span = person.email.span();
            if !is_email(&email) {
                problems.push(
                    span,
                    format!("`{}` is not an e-mail address", person.email.get_ref()),
                    "people are named by the e-mail address they commit with",
                );
                continue;
            }
            if let Some(first) = first_seen.insert(email.clone(), span.clone()) {
                problems.errors.push(
                    Diagnostic::error("policy", format!("`{email}` is listed twice"))
                        .at(problems.at(span))
                        .related(problems.at(first), "first listed here")
                        .help("list each person once"),
                );
                continue;
            }
            for key in &person.ssh_keys {
                let fields: Vec<&str> = key.get_ref().split_whitespace().collect();
                let known = ["ssh-", "ecdsa-", "sk-"];
                if fields.len() < 2 || !known.iter().any(|k| fields[0].starts_with(k)) {
                    problems.push(
                        key.span(),
                        format!("`{}` is not an SSH public key", key.get_ref()),
                        "paste the public key line, e.g. the contents of `~/.ssh/id_ed25519.pub`",
                    );
                }
            }
            people.by_email.insert(
                email.clone(),
                Person {
                    email,
                    name: person.name,
                    ssh_keys: person
                        .ssh_keys
                        .iter()
                        .map(|k| {
                            k.get_ref()
                                .split_whitespace()
                                .take(2)
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .collect(),
                    gpg_keys: person.gpg_keys,
                },
            );
        }
        for (group, members) in raw.groups {
            let mut set = BTreeSet::new();
            for member in members {
                let email = member.get_ref().trim().to_lowercase();
                if people.by_email.contains_key(&email) {
                    set.insert(email);
                } else {
                    problems.push(
                        member.span(),
                        format!("group `{group}` names `{}`, who is not a `[[person]]`", member.get_ref()),
                        format!("add `[[person]]` with `email = \"{email}\"` and a `name`, or fix the address{}", suggest(&email, people.by_email.keys())),
                    );
                }
            }
            people.groups.insert(group, set);
        }
        if problems.errors.is_empty() {
            Ok(people)
        } else {
            Err(problems.errors)
        }
    }
}

fn is_email(s: &str) -> bool {
    s.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
    })
}

fn parse_rule(raw: RawRule, people: &People, problems: &mut Problems) -> Option<Rule> {
    let before = problems.errors.len();
    let name = raw.name.get_ref().clone();
    let name_span = raw.name.span();
    let groups = group_names(&raw.groups, people, problems);
    let approvals = *raw.approvals.get_ref();
    if approvals < 1 {
        problems.push(
            raw.approvals.span(),
            format!("rule `{name}` asks for {approvals} approvals"),
            "every rule needs `approvals = 1` or more: nothing is published unapproved",
        );
    }
    let approvals = approvals.max(1) as usize;
    if raw.distinct_groups && approvals > groups.len() {
        problems.push(
            raw.approvals.span(),
            format!("rule `{name}` needs {approvals} approvals from distinct groups but lists {} group(s)", groups.len()),
            "list at least as many groups as approvals, or drop `distinct_groups`",
        );
    }
    let eligible = people.members(&groups).len();
    if problems.errors.len() == before && approvals > eligible {
        problems.push(
            raw.approvals.span(),
            format!(
                "rule `{name}` needs {approvals} approvals but its groups have {eligible} member(s)"
            ),
            "add people to the rule's groups in `.kb/people.toml`, or lower `approvals`",
        );
    }
    let audience = raw.audience.and_then(|a| match a.get_ref().as_str() {
        "internal" => Some(Audience::Internal),
        "partner" => Some(Audience::Partner),
        other => {
            problems.push(
                a.span(),
                format!("unknown audience `{other}`"),
                "use `internal` or `partner`",
            );
            None
        }
    });
    let mut builder = GlobSetBuilder::new();
    for glob in &raw.paths {
        let pattern = glob.get_ref();
        if pattern.starts_with("content/") || pattern.starts_with('/') {
            problems.push(
                glob.span(),
                format!("`{pattern}`: paths are relative to `content/`"),
                format!(
                    "write `{}`",
                    pattern
                        .trim_start_matches('/')
                        .trim_start_matches("content/")
                ),
            );
            continue;
        }
        match GlobBuilder::new(pattern).literal_separator(true).build() {
            Ok(g) => {
                builder.add(g);
            }
            Err(e) => problems.push(
                glob.span(),
                format!("bad glob `{pattern}`: {}", e.kind()),
                "`*` matches inside one folder, `**` across folders: `partners/**`, `sops/*.md`",
            ),
        }
    }
    let matcher = builder.build().unwrap_or_else(|_| GlobSet::empty());
    let (max_age, max_age_text) = duration(raw.max_age.as_ref(), DEFAULT_MAX_AGE, problems);
    if problems.errors.len() > before {
        return None;
    }
    Some(Rule {
        name,
        paths: raw.paths.iter().map(|p| p.get_ref().clone()).collect(),
        path_spans: raw.paths.iter().map(Spanned::span).collect(),
        matcher,
        audience,
        approvals,
        groups,
        distinct_groups: raw.distinct_groups,
        exclude_authors: raw.exclude_authors.unwrap_or(true),
        max_age,
        max_age_text,
        precedence: raw.precedence,
        name_span,
    })
}

fn parse_emergency(
    raw: RawEmergency,
    people: &People,
    problems: &mut Problems,
) -> Option<EmergencyRule> {
    let before = problems.errors.len();
    let groups = group_names(&raw.groups, people, problems);
    let (valid_for, valid_for_text) =
        duration(raw.valid_for.as_ref(), DEFAULT_EMERGENCY_VALIDITY, problems);
    (problems.errors.len() == before).then(|| EmergencyRule {
        groups,
        valid_for,
        valid_for_text,
        exclude_authors: raw.exclude_authors.unwrap_or(true),
    })
}

/// The group names of a rule, each checked against `people.toml`.
fn group_names(
    raw: &Spanned<Vec<Spanned<String>>>,
    people: &People,
    problems: &mut Problems,
) -> Vec<String> {
    if raw.get_ref().is_empty() {
        problems.push(
            raw.span(),
            "`groups` is empty",
            "name the groups (from `.kb/people.toml`) whose members may approve",
        );
    }
    let mut groups = Vec::new();
    for group in raw.get_ref() {
        let name = group.get_ref();
        if people.groups.contains_key(name) {
            groups.push(name.clone());
        } else {
            problems.push(
                group.span(),
                format!("unknown group `{name}`"),
                format!(
                    "groups are defined under `[groups]` in `.kb/people.toml`{}",
                    suggest(name, people.groups.keys())
                ),
            );
        }
    }
    groups
}

/// Parses a human duration (`365d`, `72h`, `2w`), or the default when absent.
fn duration(
    raw: Option<&Spanned<String>>,
    default: &str,
    problems: &mut Problems,
) -> (Duration, String) {
    let text = raw.map_or(default, |r| r.get_ref().as_str());
    match parse_duration(text) {
        Ok(d) => (d, text.to_string()),
        Err(message) => {
            problems.push(
                raw.map_or(0..0, Spanned::span),
                message,
                "write a duration such as `365d`, `12w` or `72h`",
            );
            (Duration::zero(), text.to_string())
        }
    }
}

/// `30d`, `72h`, `2w` -> a positive duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let std =
        humantime::parse_duration(text).map_err(|e| format!("`{text}` is not a duration: {e}"))?;
    match Duration::from_std(std) {
        Ok(d) if d > Duration::zero() => Ok(d),
        _ => Err(format!("`{text}` is not a positive duration")),
    }
}

fn suggest<'a>(wrong: &str, known: impl Iterator<Item = &'a String>) -> String {
    known
        .map(|k| (strsim::levenshtein(wrong, k), k))
        .filter(|(distance, _)| *distance <= 3)
        .min()
        .map(|(_, k)| format!("; did you mean `{k}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEOPLE: &str = r#"
[[person]]
email = "ana@example.com"
name = "Ana"

[[person]]
email = "bo@example.com"
name = "Bo"

[groups]
ops = ["ana@example.com", "bo@example.com"]
partners = ["bo@example.com"]
"#;

    fn people() -> People {
        People::parse(PEOPLE).unwrap()
    }

    fn positions(errors: &[Diagnostic]) -> Vec<String> {
        errors
            .iter()
            .map(|e| format!("{} {}", e.position(), e.message))
            .collect()
    }

    #[test]
    fn a_valid_policy_parses_with_defaults() {
        let policy = Policy::parse("[[rule]]\nname = \"all\"\napprovals = 1\ngroups = [\"ops\"]\n\n[emergency]\ngroups = [\"ops\"]\n", people()).unwrap();
        let rule = &policy.rules[0];
        assert!(rule.exclude_authors);
        assert_eq!(rule.max_age, Duration::days(365));
        assert_eq!(policy.emergency.unwrap().valid_for, Duration::hours(72));
    }

    #[test]
    fn unknown_keys_are_errors_with_position() {
        let errors = Policy::parse(
            "[[rule]]\nname = \"all\"\napprovals = 1\ngroups = [\"ops\"]\nquorum = 2\n",
            people(),
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].position(), ".kb/policy.toml:5:1");
        assert!(
            errors[0].message.contains("unknown field `quorum`"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn unknown_groups_and_bad_values_are_all_reported_with_positions() {
        let text = "[[rule]]\nname = \"a\"\napprovals = 0\ngroups = [\"opps\"]\naudience = \"world\"\nmax_age = \"soon\"\npaths = [\"content/x/**\"]\n";
        let errors = Policy::parse(text, people()).unwrap_err();
        let found = positions(&errors);
        assert_eq!(found.len(), 5, "{found:?}");
        assert!(
            found[0].starts_with(".kb/policy.toml:4:11 unknown group `opps`"),
            "{found:?}"
        );
        assert!(
            errors[0]
                .help
                .as_deref()
                .unwrap()
                .contains("did you mean `ops`")
        );
        assert!(
            found[1].starts_with(".kb/policy.toml:3:13 rule `a` asks for 0 approvals"),
            "{found:?}"
        );
        assert!(
            found[2].starts_with(".kb/policy.toml:5:12 unknown audience `world`"),
            "{found:?}"
        );
        assert!(
            found[3].starts_with(".kb/policy.toml:7:10 `content/x/**`: paths are relative"),
            "{found:?}"
        );
        assert!(
            found[4].starts_with(".kb/policy.toml:6:11 `soon` is not a duration"),
            "{found:?}"
        );
    }

    #[test]
    fn unknown_people_in_groups_are_errors_with_position() {
        let errors = People::parse("[[person]]\nemail = \"ana@example.com\"\nname = \"Ana\"\n[groups]\nops = [\"ana@example.com\", \"ana@exampel.com\"]\n").unwrap_err();
        assert_eq!(
            positions(&errors),
            [".kb/people.toml:5:27 group `ops` names `ana@exampel.com`, who is not a `[[person]]`"]
        );
        assert!(
            errors[0]
                .help
                .as_deref()
                .unwrap()
                .contains("did you mean `ana@example.com`")
        );
    }

    #[test]
    fn impossible_quorums_are_errors() {
        let errors = Policy::parse(
            "[[rule]]\nname = \"a\"\napprovals = 2\ngroups = [\"partners\"]\n",
            people(),
        )
        .unwrap_err();
        assert!(
            errors[0].message.contains("its groups have 1 member"),
            "{}",
            errors[0].message
        );
        let errors = Policy::parse(
            "[[rule]]\nname = \"a\"\napprovals = 2\ngroups = [\"ops\"]\ndistinct_groups = true\n",
            people(),
        )
        .unwrap_err();
        assert!(
            errors[0]
                .message
                .contains("from distinct groups but lists 1 group"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn durations_accept_days_hours_and_weeks() {
        assert_eq!(parse_duration("30d").unwrap(), Duration::days(30));
        assert_eq!(parse_duration("72h").unwrap(), Duration::hours(72));
        assert_eq!(parse_duration("2w").unwrap(), Duration::weeks(2));
        assert!(parse_duration("0d").is_err());
    }
}
