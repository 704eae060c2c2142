//! The Salesforce CRM source end to end: `kbpub sim` (its Salesforce org and the Trading Grid
//! contract) as a real server on loopback, `kbpub data pull` with a `kind = "salesforce"` source
//! (client credentials and JWT bearer with an `openssl` key), paged SOQL, then `kbpub build`
//! showing a partner's open CRM cases next to the Trading Grid data, the template functions,
//! hostile CRM strings shown as text, and failures that name what to fix and never the secret.

mod common;

use common::sim::Sim;
use common::*;
use kbpub::sim::trading_grid_data::hostile_strings;
use kbpub::text::visible;
use serde_json::{Value, json};

const TG_TOKEN: &str = "tg-secret-5f3a9c17e2";
const SECRET: &str = "kbpub-consumer-secret";

/// The sample knowledge base with its Trading Grid source at `sim` and a Salesforce source
/// (`source` holds its credential keys and any more settings).
fn kb_with_crm(sim: &Sim, source: &str) -> Kb {
    let kb = Kb::sample();
    kb.replace("kbpub.toml", "http://127.0.0.1:8787", &sim.url);
    kb.append(
        "kbpub.toml",
        &format!(
            "[[data.sources]]\nname = \"crm\"\nkind = \"salesforce\"\nmy_domain = \"{}/salesforce/mydomain\"\nconsumer_key = \"kbpub-consumer-key\"\n{source}\n",
            sim.url
        ),
    );
    kb
}

const CLIENT_CREDENTIALS: &str = "secret_env = \"SF_SECRET\"";

fn pull(kb: &Kb, secret: &str, more: &[(&str, &str)]) -> Run {
    let mut env = vec![
        ("KBPUB_TRADING_GRID_TOKEN", TG_TOKEN),
        ("SF_SECRET", secret),
    ];
    env.extend_from_slice(more);
    kb.run_env(&["data", "pull"], &env)
}

fn control(sim: &Sim, what: &str, body: Value) {
    let response = reqwest::blocking::Client::new()
        .post(format!("{}/__sim/salesforce/{what}", sim.url))
        .json(&body)
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "{what}: {}",
        response.status()
    );
}

fn stats(sim: &Sim) -> Value {
    reqwest::blocking::get(format!("{}/__sim/salesforce/stats", sim.url))
        .and_then(|r| r.json())
        .unwrap()
}

fn main_text(html: &Html) -> String {
    select(html, "main").iter().flat_map(|m| m.text()).collect()
}

#[test]
fn accounts_contacts_and_open_cases_are_pulled_page_by_page_and_shown_on_partner_pages() {
    let sim = Sim::start(&["--salesforce-batch-size", "2"]);
    let kb = kb_with_crm(&sim, CLIENT_CREDENTIALS);
    kb.write(
        "content/crm-check.md",
        "---\nid: crm-check\ntitle: CRM check\ntype: notice\nowner: ops@ops.example.com\nreview_by: 2027-04-30\n---\n\n{% set a = account(partner=\"ACME-RETAIL\") %}Account: {{ a.name }} owned by {{ a.owner }}.\n\n\
         Escalation: {% for c in contacts(partner=\"ACME-RETAIL\", role=\"EDI escalation\") %}{{ c.name }} <{{ c.email }}>{% endfor %}.\n\n\
         New cases: {% for c in cases(partner=\"ACME-RETAIL\", status=\"New\") %}{{ c.number }}{% endfor %}.\n\n\
         {% set n = account(partner=\"NOBODY\") %}Unknown: {% if n %}found{% else %}none{% endif %}.\n",
    );
    let run = pull(&kb, SECRET, &[]).ok();
    assert!(!run.stdout().contains(SECRET) && !run.stderr().contains(SECRET));
    let snapshot = kb.read("data/crm.json");
    assert!(!snapshot.contains(SECRET));
    let stored: Value = serde_json::from_str(&snapshot).unwrap();
    assert_eq!(
        stored["data"]["crm"]["accounts"].as_array().unwrap().len(),
        5,
        "accounts with a partner id only"
    );
    let cases: Vec<&str> = stored["data"]["crm"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_str().unwrap())
        .collect();
    assert_eq!(
        cases,
        ["00001001", "00001002", "00001003"],
        "open exception cases only"
    );
    // 5 accounts, 5 contacts and 3 cases in batches of 2: 3 + 3 + 2 queries, each batch a
    // page of progress, as Trading Grid reports its pages.
    assert!(stats(&sim)["GET"].as_u64().unwrap() >= 8, "{}", stats(&sim));
    let stderr = run.stderr();
    for line in [
        "crm: accounts 5 records, 3 pages",
        "crm: contacts 5 records, 3 pages",
        "crm: cases 3 records, 2 pages",
    ] {
        assert!(stderr.lines().any(|l| l == line), "{line}: {stderr}");
    }
    let report = kb
        .run_env(
            &["data", "pull", "--source", "crm", "--format", "json"],
            &[("SF_SECRET", SECRET)],
        )
        .ok()
        .json();
    assert_eq!(report["sources"][0]["pages"], 8, "{report:#}");
    let tg_snapshot = kb.read("data/trading-grid.json");
    assert!(
        !tg_snapshot.contains("\"crm\""),
        "a Trading Grid snapshot has no CRM part"
    );

    kb.run(&["build"]).ok();
    let acme = kb.html("live/partners/acme-retail.html");
    let headings: Vec<String> = select(&acme, ".doc-body h2")
        .iter()
        .map(|h| h.text().collect())
        .collect();
    let cases_at = headings
        .iter()
        .position(|h| h.ends_with("Open CRM cases"))
        .unwrap_or_else(|| panic!("an open cases section: {headings:?}"));
    assert!(
        headings[..cases_at].iter().any(|h| h.contains("scorecard")),
        "{headings:?}"
    );
    let text = main_text(&acme);
    assert_contains(&text, "00001001");
    assert_contains(&text, "856 ASNs rejected: missing SSCC-18 labels");
    assert!(
        text.contains("00001002") && !text.contains("00000987"),
        "closed cases stay out"
    );
    assert!(
        !text.contains("Portal password reset"),
        "only exception cases"
    );
    let initech = main_text(&kb.html("live/partners/initech-mfg.html"));
    assert_contains(&initech, "No open cases.");
    let without_account = main_text(&kb.html("live/partners/stark-components.html"));
    assert!(
        !without_account.contains("Open CRM cases"),
        "no account, no CRM section"
    );
    let check = main_text(&kb.html("crm-check.html"));
    assert_contains(
        &check,
        "Account: Acme Retail Inc. owned by Dana Account-Owner.",
    );
    assert_contains(&check, "Escalation: Ana Ruiz <ana.ruiz@acme.example>.");
    assert_contains(&check, "New cases: 00001002.");
    assert_contains(&check, "Unknown: none.");
}

#[test]
fn the_jwt_bearer_flow_pulls_and_an_expired_session_is_granted_again() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = common::salesforce::rsa_key_pair(dir.path(), "app");
    let sim = Sim::start(&["--salesforce-jwt-public-key", public.to_str().unwrap()]);
    let kb = kb_with_crm(
        &sim,
        "key_file_env = \"SF_KEY_FILE\"\nusername = \"integration@kbpub.test\"\napi_version = \"62.0\"",
    );
    // The session expires after the first query: the next one answers 401 INVALID_SESSION_ID.
    control(
        &sim,
        "faults",
        json!([{"method": "GET", "path": "/query", "status": 401}]),
    );
    let run = pull(&kb, "", &[("SF_KEY_FILE", key.to_str().unwrap())]).ok();
    let key_text = std::fs::read_to_string(&key).unwrap();
    let body = key_text.lines().nth(1).unwrap();
    assert!(!run.stdout().contains(body) && !run.stderr().contains(body));
    let snapshot = kb.read("data/crm.json");
    assert!(snapshot.contains("00001001"));

    let wrong_user = kb_with_crm(
        &sim,
        "key_file_env = \"SF_KEY_FILE\"\nusername = \"intruder@kbpub.test\"",
    );
    let run = pull(&wrong_user, "", &[("SF_KEY_FILE", key.to_str().unwrap())]).fails_with(1);
    run.assert_stderr_has("user hasn't approved this consumer");
    run.assert_stderr_has("pre-authorise the user");
}

#[test]
fn hostile_crm_strings_show_as_text_and_inject_nothing() {
    let sim = Sim::start(&[]);
    let hostile = hostile_strings();
    let cases: Vec<Value> = hostile
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"Id": format!("500H{i}"), "CaseNumber": format!("H-{i}"), "AccountId": "001H", "Subject": s,
                             "Status": "New", "Priority": s, "Type": "Exception", "IsClosed": false}))
        .collect();
    control(
        &sim,
        "seed",
        json!({
            "Account": [{"Id": "001H", "Name": hostile[0], "Partner_Id__c": "ACME-RETAIL", "OwnerId": null}],
            "Contact": [{"Id": "003H", "AccountId": "001H", "Name": hostile[3], "Escalation_Role__c": "EDI escalation"}],
            "Case": cases,
        }),
    );
    let kb = kb_with_crm(&sim, CLIENT_CREDENTIALS);
    kb.write(
        "content/crm-check.md",
        "---\nid: crm-check\ntitle: CRM check\ntype: notice\nowner: ops@ops.example.com\nreview_by: 2027-04-30\n---\n\n{% set a = account(partner=\"ACME-RETAIL\") %}{{ a.name }}\n\n{% for c in contacts(partner=\"ACME-RETAIL\") %}{{ c.name }}{% endfor %}\n",
    );
    pull(&kb, SECRET, &[]).ok();
    kb.run(&["build"]).ok();
    for page in ["live/partners/acme-retail.html", "crm-check.html"] {
        let html = kb.html(page);
        let body = select(&html, "main");
        for element in body
            .iter()
            .flat_map(|m| m.descendants())
            .filter_map(|n| n.value().as_element())
        {
            assert!(
                !["script", "iframe", "object", "embed"].contains(&element.name())
                    && !element.name().contains(':'),
                "{page}: injected <{}>",
                element.name()
            );
            for (name, value) in element.attrs() {
                assert!(!name.starts_with("on"), "{page}: injected {name}");
                assert!(
                    !value
                        .trim_start()
                        .to_ascii_lowercase()
                        .starts_with("javascript:"),
                    "{page}: {value}"
                );
            }
        }
    }
    let acme = main_text(&kb.html("live/partners/acme-retail.html"));
    for s in hostile
        .iter()
        .filter(|s| !s.contains('\n') && !s.starts_with("LONG-"))
    {
        assert!(
            acme.contains(&visible(s)),
            "not shown as text on the partner page: {s:?}"
        );
    }
    let check = main_text(&kb.html("crm-check.html"));
    assert_contains(&check, "<script>alert('kbpub-xss')</script> Acme");
    assert!(
        check.contains("{{ get_env(name=\"HOME\") }}"),
        "template syntax is text: {check}"
    );
}

#[test]
fn crm_data_holding_the_access_token_is_never_stored() {
    let sim = Sim::start(&["--salesforce-echo-token"]);
    let kb = kb_with_crm(&sim, CLIENT_CREDENTIALS);
    let run = kb
        .run_env(
            &["data", "pull", "--source", "crm"],
            &[("SF_SECRET", SECRET)],
        )
        .fails_with(1);
    assert!(
        run.stderr()
            .contains("the data holds the access token itself; refusing to store it"),
        "{}",
        run.stderr()
    );
    assert!(
        !run.stderr().contains("00D000000000001!"),
        "the token is not shown: {}",
        run.stderr()
    );
    assert!(!kb.path().join("data/crm.json").exists());
}

#[test]
fn refused_credentials_and_invalid_records_fail_the_pull_naming_what_to_fix() {
    let sim = Sim::start(&[]);
    let kb = kb_with_crm(&sim, CLIENT_CREDENTIALS);
    pull(&kb, SECRET, &[]).ok();
    let before = std::fs::read(kb.path().join("data/crm.json")).unwrap();
    let wrong = "wrong-consumer-secret-7731";
    let run = pull(&kb, wrong, &[]).fails_with(1);
    assert!(run.stderr().contains("invalid_client"), "{}", run.stderr());
    run.assert_stderr_has("check the credential in `SF_SECRET`");
    assert!(!run.stdout().contains(wrong) && !run.stderr().contains(wrong));
    assert_eq!(
        std::fs::read(kb.path().join("data/crm.json")).unwrap(),
        before,
        "the snapshot stays"
    );
    let run = kb
        .run_env(&["data", "pull"], &[("KBPUB_TRADING_GRID_TOKEN", TG_TOKEN)])
        .fails_with(1);
    run.assert_stderr_has("`SF_SECRET` is not set");

    control(
        &sim,
        "seed",
        json!({"Account": [{"Id": "001X", "Name": "", "Partner_Id__c": "ACME-RETAIL"}]}),
    );
    let run = pull(&kb, SECRET, &[]).fails_with(1);
    assert!(
        run.stderr()
            .contains("Account[0] (Id 001X): `Name` is missing or empty"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read(kb.path().join("data/crm.json")).unwrap(),
        before
    );
}

#[test]
fn salesforce_sources_are_checked_before_anything_is_sent() {
    let sim = Sim::start(&[]);
    for (settings, expected) in [
        (
            "secret_env = \"A\"\nkey_file_env = \"B\"",
            "set exactly one of `key_file_env`",
        ),
        (
            "key_file_env = \"B\"",
            "`username` (the user to run as) is required",
        ),
        (
            "secret_env = \"A\"\npartner_id_field = \"Partner_Id__c FROM User --\"",
            "`partner_id_field` must be a Salesforce API name",
        ),
    ] {
        let kb = kb_with_crm(&sim, settings);
        let run = pull(&kb, SECRET, &[]).fails_with(1);
        assert!(
            run.stderr().contains("data source `crm`") && run.stderr().contains(expected),
            "{}",
            run.stderr()
        );
    }
}

#[test]
fn under_the_stale_policy_a_failed_crm_pull_keeps_the_previous_snapshot() {
    let sim = Sim::start(&[]);
    let kb = kb_with_crm(
        &sim,
        "secret_env = \"SF_SECRET\"\non_failure = \"stale\"\nmax_age = \"48h\"",
    );
    pull(&kb, SECRET, &[]).ok();
    let before = std::fs::read(kb.path().join("data/crm.json")).unwrap();
    control(
        &sim,
        "faults",
        json!([{"method": "GET", "path": "/query", "status": 503, "times": 100}]),
    );
    let run = pull(&kb, SECRET, &[]).ok();
    assert!(
        run.stderr().contains("crm: pull failed")
            && run.stderr().contains("kept the previous snapshot"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read(kb.path().join("data/crm.json")).unwrap(),
        before
    );
    assert!(kb.path().join("data/crm.stale.json").is_file());
    kb.run(&["build"]).ok();
}
