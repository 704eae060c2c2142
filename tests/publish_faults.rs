//! Publishing under faults, end to end: the simulators' shared request rules (rate-limit windows
//! per client that count early requests, seeded random faults) tested over raw HTTP, then a
//! fault soak — several `kbpub publish` runs at concurrency 4 against `kbpub sim` with seeded
//! 429s, 5xx and commit-then-fail — asserting each run converges, no page is duplicated, no
//! request is sent inside a Retry-After window, a page kbpub does not manage is never touched,
//! and a final re-run writes nothing. Also `publish --quiet`, and a target's URL taken from the
//! environment.

mod common;

use common::*;
use serde_json::{Value, json};

const EMAIL: &str = "kbpub@example.com";
const TOKEN: &str = "cloud-token";

/// The fixture site in a git repository, every document approved, publishing to Cloud.
fn cloud_kb(sim: &Sim) -> Kb {
    let kb = Kb::fixture("valid");
    kb.append(
        "kbpub.toml",
        &format!(
            "[confluence]\nbase_url = \"{}/wiki\"\nemail_env = \"KB_TEST_EMAIL\"\ntoken_env = \"KB_TEST_TOKEN\"\ndefault_space = \"OPS\"\npage_size = 2\n",
            sim.base
        ),
    );
    kb.write(".kb/people.toml", PEOPLE);
    kb.write(".kb/policy.toml", POLICY);
    kb.write(".gitignore", "output/\n.kb/receipts/\n");
    git(kb.path(), "wes@example.com", &["init", "-q", "-b", "main"]);
    approve_all(&kb);
    kb
}

fn publish(kb: &Kb, args: &[&str]) -> Run {
    let run = kb.run_env(
        &[&["publish"], args].concat(),
        &[("KB_TEST_EMAIL", EMAIL), ("KB_TEST_TOKEN", TOKEN)],
    );
    assert!(
        !run.stdout().contains(TOKEN) && !run.stderr().contains(TOKEN),
        "the token leaked"
    );
    run
}

/// A raw request to the Cloud API as `user` (`kbpub` or `dana`): status, Retry-After, body.
fn as_user(
    sim: &Sim,
    user: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let (email, token) = match user {
        "kbpub" => (EMAIL, TOKEN),
        _ => ("dana@example.com", "dana-token"),
    };
    let mut request = sim
        .client()
        .request(method, format!("{}/wiki{path}", sim.base))
        .basic_auth(email, Some(token));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().expect("sim answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry_after, response.json().unwrap_or(Value::Null))
}

fn rate_limits(sim: &Sim) -> Value {
    sim.control("cloud", "rate-limits")
}

#[test]
fn sim_rate_limit_windows_hold_their_client_and_count_early_requests() {
    let sim = Sim::start();
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "GET", "path": "/api/v2/spaces", "status": 429, "retry_after": "30"}]),
    );
    let get = reqwest::Method::GET;
    let (status, retry_after, _) = as_user(&sim, "kbpub", get.clone(), "/api/v2/spaces", None);
    assert_eq!((status, retry_after.as_deref()), (429, Some("30")));
    // Other clients are not limited by kbpub's window.
    let (status, _, _) = as_user(&sim, "dana", get.clone(), "/api/v2/spaces", None);
    assert_eq!(status, 200);
    // Past the in-flight allowance, a request from the limited client is early: refused with
    // the time still left, and counted.
    std::thread::sleep(std::time::Duration::from_millis(400));
    let (status, retry_after, _) = as_user(&sim, "kbpub", get.clone(), "/api/v2/pages", None);
    let left: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert_eq!(status, 429);
    assert!((1..=30).contains(&left), "{left}");
    let stats = rate_limits(&sim);
    assert_eq!(stats["early"], 1, "{stats}");
    assert_eq!(stats["windows"], 2, "{stats}");
    assert_eq!(
        sim.count("cloud", "GET"),
        3,
        "every request is still counted"
    );
}

#[test]
fn sim_random_faults_rate_limit_fail_and_commit_then_fail() {
    let sim = Sim::start();
    let get = reqwest::Method::GET;
    sim.set(
        "cloud",
        "random-faults",
        json!({"seed": 1, "rate_429": 1.0, "retry_after": 5}),
    );
    let (status, retry_after, _) = as_user(&sim, "kbpub", get.clone(), "/api/v2/spaces", None);
    assert_eq!((status, retry_after.as_deref()), (429, Some("5")));

    sim.set(
        "cloud",
        "random-faults",
        json!({"seed": 1, "rate_5xx": 1.0}),
    );
    let (status, _, _) = as_user(&sim, "dana", get.clone(), "/api/v2/spaces?keys=OPS", None);
    assert!([500, 502, 503, 504].contains(&status), "{status}");

    // Writes run, then fail; reads never commit.
    sim.set(
        "cloud",
        "random-faults",
        json!({"seed": 1, "rate_commit": 1.0}),
    );
    let (status, _, spaces) = as_user(&sim, "dana", get.clone(), "/api/v2/spaces?keys=OPS", None);
    assert_eq!(status, 200, "{spaces}");
    let space = &spaces["results"][0];
    let (status, _, _) = as_user(
        &sim,
        "dana",
        reqwest::Method::POST,
        "/api/v2/pages",
        Some(
            json!({"spaceId": space["id"], "status": "current", "title": "Landed anyway",
            "parentId": space["homepageId"], "body": {"representation": "storage", "value": "<p>x</p>"}}),
        ),
    );
    assert_eq!(status, 500);
    assert!(
        sim.pages("cloud")
            .iter()
            .any(|p| p["title"] == "Landed anyway"),
        "the write committed"
    );
    sim.set("cloud", "random-faults", json!({"seed": 1}));
    let (status, _, _) = as_user(&sim, "dana", get, "/api/v2/spaces", None);
    assert_eq!(status, 200, "all rates 0: no faults");
}

#[test]
fn sim_random_faults_and_windows_on_the_community() {
    let sim = Sim::start();
    let client = sim.client();
    let post = |what: &str, body: Value| {
        let r = client
            .post(format!("{}/__sim/community/{what}", sim.base))
            .json(&body)
            .send()
            .unwrap();
        assert!(r.status().is_success());
    };
    post(
        "random-faults",
        json!({"seed": 3, "rate_429": 1.0, "retry_after": 10, "retry_after_date": true}),
    );
    let list = || {
        client
            .get(format!("{}/community/v1/articles", sim.base))
            .bearer_auth("community-token")
            .send()
            .unwrap()
    };
    let first = list();
    assert_eq!(first.status().as_u16(), 429);
    let date = first.headers()["retry-after"].to_str().unwrap().to_string();
    assert!(
        httpdate::parse_http_date(&date).is_ok(),
        "an HTTP date: {date}"
    );
    post("random-faults", json!({"seed": 3}));
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(
        list().status().as_u16(),
        429,
        "still inside the announced window"
    );
    let stats: Value = client
        .get(format!("{}/__sim/community/rate-limits", sim.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(stats["early"], 1, "{stats}");
}

/// Every page title per space, lowercased: a duplicate shows twice.
fn duplicates(sim: &Sim) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    sim.pages("cloud")
        .iter()
        .filter(|p| p["status"] == "current")
        .map(|p| {
            format!(
                "{}/{}",
                p["space"],
                p["title"].as_str().unwrap().to_lowercase()
            )
        })
        .filter(|key| !seen.insert(key.clone()))
        .collect()
}

/// A page Dana made in OPS, next to where kbpub publishes.
fn foreign_page(sim: &Sim) -> Value {
    let get = reqwest::Method::GET;
    let (_, _, spaces) = as_user(sim, "dana", get, "/api/v2/spaces?keys=OPS", None);
    let space = &spaces["results"][0];
    let (status, _, page) = as_user(
        sim,
        "dana",
        reqwest::Method::POST,
        "/api/v2/pages",
        Some(
            json!({"spaceId": space["id"], "status": "current", "title": "Dana's notes",
            "parentId": space["homepageId"], "body": {"representation": "storage", "value": "<p>mine</p>"}}),
        ),
    );
    assert_eq!(status, 200, "{page}");
    sim.pages("cloud")
        .into_iter()
        .find(|p| p["title"] == "Dana's notes")
        .unwrap()
}

#[test]
fn rate_limits_hold_every_worker_and_a_run_converges_at_concurrency_4() {
    let sim = Sim::start();
    let kb = cloud_kb(&sim);
    sim.set(
        "cloud",
        "random-faults",
        json!({"seed": 5, "rate_429": 0.3, "retry_after": 1}),
    );
    let run = publish(&kb, &["--concurrency", "4", "--format", "json"]);
    assert_eq!(run.code(), 0, "{}", run.stdout());
    let stats = rate_limits(&sim);
    assert!(stats["windows"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(
        stats["early"], 0,
        "no request inside a Retry-After window: {stats}"
    );
    assert_eq!(duplicates(&sim), Vec::<String>::new());
    sim.set("cloud", "random-faults", json!({"seed": 5}));
    let writes = sim.writes("cloud");
    publish(&kb, &["--concurrency", "4"]).ok();
    assert_eq!(sim.writes("cloud"), writes, "a re-run writes nothing");
}

// Seed 33 once made a run fail on a 5xx to a page create ("not retried: the request may have
// been applied"), before the Confluence client read writes back before retrying them.
#[test]
fn a_fault_soak_converges_every_run_without_duplicates_or_early_requests() {
    let sim = Sim::start();
    let kb = cloud_kb(&sim);
    let foreign = foreign_page(&sim);
    sim.set(
        "cloud",
        "random-faults",
        json!({"seed": 33, "rate_429": 0.2, "rate_5xx": 0.1, "rate_commit": 0.05, "retry_after": 1}),
    );
    let edits = [
        None,
        Some(("content/guides/alpha.md", "\nA first amendment.\n")),
        Some(("content/guides/deep/delta.md", "\nDeeper.\n")),
        Some(("content/faq/gamma.md", "\nOne more answer.\n")),
    ];
    for (run, edit) in edits.into_iter().enumerate() {
        if let Some((file, more)) = edit {
            let text = kb.read(file);
            kb.write(file, &format!("{text}{more}"));
            approve_all(&kb);
        }
        let out = publish(&kb, &["--concurrency", "4", "--format", "json"]);
        assert_eq!(
            out.code(),
            0,
            "run {run} converges in one run: {}",
            out.stdout()
        );
        assert_eq!(duplicates(&sim), Vec::<String>::new(), "run {run}");
        assert_eq!(
            rate_limits(&sim)["early"],
            0,
            "run {run}: {}",
            rate_limits(&sim)
        );
    }
    assert!(
        rate_limits(&sim)["windows"].as_u64().unwrap() > 0,
        "the soak did rate-limit"
    );
    let after = sim
        .pages("cloud")
        .into_iter()
        .find(|p| p["id"] == foreign["id"])
        .unwrap();
    assert_eq!(
        after, foreign,
        "the page kbpub does not manage is untouched"
    );

    sim.set("cloud", "random-faults", json!({"seed": 11}));
    let writes = sim.writes("cloud");
    publish(&kb, &["--concurrency", "4"]).ok();
    assert_eq!(sim.writes("cloud"), writes, "a final re-run writes nothing");
}

/// Three partner documents published to the simulator's community.
fn community_kb(sim: &Sim) -> Kb {
    let kb = Kb::new();
    kb.append(
        "kbpub.toml",
        &format!(
            "[community]\nbase_url = \"{}/community\"\ntoken_env = \"KB_TEST_COMMUNITY\"\narticle_url = \"https://community.test/kb/{{external_id}}\"\ndefault_category = \"guides\"\n",
            sim.base
        ),
    );
    for n in 1..=3 {
        kb.write(
            &format!("content/guides/g{n}.md"),
            &format!("+++\nid = \"g{n}\"\ntitle = \"Guide {n}\"\ntype = \"partner\"\naudience = \"partner\"\n+++\n\nStep {n}.\n"),
        );
    }
    kb.write(".kb/people.toml", PEOPLE);
    kb.write(".kb/policy.toml", POLICY);
    kb.write(".gitignore", "output/\n.kb/receipts/\n");
    git(kb.path(), "wes@example.com", &["init", "-q", "-b", "main"]);
    approve_all(&kb);
    kb
}

fn community(sim: &Sim, method: reqwest::Method, what: &str, body: Option<Value>) -> Value {
    let mut request = sim.client().request(method, format!("{}{what}", sim.base));
    if what.starts_with("/community") {
        request = request.bearer_auth("moderator-token");
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().unwrap();
    assert!(
        response.status().is_success(),
        "{what}: {}",
        response.status()
    );
    response.json().unwrap_or(Value::Null)
}

#[test]
fn a_community_fault_soak_converges_without_duplicates_or_early_requests() {
    let sim = Sim::start();
    let kb = community_kb(&sim);
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    let foreign = community(
        &sim,
        post.clone(),
        "/community/v1/articles",
        Some(
            json!({"external_id": "mia-notes", "title": "Mia's notes", "body": "<p>mine</p>",
            "category": "guides", "labels": [], "locale": "en"}),
        ),
    );
    community(
        &sim,
        post.clone(),
        "/__sim/community/random-faults",
        Some(
            json!({"seed": 9, "rate_429": 0.2, "rate_5xx": 0.1, "rate_commit": 0.05, "retry_after": 1}),
        ),
    );
    for run in 1..=3 {
        if run > 1 {
            let file = format!("content/guides/g{run}.md");
            let text = kb.read(&file);
            kb.write(&file, &format!("{text}\nAmended in run {run}.\n"));
            approve_all(&kb);
        }
        let out = kb.run_env(
            &["publish", "--concurrency", "4", "--format", "json"],
            &[("KB_TEST_COMMUNITY", "community-token")],
        );
        assert_eq!(out.code(), 0, "run {run} converges: {}", out.stdout());
        let limits = community(&sim, get.clone(), "/__sim/community/rate-limits", None);
        assert_eq!(limits["early"], 0, "run {run}: {limits}");
    }
    let articles = community(&sim, get.clone(), "/__sim/community/articles", None);
    let articles = articles.as_array().unwrap();
    let mut ids: Vec<&str> = articles
        .iter()
        .map(|a| a["external_id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["g1", "g2", "g3", "mia-notes"], "one article each");
    let mia = articles
        .iter()
        .find(|a| a["external_id"] == "mia-notes")
        .unwrap();
    assert_eq!(
        (&mia["version"], &mia["status"]),
        (&foreign["version"], &foreign["status"]),
        "the article kbpub does not manage is untouched"
    );
    community(
        &sim,
        post,
        "/__sim/community/random-faults",
        Some(json!({"seed": 9})),
    );
    let writes = |sim: &Sim| {
        let stats = community(sim, get.clone(), "/__sim/community/stats", None);
        ["POST", "PUT"]
            .iter()
            .map(|m| stats[m].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    let before = writes(&sim);
    kb.run_env(&["publish"], &[("KB_TEST_COMMUNITY", "community-token")])
        .ok();
    assert_eq!(writes(&sim), before, "a final re-run writes nothing");
}

#[test]
fn quiet_publish_prints_only_errors() {
    let sim = Sim::start();
    let kb = cloud_kb(&sim);
    let run = publish(&kb, &["--quiet"]).ok();
    assert_eq!((run.stdout(), run.stderr()), (String::new(), String::new()));

    let text = kb.read("content/guides/alpha.md");
    kb.write("content/guides/alpha.md", &format!("{text}\nChanged.\n"));
    approve_all(&kb);
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "PUT", "path": "/api/v2/pages/", "status": 400}]),
    );
    let run = publish(&kb, &["-q"]).fails_with(1);
    assert_eq!(run.stdout(), "");
    let stderr = run.stderr();
    assert!(
        stderr.lines().all(|l| l.starts_with("error: ")) && stderr.contains("Alpha guide"),
        "{stderr}"
    );
    assert_contains(&stderr, "HTTP 400");
}

#[test]
fn the_confluence_url_and_settings_can_come_from_the_environment() {
    let sim = Sim::start();
    let kb = cloud_kb(&sim);
    kb.replace(
        "kbpub.toml",
        &format!("{}/wiki", sim.base),
        "https://staging.invalid/wiki",
    );
    let base_url = format!("{}/wiki", sim.base);
    let env = [
        ("KB_TEST_EMAIL", EMAIL),
        ("KB_TEST_TOKEN", TOKEN),
        ("KBPUB_CONFLUENCE_BASE_URL", base_url.as_str()),
        ("KBPUB_CONFLUENCE_DEFAULT_SPACE", "EDIOPS"),
    ];
    kb.run_env(&["publish", "--quiet"], &env).ok();
    let spaces: std::collections::BTreeSet<String> = sim
        .pages("cloud")
        .iter()
        .filter(|p| p["properties"]["kbpub"].is_object())
        .map(|p| p["space"].as_str().unwrap().to_string())
        .collect();
    assert!(
        spaces.contains("EDIOPS") && !spaces.contains("OPS"),
        "{spaces:?}"
    );
    let run = kb
        .run_env(
            &["publish"],
            &[
                ("KBPUB_CONFLUENCE_CONCURRENCY", "four"),
                ("KB_TEST_TOKEN", TOKEN),
            ],
        )
        .fails_with(1);
    assert!(
        run.stderr()
            .contains("environment variable `KBPUB_CONFLUENCE_CONCURRENCY`"),
        "{}",
        run.stderr()
    );
}
