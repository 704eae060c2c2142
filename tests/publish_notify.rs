//! `[[notify]]` end to end: the real binary publishes to `kbpub sim`'s community and tells the
//! simulator's webhook receiver (which verifies every Standard Webhooks signature) and X
//! endpoint what changed — signed events recorded in the receipts, retries under the same
//! `webhook-id`, nothing sent by `--dry-run`, filters, exit code 3 and a kept delivery when
//! only the notification failed, one X post per content (a lost answer is not posted twice),
//! and X's 429 honoured.

mod common;

use common::notify::*;
use common::*;
use serde_json::{Value, json};

const NOTICE: &str = "+++\nid = \"as2-rotation\"\ntitle = \"AS2 certificate rotation\"\ntype = \"notice\"\naudience = \"partner\"\n+++\n\nWe rotate our AS2 certificate on 1 March.\n";

/// A knowledge base publishing a partner notice and a partner guide (and an internal SOP) to
/// the simulator's community, with `notify` (TOML, `{sim}` standing for the simulator's URL).
fn kb_with(sim: &Sim, notify: &str) -> Kb {
    let kb = Kb::new();
    kb.append(
        "kbpub.toml",
        &format!(
            "[community]\nbase_url = \"{sim}/community\"\ntoken_env = \"KB_TEST_COMMUNITY\"\narticle_url = \"https://community.test/kb/{{external_id}}\"\ndefault_category = \"guides\"\n\n{}",
            notify.replace("{sim}", &sim.base),
            sim = sim.base
        ),
    );
    kb.write("content/notices/as2.md", NOTICE);
    edit_guide(&kb, "Connect over SFTP.");
    kb.write(
        "content/ops/runbook.md",
        "+++\nid = \"runbook\"\ntitle = \"Runbook\"\ntype = \"sop\"\n+++\n\nInternal only.\n",
    );
    kb.write(".kb/people.toml", PEOPLE);
    kb.write(".kb/policy.toml", POLICY);
    kb.write(".gitignore", "output/\n.kb/receipts/\n");
    git(kb.path(), "wes@example.com", &["init", "-q", "-b", "main"]);
    approve_all(&kb);
    kb
}

fn edit_guide(kb: &Kb, text: &str) {
    kb.write(
        "content/guides/setup.md",
        &format!("+++\nid = \"setup\"\ntitle = \"Partner setup\"\ntype = \"partner\"\naudience = \"partner\"\n+++\n\n{text}\n"),
    );
}

const HOOKS: &str = "[[notify]]\nname = \"hooks\"\nkind = \"webhook\"\nurl = \"{sim}/webhooks/hooks\"\nsecret_env = \"KB_TEST_HOOK\"\n";
const X: &str = "[[notify]]\nname = \"x\"\nkind = \"x\"\nurl = \"{sim}/x\"\ntoken_env = \"KB_TEST_X\"\ntypes = [\"notice\"]\n";

/// `kbpub publish --format json` with every credential set: (exit code, report).
fn publish(kb: &Kb, args: &[&str]) -> (i32, Value) {
    publish_env(
        kb,
        args,
        &[("KB_TEST_HOOK", WEBHOOK_SECRET), ("KB_TEST_X", X_USER)],
    )
}

fn publish_env(kb: &Kb, args: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let env = [&[("KB_TEST_COMMUNITY", "community-token")], env].concat();
    let run = kb.run_env(&[&["publish", "--format", "json"], args].concat(), &env);
    for (_, secret) in &env {
        assert!(
            !run.stdout().contains(secret) && !run.stderr().contains(secret),
            "a secret leaked"
        );
    }
    (run.code(), run.json())
}

/// The deliveries the report lists for destination `name`.
fn reported<'a>(report: &'a Value, name: &str) -> &'a Vec<Value> {
    let destination = report["notify"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {report:#}"));
    destination["deliveries"].as_array().unwrap()
}

fn doc_ids(event: &Value) -> Vec<&str> {
    event["data"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["doc_id"].as_str().unwrap())
        .collect()
}

fn pending(kb: &Kb, name: &str) -> Vec<String> {
    files_under(
        &kb.path()
            .join(format!(".kb/receipts/notify/{name}/pending")),
    )
}

#[test]
fn a_publish_run_sends_one_signed_event_with_what_changed_recorded_in_the_receipts() {
    let sim = Sim::start();
    let kb = kb_with(&sim, HOOKS);
    let report = succeeded(publish(&kb, &[]));
    let sent = reported(&report, "hooks");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["outcome"], "sent");
    let attempts = deliveries(&sim);
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    let attempt = &attempts[0];
    assert_eq!(
        (&attempt["verified"], &attempt["status"]),
        (&json!(true), &json!(204))
    );
    assert_eq!(attempt["id"], sent[0]["id"]);
    let event = &attempt["body"];
    assert_eq!(event["type"], "kb.publish.completed");
    assert_eq!(event["id"], attempt["id"]);
    assert_eq!(
        doc_ids(event),
        ["as2-rotation", "setup"],
        "partner documents only: the SOP is not in the community"
    );
    let notice = &event["data"]["changes"][0];
    assert_eq!(notice["change"], "created");
    assert_eq!(notice["target"], "community");
    assert_eq!(notice["title"], "AS2 certificate rotation");
    assert_eq!(notice["doc_type"], "notice");
    assert_eq!(notice["url"], "https://community.test/kb/as2-rotation");
    assert_eq!(notice["site_url"], "https://kb.test/notices/as2.html");
    assert!(
        notice["content_hash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        notice["approved_hash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(notice["approval_state"], "approved");
    assert!(
        notice["approvals"][0]
            .as_str()
            .unwrap()
            .contains("ana@example.com")
    );
    let receipt: Value = serde_json::from_str(
        &std::fs::read_to_string(
            kb.path()
                .join(".kb/receipts/notify/hooks/as2-rotation.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(receipt["remote_id"], attempt["id"]);
    assert_eq!(receipt["target"], "notify/hooks");
    let log = kb.read(".kb/receipts/log.jsonl");
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("\"notify/hooks\""))
            .count(),
        2
    );
    assert!(pending(&kb, "hooks").is_empty());

    let report = succeeded(publish(&kb, &[]));
    assert!(
        reported(&report, "hooks").is_empty(),
        "nothing changed, nothing to tell"
    );
    assert_eq!(deliveries(&sim).len(), 1);

    edit_guide(&kb, "Connect over SFTP or AS2.");
    approve_all(&kb);
    let (code, _) = publish(&kb, &[]);
    assert_eq!(code, 0);
    let attempts = deliveries(&sim);
    assert_eq!(attempts.len(), 2);
    assert_eq!(doc_ids(&attempts[1]["body"]), ["setup"]);
    assert_eq!(
        attempts[1]["body"]["data"]["changes"][0]["change"],
        "updated"
    );
    assert!(attempts[1]["verified"] == true && attempts[1]["id"] != attempts[0]["id"]);
}

#[test]
fn retries_of_a_delivery_carry_the_same_webhook_id_each_signed_afresh() {
    let sim = Sim::start();
    let kb = kb_with(&sim, HOOKS);
    faults(
        &sim,
        "webhook",
        json!([{"method": "POST", "path": "hooks", "status": 503, "times": 2}]),
    );
    succeeded(publish(&kb, &[]));
    let attempts = deliveries(&sim);
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!(503), &json!(503), &json!(204)]);
    assert!(
        attempts.iter().all(|a| a["verified"] == true),
        "{attempts:#?}"
    );
    assert!(
        attempts.iter().all(|a| a["id"] == attempts[0]["id"]),
        "{attempts:#?}"
    );
    assert!(attempts.iter().all(|a| a["duplicate"] == false));
}

#[test]
fn a_dry_run_sends_nothing_and_keeps_nothing() {
    let sim = Sim::start();
    let kb = kb_with(&sim, &format!("{HOOKS}\n{X}"));
    let report = succeeded(publish(&kb, &["--dry-run"]));
    let planned: Vec<&Value> = ["hooks", "x"]
        .iter()
        .flat_map(|n| reported(&report, n))
        .collect();
    assert_eq!(
        planned.len(),
        2,
        "one event and one post planned: {report:#}"
    );
    assert!(planned.iter().all(|d| d["outcome"] == "planned"));
    assert!(deliveries(&sim).is_empty());
    assert!(
        control(&sim, "x", "stats").as_object().unwrap().is_empty(),
        "no request reached X"
    );
    assert!(!kb.path().join(".kb/receipts/notify").exists());
}

#[test]
fn destinations_hear_only_their_targets_types_audiences_and_changes() {
    let sim = Sim::start();
    let notify = "[[notify]]\nname = \"partners\"\nkind = \"webhook\"\nurl = \"{sim}/webhooks/partners\"\nsecret_env = \"KB_TEST_HOOK\"\ntypes = [\"notice\"]\naudience = \"partner\"\ntargets = [\"community\"]\n\n[[notify]]\nname = \"archive\"\nkind = \"webhook\"\nurl = \"{sim}/webhooks/archive\"\nsecret_env = \"KB_TEST_HOOK\"\nchanges = [\"archived\"]\n\n[[notify]]\nname = \"internal\"\nkind = \"webhook\"\nurl = \"{sim}/webhooks/internal\"\nsecret_env = \"KB_TEST_HOOK\"\naudience = \"internal\"\n";
    let kb = kb_with(&sim, notify);
    let report = succeeded(publish(&kb, &[]));
    assert!(reported(&report, "archive").is_empty() && reported(&report, "internal").is_empty());
    let attempts = deliveries(&sim);
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(attempts[0]["endpoint"], "partners");
    assert_eq!(doc_ids(&attempts[0]["body"]), ["as2-rotation"]);

    kb.write(
        "content/notices/as2.md",
        &NOTICE.replace("+++\n\nWe", "status = \"obsolete\"\n+++\n\nWe"),
    );
    approve_all(&kb);
    succeeded(publish(&kb, &[]));
    let attempts = deliveries(&sim);
    let archived: Vec<&Value> = attempts
        .iter()
        .filter(|a| a["endpoint"] == "archive")
        .collect();
    assert_eq!(archived.len(), 1, "{attempts:#?}");
    assert_eq!(doc_ids(&archived[0]["body"]), ["as2-rotation"]);
    assert_eq!(
        archived[0]["body"]["data"]["changes"][0]["change"],
        "archived"
    );
    assert_eq!(
        attempts
            .iter()
            .filter(|a| a["endpoint"] == "internal")
            .count(),
        0
    );
}

#[test]
fn a_refused_notification_exits_3_and_the_next_run_sends_it_with_the_same_id() {
    let sim = Sim::start();
    let kb = kb_with(&sim, HOOKS);
    faults(
        &sim,
        "webhook",
        json!([{"method": "POST", "path": "hooks", "status": 410}]),
    );
    let (code, report) = publish(&kb, &[]);
    assert_eq!(code, 3, "pages published, notification failed: {report:#}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["targets"][0]["summary"]["create"], 2, "{report:#}");
    let failed = &reported(&report, "hooks")[0];
    assert_eq!(failed["outcome"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("410"),
        "{failed:#}"
    );
    assert!(
        failed["help"].as_str().unwrap().contains("gone"),
        "{failed:#}"
    );
    assert_eq!(deliveries(&sim).len(), 1, "410 is not retried");
    assert_eq!(pending(&kb, "hooks").len(), 1);

    let report = succeeded(publish(&kb, &[]));
    let resent = &reported(&report, "hooks")[0];
    assert_eq!(
        (&resent["outcome"], &resent["earlier"]),
        (&json!("sent"), &json!(true))
    );
    let attempts = deliveries(&sim);
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1]["id"], attempts[0]["id"]);
    assert_eq!(attempts[1]["status"], 204);
    assert_eq!(doc_ids(&attempts[1]["body"]), ["as2-rotation", "setup"]);
    assert!(pending(&kb, "hooks").is_empty());
}

#[test]
fn a_missing_secret_exits_3_naming_the_variable_and_sends_nothing() {
    let sim = Sim::start();
    let kb = kb_with(&sim, HOOKS);
    let run = kb.run_env(&["publish"], &[("KB_TEST_COMMUNITY", "community-token")]);
    assert_eq!(run.code(), 3, "{}", run.stdout());
    run.assert_stdout_has("export KB_TEST_HOOK");
    assert!(deliveries(&sim).is_empty());
    let (code, _) = publish(&kb, &[]);
    assert_eq!(code, 0);
    assert_eq!(deliveries(&sim).len(), 1);
}

#[test]
fn a_bad_notify_entry_stops_the_run_before_anything_is_published() {
    let sim = Sim::start();
    let kb = kb_with(
        &sim,
        "[[notify]]\nname = \"x\"\nkind = \"x\"\ntoken_env = \"KB_TEST_X\"\ntypes = [\"notices\"]\n",
    );
    let run = kb.run_env(&["publish"], &[("KB_TEST_COMMUNITY", "community-token")]);
    assert_eq!(run.code(), 1);
    run.assert_stderr_has("unknown document type `notices`");
    assert!(run.stderr().contains("nothing was published"));
    assert!(articles(&sim).is_empty());
}

fn articles(sim: &Sim) -> Vec<Value> {
    common::community::articles(sim)
}

#[test]
fn x_gets_one_post_per_content_and_a_post_whose_answer_was_lost_is_not_posted_twice() {
    let sim = Sim::start();
    let kb = kb_with(&sim, X);
    faults(
        &sim,
        "x",
        json!([{"method": "POST", "path": "/2/tweets", "status": 500, "commit": true}]),
    );
    let (code, report) = publish(&kb, &[]);
    assert_eq!(code, 3, "{report:#}");
    assert_eq!(posts(&sim).len(), 1, "the post landed");
    assert_eq!(
        control(&sim, "x", "stats")["POST"],
        1,
        "a post is not retried blindly"
    );
    let text = posts(&sim)[0]["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with("AS2 certificate rotation (created "),
        "{text}"
    );
    assert!(
        text.ends_with("https://community.test/kb/as2-rotation"),
        "{text}"
    );

    let report = succeeded(publish(&kb, &[]));
    assert_eq!(
        reported(&report, "x")[0]["outcome"],
        "duplicate",
        "X already has it"
    );
    assert_eq!(posts(&sim).len(), 1);
    assert!(
        kb.path()
            .join(".kb/receipts/notify/x/as2-rotation.json")
            .exists()
    );

    edit_guide(&kb, "A guide is not a notice.");
    approve_all(&kb);
    succeeded(publish(&kb, &[]));
    assert_eq!(
        control(&sim, "x", "stats")["POST"],
        2,
        "no request for a guide"
    );

    kb.write(
        "content/notices/as2.md",
        &NOTICE.replace("1 March", "8 March"),
    );
    approve_all(&kb);
    let report = succeeded(publish(&kb, &[]));
    let sent = &reported(&report, "x")[0];
    assert_eq!(sent["outcome"], "sent");
    let all = posts(&sim);
    assert_eq!(all.len(), 2);
    assert!(all[1]["text"].as_str().unwrap().contains("(updated "));
    assert_eq!(sent["remote_id"], all[1]["id"]);
    let receipt = kb.read(".kb/receipts/notify/x/as2-rotation.json");
    assert!(receipt.contains(all[1]["id"].as_str().unwrap()));
}

#[test]
fn x_429_is_waited_out_until_its_reset_or_left_for_the_next_run() {
    let sim = Sim::start();
    let kb = kb_with(&sim, X);
    faults(
        &sim,
        "x",
        json!([{"method": "POST", "path": "/2/tweets", "status": 429, "retry_after": "2"}]),
    );
    succeeded(publish(&kb, &[]));
    assert_eq!(posts(&sim).len(), 1);
    assert_eq!(
        control(&sim, "x", "rate-limits")["early"],
        0,
        "nothing sent before the reset"
    );
    assert_eq!(control(&sim, "x", "stats")["POST"], 2);

    let sim = Sim::start();
    let kb = kb_with(&sim, X);
    faults(
        &sim,
        "x",
        json!([{"method": "POST", "path": "/2/tweets", "status": 429, "retry_after": "900"}]),
    );
    let (code, report) = publish(&kb, &[]);
    assert_eq!(code, 3, "{report:#}");
    let failed = &reported(&report, "x")[0];
    assert!(
        failed["error"].as_str().unwrap().contains("429"),
        "{failed:#}"
    );
    assert!(
        failed["help"]
            .as_str()
            .unwrap()
            .contains("x-rate-limit-reset"),
        "{failed:#}"
    );
    assert_eq!(
        control(&sim, "x", "stats")["POST"],
        1,
        "no retry inside the window"
    );
    assert_eq!(pending(&kb, "x").len(), 1);
}

#[test]
fn an_app_only_token_is_refused_with_what_to_do() {
    let sim = Sim::start();
    let kb = kb_with(&sim, X);
    let (code, report) = publish_env(&kb, &[], &[("KB_TEST_X", X_APP)]);
    assert_eq!(code, 3, "{report:#}");
    let failed = &reported(&report, "x")[0];
    assert!(
        failed["error"].as_str().unwrap().contains("403"),
        "{failed:#}"
    );
    assert!(
        failed["help"].as_str().unwrap().contains("user-context"),
        "{failed:#}"
    );
    assert!(posts(&sim).is_empty());
}
