//! Live data end to end: `kbpub sim` as a real server on loopback, `kbpub data pull` through every
//! fault flag, snapshots on disk, and `kbpub build` rendering pages from them — asserting on the
//! parsed HTML, including that hostile strings from the data show as text and inject nothing.

mod common;

use std::path::Path;

use common::sim::Sim;
use common::*;
use kbpub::sim::trading_grid_data::hostile_strings;
use kbpub::text::visible;

const TOKEN: &str = "tg-secret-5f3a9c17e2";

/// A knowledge base with one Trading Grid source at `sim`, plus `[data]` and source settings.
fn data_kb(sim: &Sim, data_settings: &str, source_settings: &str) -> Kb {
    let kb = Kb::new();
    kb.write(
        "kbpub.toml",
        &format!(
            "[site]\ntitle = \"Data KB\"\nbase_url = \"https://kb.test/\"\n\n[data]\n{data_settings}\n\n\
             [[data.sources]]\nname = \"tg\"\nkind = \"trading-grid\"\nurl = \"{}\"\ntoken_env = \"TG_TOKEN\"\n{source_settings}\n",
            sim.url
        ),
    );
    kb.write(
        "content/_index.md",
        "+++\ntitle = \"Home\"\n+++\n\nWelcome.\n",
    );
    kb
}

/// The sample knowledge base with its source pointed at `sim`.
fn sample_at(sim: &Sim) -> Kb {
    let kb = Kb::sample();
    assert!(
        kb.read("kbpub.toml").contains("http://127.0.0.1:8787"),
        "the sample points at the default sim"
    );
    kb.replace("kbpub.toml", "http://127.0.0.1:8787", &sim.url);
    kb
}

/// `kbpub <args>` with the token in the environment.
fn run_with_token(kb: &Kb, args: &[&str], token: &str) -> Run {
    let output = kbpub()
        .args(args)
        .current_dir(kb.path())
        .env("TG_TOKEN", token)
        .env("KBPUB_TRADING_GRID_TOKEN", token)
        .output()
        .expect("run kbpub");
    Run { output }
}

fn pull(kb: &Kb) -> Run {
    run_with_token(kb, &["data", "pull"], TOKEN)
}

/// `kbpub data pull` with the token's variable unset.
fn pull_without_token(kb: &Kb) -> std::process::Output {
    kbpub()
        .args(["data", "pull"])
        .current_dir(kb.path())
        .env_remove("TG_TOKEN")
        .output()
        .unwrap()
}

fn snapshot_bytes(kb: &Kb, name: &str) -> Vec<u8> {
    std::fs::read(kb.path().join("data").join(format!("{name}.json"))).unwrap_or_default()
}

fn page_text(html: &Html) -> String {
    select(html, "main").iter().flat_map(|m| m.text()).collect()
}

#[test]
fn sim_serves_the_contract_with_pagination_etags_and_auth() {
    let sim = Sim::start(&["--token", TOKEN]);
    let auth = format!("Bearer {TOKEN}");
    let (status, _, body) = sim.get("/v1/partners", &[]);
    assert_eq!(status, 401, "no token, no data: {body}");
    let (status, head, body) = sim.get("/v1/partners?limit=3", &[("Authorization", &auth)]);
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["schema_version"], "1.0");
    assert_eq!(page["as_of"], "2026-11-20T06:00:00Z");
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("more pages")
        .to_string();
    let etag = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("etag:")
                .then(|| l[5..].trim().to_string())
        })
        .expect("etag");
    let (status, _, body) = sim.get(
        "/v1/partners?limit=3",
        &[("Authorization", &auth), ("If-None-Match", &etag)],
    );
    assert_eq!(
        (status, body.as_str()),
        (304, ""),
        "unchanged page answers 304 without a body"
    );
    let (_, _, body) = sim.get(
        &format!("/v1/partners?limit=500&cursor={cursor}"),
        &[("Authorization", &auth)],
    );
    let rest: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        rest["data"].as_array().unwrap().len(),
        5,
        "8 partners in all"
    );
    assert!(rest["next_cursor"].is_null());
    let (_, _, body) = sim.get("/v1/incidents?limit=500", &[("Authorization", &auth)]);
    let incidents: serde_json::Value = serde_json::from_str(&body).unwrap();
    let incidents = incidents["data"].as_array().unwrap();
    assert!(incidents.len() >= 40);
    for status in [
        "open",
        "investigating",
        "awaiting_partner",
        "resolved",
        "closed",
    ] {
        assert!(incidents.iter().any(|i| i["status"] == status), "{status}");
    }
    let id = incidents[0]["id"].as_str().unwrap();
    let (status, _, body) = sim.get(&format!("/v1/incidents/{id}"), &[("Authorization", &auth)]);
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["data"]["id"],
        id
    );
    let (_, _, body) = sim.get(
        "/v1/metrics?partner_id=ACME-RETAIL&doc_type=856&direction=outbound&limit=500",
        &[("Authorization", &auth)],
    );
    let rows: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rows["data"].as_array().unwrap().len(), 90, "90 daily rows");
}

#[test]
fn pull_writes_the_shipped_snapshot_and_reuses_etags() {
    let sim = Sim::start(&[]);
    let kb = sample_at(&sim);
    let shipped =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/trading-grid.json"))
            .unwrap();
    std::fs::remove_file(kb.path().join("data/trading-grid.json")).unwrap();
    let run = run_with_token(&kb, &["data", "pull", "--format", "json"], TOKEN).ok();
    let report = run.json();
    let source = &report["sources"][0];
    assert_eq!(source["result"], "pulled", "{report}");
    assert_eq!(
        (
            source["partners"].as_u64(),
            source["metric_rows"].as_u64(),
            source["incidents"].as_u64()
        ),
        (Some(8), Some(8 * 5 * 2 * 90), Some(48))
    );
    assert!(
        snapshot_bytes(&kb, "trading-grid") == shipped,
        "the repo's snapshot is exactly what the default sim serves; regenerate it with scripts/pull-sample-data"
    );
    let text = String::from_utf8(shipped).unwrap();
    assert!(
        text.contains("\"as_of\": \"2026-11-20T06:00:00Z\"") && text.contains("\"sha256\": \""),
        "as_of and sha256 in the file"
    );

    let again = pull(&kb).ok();
    assert!(
        again
            .stderr()
            .contains("17 unchanged since the last pull (ETag)"),
        "{}",
        again.stderr()
    );
    assert!(
        snapshot_bytes(&kb, "trading-grid") == text.as_bytes(),
        "a re-pull gives an identical file"
    );
}

#[test]
fn pull_retries_429_with_retry_after_seconds_and_http_dates() {
    for retry_after in ["1", "date"] {
        let sim = Sim::start(&["--throttle", "2", "--retry-after", retry_after]);
        let kb = data_kb(&sim, "", "");
        let stderr = pull(&kb).ok().stderr();
        assert_eq!(stderr.matches("(HTTP 429); retry").count(), 2, "{stderr}");
        let waits: Vec<&str> = stderr.lines().filter(|l| l.contains("HTTP 429")).collect();
        assert!(
            waits.iter().all(|l| !l.ends_with(" ms")),
            "waited as told by Retry-After ({retry_after}): {waits:?}"
        );
        assert!(!snapshot_bytes(&kb, "tg").is_empty());
    }
}

#[test]
fn pull_retries_5xx_and_gives_up_leaving_the_previous_snapshot() {
    for status in ["500", "502"] {
        let sim = Sim::start(&["--fail", "2", "--fail-status", status]);
        let kb = data_kb(&sim, "retries = 3", "");
        let run = pull(&kb).ok();
        assert_eq!(
            run.stderr()
                .matches(&format!("(HTTP {status}); retry"))
                .count(),
            2,
            "{}",
            run.stderr()
        );
    }
    let sim = Sim::start(&["--fail", "2", "--fail-status", "502"]);
    let kb = data_kb(&sim, "retries = 3", "");
    pull(&kb).ok();
    let before = snapshot_bytes(&kb, "tg");

    let down = Sim::start(&["--fail", "1000", "--fail-status", "500"]);
    kb.replace("kbpub.toml", &sim.url, &down.url);
    let run = pull(&kb).fails_with(1);
    let stderr = run.stderr();
    assert!(
        stderr.contains(&format!(
            "GET {}/v1/partners?limit=500 answered HTTP 500",
            down.url
        )),
        "names URL and status: {stderr}"
    );
    assert_contains(&stderr, "the previous snapshot, if any, was left as it was");
    assert!(
        snapshot_bytes(&kb, "tg") == before,
        "a failed pull leaves the snapshot intact"
    );
    assert!(
        !kb.path().join("data/tg.stale.json").exists(),
        "on_failure = fail marks nothing stale"
    );
}

#[test]
fn latency_past_the_request_timeout_fails_within_the_budget() {
    let slow = Sim::start(&["--latency", "3s"]);
    let kb = data_kb(
        &slow,
        "request_timeout = \"300ms\"\nretries = 1\nbudget = \"20s\"",
        "",
    );
    let started = std::time::Instant::now();
    let stderr = pull(&kb).fails_with(1).stderr();
    assert_contains(&stderr, "timed out");
    assert_contains(&stderr, "after 2 attempts");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "timeouts bound the pull"
    );

    let budget = data_kb(&slow, "request_timeout = \"10s\"\nbudget = \"1s\"", "");
    let stderr = pull(&budget).fails_with(1).stderr();
    assert_contains(&stderr, "budget");

    let a_bit_slow = Sim::start(&["--latency", "50ms"]);
    pull(&data_kb(&a_bit_slow, "", "")).ok();
}

#[test]
fn malformed_json_other_schema_majors_and_bad_records_are_refused() {
    for (flags, expected) in [
        (
            &["--malformed"][..],
            "returned a body that is not a contract v1 envelope",
        ),
        (
            &["--schema-major", "2"][..],
            "the source speaks schema version 2.0 (major 2); kbpub understands major 1 only",
        ),
        (
            &["--invalid-record"][..],
            "invalid record partners[3] (`GLOBEX-LOGISTICS`): unknown variant `paused`",
        ),
    ] {
        let sim = Sim::start(flags);
        let kb = data_kb(&sim, "", "");
        let stderr = pull(&kb).fails_with(1).stderr();
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
        assert!(
            !kb.path().join("data/tg.json").exists(),
            "{flags:?}: nothing written"
        );
    }
}

#[test]
fn fields_outside_the_contract_are_dropped() {
    let sim = Sim::start(&["--extra-fields"]);
    let kb = data_kb(&sim, "", "");
    pull(&kb).ok();
    let text = String::from_utf8(snapshot_bytes(&kb, "tg")).unwrap();
    assert!(text.contains("ACME-RETAIL"));
    assert!(
        !text.contains("x_internal_score")
            && !text.contains("x_notes")
            && !text.contains("x_sim_generated")
    );
}

/// Every file under `dir` (snapshots, caches, output) as text.
fn all_text_under(dir: &Path) -> String {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned())
        .collect()
}

#[test]
fn the_token_never_leaks_even_when_the_server_echoes_it() {
    let sim = Sim::start(&["--echo-auth"]);
    let kb = data_kb(&sim, "", "");
    for format in ["human", "json"] {
        let run = run_with_token(&kb, &["data", "pull", "--format", format], TOKEN).fails_with(1);
        let all = run.stdout() + &run.stderr();
        assert!(
            all.contains("HTTP 401") && all.contains("token rejected: Bearer [redacted]"),
            "the echo is shown, redacted: {all}"
        );
        assert!(!all.contains(TOKEN), "token in output: {all}");
    }
    let stale = data_kb(&sim, "", "on_failure = \"stale\"\nmax_age = \"10000d\"");
    run_with_token(&stale, &["data", "pull"], TOKEN).fails_with(1);
    assert!(
        !all_text_under(kb.path()).contains(TOKEN) && !all_text_under(stale.path()).contains(TOKEN),
        "token in a file"
    );

    // Only ever a header: a server that takes the token only from the header accepts the pull.
    let strict = Sim::start(&["--token", TOKEN]);
    let ok = data_kb(&strict, "", "");
    pull(&ok).ok();
    run_with_token(&ok, &["build"], TOKEN).ok();
    assert!(
        !all_text_under(ok.path()).contains(TOKEN),
        "token in a snapshot, cache or page"
    );
    let run = run_with_token(&ok, &["data", "pull"], "wrong-token").fails_with(1);
    assert!(run.stderr().contains("HTTP 401"), "{}", run.stderr());
}

#[test]
fn missing_token_variable_and_plain_http_to_other_hosts_are_clear_errors() {
    let sim = Sim::start(&[]);
    let kb = data_kb(&sim, "", "");
    let output = pull_without_token(&kb);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert_contains(&stderr, "environment variable `TG_TOKEN` is not set");
    kb.replace("kbpub.toml", &sim.url, "http://tg.example.com");
    let stderr = pull(&kb).fails_with(1).stderr();
    assert_contains(&stderr, "use https");
}

#[test]
fn stale_policy_keeps_the_snapshot_banners_pages_and_withholds_data_from_partner_pages() {
    let sim = Sim::start(&["--as-of", "now"]);
    let kb = data_kb(&sim, "", "on_failure = \"stale\"\nmax_age = \"48h\"");
    kb.write("content/ops/internal.md", "+++\ntitle = \"Internal scorecard\"\ntype = \"sop\"\n+++\n\n{{ metrics_table(partner=\"ACME-RETAIL\", days=7) }}\n");
    kb.write("content/ops/partner.md", "+++\ntitle = \"Your scorecard\"\ntype = \"faq\"\naudience = \"partner\"\n+++\n\n{{ metrics_table(partner=\"ACME-RETAIL\", days=7) }}\n\n{% for p in partners() %}PARTNER-ROW {{ p.id }}{% endfor %}\n");
    kb.write(
        "content/ops/plain.md",
        "+++\ntitle = \"No data here\"\ntype = \"sop\"\n+++\n\nJust text.\n",
    );
    pull(&kb).ok();
    kb.run(&["build"]).ok();
    let partner = kb.html("ops/partner.html");
    assert!(
        !select(&partner, ".doc-body table").is_empty()
            && page_text(&partner).contains("PARTNER-ROW ACME-RETAIL"),
        "fresh data shows"
    );
    assert!(select(&partner, ".banner").is_empty());
    let before = snapshot_bytes(&kb, "tg");

    let down = Sim::start(&["--fail", "1000"]);
    kb.replace("kbpub.toml", &sim.url, &down.url);
    let run = pull(&kb).ok();
    assert!(
        run.stderr().contains("warning: tg: pull failed")
            && run.stderr().contains("kept the previous snapshot"),
        "{}",
        run.stderr()
    );
    assert!(
        snapshot_bytes(&kb, "tg") == before,
        "the snapshot is untouched"
    );
    assert!(kb.path().join("data/tg.stale.json").is_file());

    kb.run(&["build"]).ok();
    let internal = kb.html("ops/internal.html");
    assert_eq!(text(&internal, ".banner .banner-title"), "Stale data");
    assert!(text(&internal, ".banner .banner-text").contains("The last pull of `tg` failed"));
    assert!(text(&internal, ".meta-data").contains("(stale)"));
    assert!(
        !select(&internal, ".doc-body table").is_empty(),
        "internal pages keep their (stale) figures"
    );
    let partner = kb.html("ops/partner.html");
    assert_eq!(
        text(&partner, ".banner .banner-title"),
        "Live data withheld"
    );
    assert!(
        select(&partner, ".doc-body table").is_empty(),
        "no stale numbers on a partner page"
    );
    assert!(
        !page_text(&partner).contains("PARTNER-ROW"),
        "data functions return nothing"
    );
    assert!(page_text(&partner).contains("Live figures are not shown"));
    assert!(
        select(&partner, ".meta-data").is_empty(),
        "no data shown, so no data-as-of"
    );
    assert!(
        select(&kb.html("ops/plain.html"), ".banner").is_empty(),
        "pages without data carry no banner"
    );

    // Past max_age the stale policy fails too: the default sim's data is as of 2026-11-20.
    let dated = Sim::start(&[]);
    let old = data_kb(
        &dated,
        "retries = 0",
        "on_failure = \"stale\"\nmax_age = \"1h\"",
    );
    pull(&old).ok();
    old.replace("kbpub.toml", &dated.url, &down.url);
    let stderr = pull(&old).fails_with(1).stderr();
    assert!(
        stderr.contains("the previous snapshot (as of 2026-11-20T06:00:00+00:00) is")
            && stderr.contains("more than max_age 1h"),
        "{stderr}"
    );
    assert!(!old.path().join("data/tg.stale.json").exists());

    // A later successful pull clears the mark.
    kb.replace("kbpub.toml", &down.url, &sim.url);
    pull(&kb).ok();
    assert!(!kb.path().join("data/tg.stale.json").exists());
    kb.run(&["build"]).ok();
    assert!(select(&kb.html("ops/internal.html"), ".banner").is_empty());
}

#[test]
fn the_sample_builds_with_data_and_data_pages_without_network() {
    let kb = Kb::sample();
    kb.run(&["build"]).ok();
    // Pages that show data say so; pages that do not, do not.
    let sop = kb.html("sops/asn-856-rejections.html");
    assert_eq!(text(&sop, ".meta-data"), "Data as of 2026-11-20 06:00 UTC");
    assert!(page_text(&sop).contains("ACME-RETAIL rejected"));
    assert!(
        !select(&sop, "figure.kb-chart svg polyline").is_empty(),
        "trend chart"
    );
    assert!(select(&kb.html("sops/audit-evidence.html"), ".meta-data").is_empty());
    let files = files_under(&kb.path().join("output"));
    for file in files
        .iter()
        .filter(|f| f.ends_with(".html") && *f != "404.html")
    {
        let html = kb.html(file);
        let shows_data = !select(
            &html,
            ".doc-body table, .section-body table, figure.kb-chart",
        )
        .is_empty()
            && file.starts_with("live/");
        if shows_data {
            assert!(
                !select(&html, ".meta-data").is_empty(),
                "{file} shows data without `data as of`"
            );
        }
    }
    // One page per partner, each with facts, scorecard, incidents and a chart.
    for partner in [
        "acme-retail",
        "bigbox-stores",
        "northwind-grocery",
        "globex-logistics",
        "swifthaul-3pl",
        "initech-mfg",
        "umbrella-parts",
        "stark-components",
    ] {
        let page = kb.html(&format!("live/partners/{partner}.html"));
        let headings: Vec<String> = select(&page, ".doc-body h2")
            .iter()
            .map(|h| {
                h.text()
                    .collect::<String>()
                    .trim_start_matches('#')
                    .to_string()
            })
            .collect();
        assert_eq!(
            headings,
            [
                "Onboarding facts",
                "30-day scorecard",
                "Open incidents",
                "Trend"
            ],
            "{partner}"
        );
        assert!(!select(&page, "figure.kb-chart svg").is_empty());
        assert!(!select(&page, ".meta-data").is_empty());
    }
    // The incident knowledge base by error code links to the playbooks in related_kb.
    let code = kb.html("live/incidents/ak5-r-ak304-3.html");
    let links: Vec<String> = select(&code, ".doc-body a")
        .iter()
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect();
    assert!(
        links.contains(&"../../playbooks/rejected-asn-856.html".to_string()),
        "{links:?}"
    );
    assert!(
        links.contains(&"../../sops/asn-856-rejections.html".to_string()),
        "{links:?}"
    );
    // A playbook lists the live incidents that cite it.
    let playbook = kb.html("playbooks/rejected-asn-856.html");
    let listed: Vec<String> = select(
        &playbook,
        "#live-incidents-citing-this-playbook + ul > li > strong",
    )
    .iter()
    .map(|s| s.text().collect())
    .collect();
    assert!(!listed.is_empty(), "live incidents listed");
    let snapshot = kb.read("data/trading-grid.json");
    for id in &listed {
        let at = snapshot
            .find(&format!("\"id\": \"{id}\""))
            .expect("incident in snapshot");
        let record = &snapshot[at..at + snapshot[at..].find("\n  }").unwrap()];
        assert!(
            record.contains("\"playbook-rejected-asn-856\""),
            "{id} cites the playbook"
        );
        assert!(
            ["\"open\"", "\"investigating\"", "\"awaiting_partner\""]
                .iter()
                .any(|s| record.contains(&format!("\"status\": {s}"))),
            "{id} is live"
        );
    }
    // Data pages are in the nav, the sitemap and the search index like other pages.
    assert!(!select(&kb.html("index.html"), "nav a[href='live/index.html']").is_empty());
    assert!(
        kb.read_output("sitemap.xml")
            .contains("https://kb.example.com/live/partners/acme-retail.html")
    );
    assert!(
        kb.read_output("search-index.js")
            .contains("\"u\":\"live/partners/acme-retail.html\"")
    );
}

#[test]
fn template_functions_compute_rates_from_a_file_source() {
    let kb = Kb::new();
    kb.write("kbpub.toml", "[site]\ntitle = \"T\"\n\n[[data.sources]]\nname = \"m\"\nkind = \"file\"\npath = \"exports/metrics.csv\"\nrecords = \"metrics\"\n\n[[data.sources]]\nname = \"p\"\nkind = \"file\"\npath = \"exports/partners.json\"\nrecords = \"partners\"\n\n[data.pages]\nsection = \"\"\n");
    kb.write("exports/partners.json", r#"{"schema_version": "1.2", "as_of": "2026-11-03T00:00:00Z", "data": [{"id": "P1", "name": "Partner One", "edi_qualifier": "ZZ", "edi_id": "P1", "status": "active", "onboarded_at": null, "segment": "retail"}]}"#);
    let head = "partner_id,doc_type,doc_name,direction,period.start,period.end,volume.documents,volume.interchanges,acks.expected,acks.received,acks.accepted,acks.accepted_with_errors,acks.rejected,acks.overdue,delivery.delivered,delivery.failed,delivery.resent,on_time.on_time,on_time.total,turnaround_minutes.doc_to_997.sla,turnaround_minutes.doc_to_997.within_sla,turnaround_minutes.doc_to_997.measured";
    kb.write("exports/metrics.csv", &format!("{head}\n\
        P1,856,ASN,outbound,2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,10,2,10,8,5,1,2,2,9,1,1,6,8,1440,7,8\n\
        P1,856,ASN,outbound,2026-11-02T00:00:00Z,2026-11-03T00:00:00Z,0,0,0,0,0,0,0,0,0,0,0,0,0,1440,0,0\n"));
    kb.write("content/_index.md", "+++\ntitle = \"Home\"\n+++\n");
    kb.run(&["data", "pull"]).ok();
    kb.write("content/f.md", "+++\ntitle = \"F\"\ntype = \"faq\"\n+++\n\n\
        {% set t = metrics(partner=\"P1\", by=\"total\") | first %}\
        TOTAL rej={{ t.rejection_rate | percent }} ack={{ t.ack_rate | percent }} del={{ t.delivery_reliability | percent }} ontime={{ t.on_time_rate | percent }} sla={{ t.sla_attainment | percent(decimals=2) }} docs={{ t.documents | number }}\n\n\
        {% for d in metrics(partner=\"P1\", by=\"day\") %}DAY {{ d.day }} rej={{ d.rejection_rate | percent }} ack={{ d.ack_rate | percent }}\n\n{% endfor %}\
        ASOF {{ as_of() }} {% set p1 = partner(id=\"P1\") %}NAME {{ p1.name }} N={{ partners() | length }} BIG={{ 1234567 | number }} DUR={{ 95 | duration }}\n");
    kb.run(&["build"]).ok();
    let text = page_text(&kb.html("f.html"));
    // 2 / (5 + 1 + 2); 8 / 10; 9 / (9 + 1); 6 / 8; 7 / 8.
    assert_contains(
        &text,
        "TOTAL rej=25.0% ack=80.0% del=90.0% ontime=75.0% sla=87.50% docs=10",
    );
    assert_contains(&text, "DAY 2026-11-01 rej=25.0% ack=80.0%");
    assert!(
        text.contains("DAY 2026-11-02 rej=n/a ack=n/a"),
        "zero denominators are n/a: {text}"
    );
    assert!(
        text.contains(
            "ASOF 2026-11-03T00:00:00Z NAME Partner One N=1 BIG=1,234,567 DUR=1 h 35 min"
        ),
        "{text}"
    );
    assert_eq!(
        kb.html("f.html")
            .select(&Selector::parse(".meta-data time").unwrap())
            .next()
            .unwrap()
            .value()
            .attr("datetime"),
        Some("2026-11-03T00:00:00Z"),
        "the earliest source's as_of"
    );
}

#[test]
fn data_mistakes_in_templates_are_errors_with_their_position() {
    let kb = Kb::sample();
    kb.write("content/sops/bad.md", "+++\ntitle = \"Bad\"\ntype = \"sop\"\n+++\n\nIntro.\n\n{{ metrics_table(partnr=\"ACME-RETAIL\") }}\n");
    kb.write("content/sops/bad2.md", "+++\ntitle = \"Bad 2\"\ntype = \"sop\"\n+++\n\n{% set p = partner(id=\"NOPE\") %}{{ p.name }}\n");
    kb.write(
        "content/sops/bad3.md",
        "+++\ntitle = \"Bad 3\"\ntype = \"sop\"\n+++\n\n{{ get_env(name=\"HOME\") }}\n",
    );
    let stderr = kb.run(&["build"]).fails_with(1).stderr();
    assert_contains(&stderr, "`metrics_table` has no argument `partnr`");
    assert_contains(&stderr, "content/sops/bad.md:8:");
    assert_contains(&stderr, "no partner `NOPE` in the data snapshot");
    assert_contains(&stderr, "templates cannot read environment variables");

    let broken = Kb::sample();
    let path = broken.path().join("data/trading-grid.json");
    let text =
        std::fs::read_to_string(&path)
            .unwrap()
            .replacen("Acme Retail Inc.", "Acme Retail Inc!", 1);
    std::fs::write(&path, text).unwrap();
    let stderr = broken.run(&["build"]).fails_with(1).stderr();
    assert_contains(&stderr, "data/trading-grid.json does not match its sha256");
}

/// Whether `element` sits in the document head (stylesheets are only there).
fn select_head(html: &Html, element: &scraper::ElementRef) -> bool {
    select(html, "head > *")
        .iter()
        .any(|e| e.id() == element.id())
}

/// The elements and attributes a page may have no matter what the data says.
fn assert_nothing_injected(file: &str, html: &Html) {
    for element in select(html, "*") {
        let el = element.value();
        let name = el.name();
        assert!(
            !name.contains(':'),
            "{file}: injected namespaced element <{name}>"
        );
        let in_header = element.ancestors().any(|a| {
            a.value()
                .as_element()
                .is_some_and(|e| e.name() == "header" && e.classes().any(|c| c == "site-header"))
        });
        let allowed = match name {
            "iframe" | "object" | "embed" | "style" | "link" if !in_header => {
                name == "link" && select_head(html, &element)
            }
            "form" | "input" => {
                in_header
                    || (name == "input"
                        && el.attr("type") == Some("checkbox")
                        && el.attr("disabled").is_some())
            }
            "img" => el
                .attr("src")
                .is_some_and(|s| !s.contains(':') && (s.ends_with(".svg") || s.ends_with(".png"))),
            _ => true,
        };
        assert!(
            allowed,
            "{file}: injected <{name}> {:?}",
            el.attrs().collect::<Vec<_>>()
        );
        for (attr, value) in el.attrs() {
            assert!(
                !attr.starts_with("on"),
                "{file}: injected handler {attr}={value}"
            );
            assert!(
                !value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("javascript:"),
                "{file}: javascript: URL in {attr}"
            );
        }
        if name == "script" {
            let src = el.attr("src").unwrap_or("");
            let inline: String = element.text().collect();
            assert!(
                inline.trim().is_empty()
                    && ["assets/theme.js", "assets/kbpub.js", "assets/search.js"]
                        .iter()
                        .any(|ours| src.ends_with(ours)),
                "{file}: injected script {src} {inline}"
            );
        }
    }
}

#[test]
fn hostile_strings_show_as_visible_text_and_inject_nothing() {
    let sim = Sim::start(&["--hostile"]);
    let kb = sample_at(&sim);
    pull(&kb).ok();
    kb.run(&["build"]).ok();
    let out = kb.path().join("output");
    let mut all_text = String::new();
    for file in files_under(&out).iter().filter(|f| f.ends_with(".html")) {
        let html = kb.html(file);
        assert_nothing_injected(file, &html);
        all_text.push_str(&html.root_element().text().collect::<String>());
    }
    // Shown as text (below) also means not evaluated: `{{ get_env(...) }}` and `{% include %}`
    // would otherwise have been replaced or failed the build.
    for hostile in hostile_strings() {
        assert!(
            all_text.contains(&visible(hostile)),
            "not shown as text: {:?}",
            &hostile[..hostile.len().min(40)]
        );
    }
    // Where: table cells, titles and headings, link texts, the SVG chart, the search index.
    let names: Vec<String> = hostile_strings().iter().map(|s| visible(s)).collect();
    let acme = kb.html("live/partners/acme-retail.html");
    let title = text(&acme, "h1.doc-title");
    assert!(
        title.starts_with("<script>alert('kbpub-xss')</script> Acme"),
        "{title}"
    );
    assert!(
        select(&acme, ".doc-body td")
            .iter()
            .any(|td| names.contains(&td.text().collect::<String>())),
        "a hostile table cell"
    );
    let sop = kb.html("sops/asn-856-rejections.html");
    let svg_title: String = select(&sop, "figure.kb-chart svg title")
        .first()
        .expect("chart")
        .text()
        .collect();
    assert_contains(&svg_title, &names[0]);
    let link_texts: Vec<String> = select(&sop, ".doc-body a")
        .iter()
        .map(|a| a.text().collect())
        .collect();
    assert!(
        names.iter().filter(|n| link_texts.contains(n)).count() >= 2,
        "hostile link texts: {link_texts:?}"
    );
    let code_pages: Vec<String> = files_under(&out.join("live/incidents"))
        .into_iter()
        .filter(|f| f != "index.html")
        .collect();
    let headings: Vec<String> = code_pages
        .iter()
        .map(|f| text(&kb.html(&format!("live/incidents/{f}")), "h1.doc-title"))
        .collect();
    assert!(
        headings
            .iter()
            .any(|h| h.starts_with("Error {{ get_env(name=\"HOME\") }}")),
        "{headings:?}"
    );
    assert!(
        headings.iter().any(|h| h.contains("[U+202E]")),
        "bidi overrides shown: {headings:?}"
    );
    let json = kb.search_index();
    let entry = json["docs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["u"] == "live/partners/acme-retail.html")
        .unwrap();
    assert_eq!(entry["t"], title, "search shows the same text title");
}

#[test]
fn progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise() {
    let sim = Sim::start(&["--latency", "150ms"]);
    let kb = data_kb(&sim, "", "");
    let plain = pull(&kb).ok().stderr();
    assert_contains(&plain, "tg: metrics 7200 records, 15 pages");
    assert!(
        !plain.contains('\u{1b}'),
        "no terminal control codes when not on a terminal: {plain:?}"
    );
    // `script` (util-linux) runs the pull on a pseudo-terminal.
    let command = format!("{} data pull", env!("CARGO_BIN_EXE_kbpub"));
    let output = std::process::Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .current_dir(kb.path())
        .env("TG_TOKEN", TOKEN)
        .output()
        .expect("run script(1)");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("\u{1b}[2K") || shown.contains('\r'),
        "a redrawn progress line on a terminal: {shown:?}"
    );
    assert!(
        shown.contains("tg: 8 partners, 7200 metric rows"),
        "{shown:?}"
    );
}

#[test]
fn sim_fault_flags_for_html_pages_and_forbidden_tokens() {
    let auth = format!("Bearer {TOKEN}");
    let proxy = Sim::start(&["--html-error", "1"]);
    let (status, head, body) = proxy.get("/v1/partners", &[("Authorization", &auth)]);
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/html"),
        "{head}"
    );
    assert!(body.starts_with("<html>"), "{body}");
    let (status, _, body) = proxy.get("/v1/partners", &[("Authorization", &auth)]);
    assert_eq!(status, 200);
    let envelope: serde_json::Value = serde_json::from_str(&body).expect("only the first N");
    assert_eq!(envelope["schema_version"], "1.0");

    let forbidden = Sim::start(&["--forbidden", "--token", TOKEN]);
    let (status, _, body) = forbidden.get("/v1/partners", &[("Authorization", &auth)]);
    assert_eq!(status, 403, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "forbidden");
    let (status, _, _) = forbidden.get("/v1/partners", &[("Authorization", "Bearer wrong")]);
    assert_eq!(status, 401, "a wrong token is still 401");
}

#[test]
fn a_200_that_is_not_the_contract_is_retried_then_reported() {
    let sim = Sim::start(&["--html-error", "2"]);
    let kb = data_kb(&sim, "", "");
    let stderr = pull(&kb).ok().stderr();
    assert_eq!(
        stderr
            .matches("(the body is not what the endpoint answers); retry")
            .count(),
        2,
        "{stderr}"
    );
    assert!(!snapshot_bytes(&kb, "tg").is_empty());

    let proxy = Sim::start(&["--html-error", "1000"]);
    let kb = data_kb(&proxy, "retries = 2", "");
    let stderr = pull(&kb).fails_with(1).stderr();
    assert!(
        stderr.contains("returned a body that is not a contract v1 envelope")
            && stderr.contains("(after 3 attempts)"),
        "{stderr}"
    );
    assert!(!kb.path().join("data/tg.json").exists(), "nothing written");
}

#[test]
fn wrong_or_missing_credentials_fail_the_pull_even_under_the_stale_policy() {
    let sim = Sim::start(&["--token", TOKEN, "--as-of", "now"]);
    let kb = data_kb(&sim, "", "on_failure = \"stale\"\nmax_age = \"48h\"");
    pull(&kb).ok();
    let before = snapshot_bytes(&kb, "tg");
    let stale_marker = kb.path().join("data/tg.stale.json");

    let run = run_with_token(&kb, &["data", "pull"], "revoked-token").fails_with(1);
    let stderr = run.stderr();
    assert_contains(&stderr, "answered HTTP 401");
    assert_contains(&stderr, "whatever `on_failure` says");
    assert!(!stderr.contains("(after"), "a 401 is not retried: {stderr}");
    assert!(snapshot_bytes(&kb, "tg") == before && !stale_marker.exists());

    let forbidden = Sim::start(&["--token", TOKEN, "--forbidden"]);
    kb.replace("kbpub.toml", &sim.url, &forbidden.url);
    let stderr = pull(&kb).fails_with(1).stderr();
    assert_contains(&stderr, "answered HTTP 403");
    assert!(snapshot_bytes(&kb, "tg") == before && !stale_marker.exists());

    let output = pull_without_token(&kb);
    assert_eq!(output.status.code(), Some(1));
    assert!(snapshot_bytes(&kb, "tg") == before && !stale_marker.exists());
}

#[test]
fn environment_variables_override_the_source_settings() {
    let sim = Sim::start(&[]);
    let kb = data_kb(&sim, "", "");
    kb.replace("kbpub.toml", &sim.url, "https://staging.invalid");
    let with = |vars: &[(&str, &str)]| {
        let mut command = kbpub();
        command
            .args(["data", "pull"])
            .current_dir(kb.path())
            .env("TG_TOKEN", TOKEN);
        for (name, value) in vars {
            command.env(name, value);
        }
        Run {
            output: command.output().unwrap(),
        }
    };
    with(&[
        ("KBPUB_DATA_SOURCES__TG__URL", sim.url.as_str()),
        ("KBPUB_DATA_SOURCES__TG__PAGE_SIZE", "100"),
    ])
    .ok();
    assert!(
        !snapshot_bytes(&kb, "tg").is_empty(),
        "pulled from the overriding URL"
    );
    let stderr = with(&[("KBPUB_DATA_SOURCES__TG__PAGE_SIZE", "lots")])
        .fails_with(1)
        .stderr();
    assert_contains(
        &stderr,
        "environment variable `KBPUB_DATA_SOURCES__TG__PAGE_SIZE`",
    );
    let stderr = with(&[("KBPUB_DATA_SOURCES__NOPE__URL", "https://x")])
        .fails_with(1)
        .stderr();
    assert_contains(&stderr, "no entry is named `NOPE`");
}
