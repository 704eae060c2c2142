//! Approval gating end to end: real git repositories in temp folders, commits authored by
//! different people (identities set per command, never from global git config), and the real
//! `kbpub approve`, `status`, `due` and `build`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;
use serde_json::Value;

const WES: &str = "wes@example.com"; // writer, also an ops reviewer
const ANA: &str = "ana@example.com"; // ops reviewer
const BO: &str = "bo@example.com"; // ops reviewer
const CY: &str = "cy@example.com"; // partner reviewer
const ED: &str = "ed@example.com"; // incident commander

const PEOPLE: &str = r#"
[[person]]
email = "wes@example.com"
name = "Wes Writer"
[[person]]
email = "ana@example.com"
name = "Ana Ops"
[[person]]
email = "bo@example.com"
name = "Bo Ops"
[[person]]
email = "cy@example.com"
name = "Cy Partner"
[[person]]
email = "ed@example.com"
name = "Ed Commander"

[groups]
ops = ["wes@example.com", "ana@example.com", "bo@example.com"]
partners = ["cy@example.com"]
commanders = ["ed@example.com"]
"#;

const POLICY: &str = r#"
[[rule]]
name = "internal"
audience = "internal"
approvals = 1
groups = ["ops"]
max_age = "30d"

[[rule]]
name = "partner"
audience = "partner"
approvals = 2
groups = ["ops", "partners"]
distinct_groups = true

[emergency]
groups = ["commanders"]
"#;

fn doc(id: &str, audience: &str, body: &str) -> String {
    format!(
        "+++\nid = \"{id}\"\ntitle = \"{id}\"\ntype = \"sop\"\naudience = \"{audience}\"\n+++\n\n{body}\n"
    )
}

/// A knowledge base in a fresh git repository, its first commit authored by Wes.
fn repo() -> Kb {
    let kb = Kb::new();
    kb.write(".kb/people.toml", PEOPLE);
    kb.write(".kb/policy.toml", POLICY);
    kb.write(
        "content/sops/a.md",
        &doc("sop-a", "internal", "Alpha procedure."),
    );
    kb.write(
        "content/sops/b.md",
        &doc("sop-b", "internal", "Beta procedure."),
    );
    kb.write(
        "content/partners/p.md",
        &doc("guide-p", "partner", "Partner guide."),
    );
    kb.write(".gitignore", "output/\n");
    git(kb.path(), WES, &["init", "-q", "-b", "main"]);
    commit_as(&kb, WES, "Initial documents");
    kb
}

fn commit_as(kb: &Kb, who: &str, message: &str) {
    git(kb.path(), who, &["add", "-A"]);
    git(kb.path(), who, &["commit", "-q", "-m", message]);
}

/// `kbpub <args>` run by `who` (who is also git's committer for that run).
fn kbpub_as(kb: &Kb, who: &str, args: &[&str], now: Option<&str>) -> Run {
    let mut env: Vec<(&str, String)> = git_env(who);
    if let Some(now) = now {
        env.push(("KBPUB_NOW", now.to_string()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    kb.run_env(args, &env)
}

fn approve(kb: &Kb, who: &str, args: &[&str]) -> Run {
    let mut all = vec!["approve", "--as", who];
    all.extend(args);
    kbpub_as(kb, who, &all, None)
}

/// `kbpub status --format json`, as a map from doc id to its entry.
fn status_at(kb: &Kb, now: Option<&str>) -> std::collections::HashMap<String, Value> {
    let run = kbpub_as(kb, WES, &["status", "--format", "json"], now).ok();
    run.json()["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["doc"].as_str().unwrap().to_string(), p.clone()))
        .collect()
}

fn status(kb: &Kb) -> std::collections::HashMap<String, Value> {
    status_at(kb, None)
}

fn state(page: &Value) -> &str {
    page["state"].as_str().unwrap()
}

/// Asserts `page` is in state `expected`, printing its reasons when it is not.
#[track_caller]
fn assert_state(page: &Value, expected: &str) {
    assert_eq!(state(page), expected, "{}", reasons(page));
}

/// Asserts one of `page`'s reasons holds `text`.
#[track_caller]
fn assert_reason(page: &Value, text: &str) {
    let reasons = reasons(page);
    assert!(reasons.contains(text), "{reasons}");
}

fn reasons(page: &Value) -> String {
    page["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn approve_commits_a_record_authored_by_the_approver_and_the_page_is_approved() {
    let kb = repo();
    assert_eq!(state(&status(&kb)["sop-a"]), "draft");
    let run = approve(&kb, ANA, &["content/sops/a.md", "--comment", "looks right"]).ok();
    assert!(run.stderr().contains("Approved sop-a"), "{}", run.stderr());
    let log = git(
        kb.path(),
        ANA,
        &["log", "-1", "--format=%ae%n%s", "--name-only"],
    );
    assert!(log.starts_with("ana@example.com\nApprove sop-a ("), "{log}");
    let record_path = log
        .lines()
        .find(|l| l.starts_with(".kb/approvals/sop-a/"))
        .expect("record committed");
    assert!(
        record_path.ends_with("-ana@example.com.toml"),
        "{record_path}"
    );
    let record = kb.read(record_path);
    for field in [
        "content_hash = \"sha256:",
        "decision = \"approve\"",
        "meaning = ",
        "approver = \"ana@example.com\"",
        "time = ",
        "expires = ",
        "comment = \"looks right\"",
    ] {
        assert!(record.contains(field), "record lacks {field}:\n{record}");
    }
    let pages = status(&kb);
    let a = &pages["sop-a"];
    assert_state(a, "approved");
    assert_eq!(a["approvals_used"][0]["approver"], ANA);
    assert_eq!(a["approvals_used"][0]["group"], "ops");
    assert_eq!(a["approvals_used"][0]["content_hash"], a["content_hash"]);
    assert_eq!(a["approvals_used"][0]["record"], record_path);
    assert_eq!(state(&pages["sop-b"]), "draft");
    let human = kbpub_as(&kb, WES, &["status"], None).ok().stdout();
    assert_contains(
        &human,
        "Identities are UNVERIFIED: approvals rest on git's author field",
    );
    let short = &a["content_hash"].as_str().unwrap()[7..19];
    assert!(
        human.contains("approved   sop-a")
            && human.contains(&format!(
                "approved {short} by Ana Ops <ana@example.com> (ops) on "
            )),
        "{human}"
    );
}

#[test]
fn the_built_site_shows_banners_on_pages_that_are_not_approved_only() {
    let kb = repo();
    approve(&kb, ANA, &["sop-a"]).ok();
    kbpub_as(&kb, WES, &["build"], None).ok();
    assert!(
        select(&kb.html("sops/a.html"), ".banner").is_empty(),
        "approved page has a banner"
    );
    let b = kb.html("sops/b.html");
    assert_eq!(
        text(&b, ".banner-title"),
        "Draft: not approved for publication"
    );
    assert!(
        text(&b, ".banner-text").contains("needs 1 approval"),
        "{}",
        text(&b, ".banner-text")
    );
    assert!(!select(&kb.html("partners/p.html"), ".banner-warning").is_empty());
}

#[test]
fn an_edit_makes_the_page_stale_and_says_what_changed_and_who_changed_it() {
    let kb = repo();
    approve(&kb, ANA, &["sop-a"]).ok();
    kb.write(
        "content/sops/a.md",
        &doc("sop-a", "internal", "Alpha procedure, revised."),
    );
    commit_as(&kb, WES, "Revise alpha");
    let a = &status(&kb)["sop-a"];
    assert_eq!(state(a), "stale");
    let why = reasons(a);
    assert_contains(&why, "approved for ");
    assert_contains(&why, "by Ana Ops <ana@example.com>");
    assert_contains(&why, "changed since: the document");
    assert_contains(&why, "by wes@example.com");
    kbpub_as(&kb, WES, &["build"], None).ok();
    assert!(
        text(&kb.html("sops/a.html"), ".banner-title").contains("Changed since it was approved")
    );
}

#[test]
fn a_change_to_a_shared_template_makes_every_page_using_it_stale() {
    let kb = repo();
    kb.write("templates/sop.html", "{% extends \"page.html\" %}{% block after_content %}{% include \"partials/footer.html\" %}{% endblock after_content %}");
    kb.write(
        "templates/partials/footer.html",
        "<p>Questions? Ask EDI operations.</p>",
    );
    commit_as(&kb, WES, "SOP footer");
    approve(&kb, ANA, &["sop-a", "sop-b"]).ok();
    approve(&kb, ANA, &["guide-p"]).ok();
    approve(&kb, CY, &["guide-p"]).ok();
    let before = status(&kb);
    assert!(
        ["sop-a", "sop-b", "guide-p"]
            .iter()
            .all(|d| state(&before[*d]) == "approved")
    );
    kb.write(
        "templates/partials/footer.html",
        "<p>Questions? Ask the EDI operations desk.</p>",
    );
    commit_as(&kb, BO, "Reword footer");
    let after = status(&kb);
    for id in ["sop-a", "sop-b", "guide-p"] {
        // guide-p is also type sop, so it renders through the same partial.
        assert_eq!(state(&after[id]), "stale", "{id}: {}", reasons(&after[id]));
        assert!(
            reasons(&after[id]).contains("template `partials/footer.html`"),
            "{}",
            reasons(&after[id])
        );
        assert_ne!(after[id]["content_hash"], before[id]["content_hash"]);
    }
    // Bo changed the partial: his approval of the new version does not count, Ana's does.
    let refused = approve(&kb, BO, &["sop-a"]).fails_with(1);
    assert!(
        refused
            .stderr()
            .contains("authored or committed changes to sop-a"),
        "{}",
        refused.stderr()
    );
    approve(&kb, ANA, &["sop-a"]).ok();
    assert_eq!(state(&status(&kb)["sop-a"]), "approved");
}

#[test]
fn live_data_values_are_not_part_of_the_content_hash() {
    // The hash covers source and templates only; building (which renders data) does not change it.
    let kb = repo();
    let before = status(&kb)["sop-a"]["content_hash"].clone();
    kbpub_as(&kb, WES, &["build"], None).ok();
    assert_eq!(status(&kb)["sop-a"]["content_hash"], before);
}

#[test]
fn self_approval_does_not_count() {
    let kb = repo();
    // kbpub refuses to write an approval that could not count...
    let refused = approve(&kb, WES, &["sop-a"]).fails_with(1);
    assert!(
        refused.stderr().contains(
            "wes@example.com authored or committed changes to sop-a since its last approved state"
        ),
        "{}",
        refused.stderr()
    );
    assert!(
        !kb.path().join(".kb/approvals").exists(),
        "a refused approval wrote a record"
    );
    // ...and a record written by hand and committed by the author is not counted either.
    approve(&kb, ANA, &["sop-b"]).ok();
    let record = std::fs::read_dir(kb.path().join(".kb/approvals/sop-b"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let pages = status(&kb);
    let (hash_a, hash_b) = (
        pages["sop-a"]["content_hash"].as_str().unwrap(),
        pages["sop-b"]["content_hash"].as_str().unwrap(),
    );
    let own = std::fs::read_to_string(&record)
        .unwrap()
        .replace("sop-b", "sop-a")
        .replace(ANA, WES)
        .replace(hash_b, hash_a);
    kb.write(
        ".kb/approvals/sop-a/20260101T000000Z-wes@example.com.toml",
        &own,
    );
    commit_as(&kb, WES, "Approve my own page");
    let a = &status(&kb)["sop-a"];
    assert_eq!(state(a), "draft");
    assert!(reasons(a).contains("Wes Writer <wes@example.com> approved this version but authored or committed changes to it"), "{}", reasons(a));
}

#[test]
fn a_record_naming_someone_else_committed_by_a_writer_does_not_count() {
    let kb = repo();
    // Ana's genuine approval of sop-b, copied by Wes into sop-a's folder with sop-a's hash.
    let hash_a = status(&kb)["sop-a"]["content_hash"]
        .as_str()
        .unwrap()
        .to_string();
    approve(&kb, ANA, &["sop-b", "--no-commit"]).ok();
    let staged = git(kb.path(), ANA, &["diff", "--cached", "--name-only"]);
    let record = staged.trim().to_string();
    assert!(record.starts_with(".kb/approvals/sop-b/"), "{staged}");
    let hash_b = status(&kb)["sop-b"]["content_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let pages = status(&kb);
    assert!(
        reasons(&pages["sop-b"]).contains("is not committed"),
        "{}",
        reasons(&pages["sop-b"])
    );
    git(kb.path(), ANA, &["reset", "-q"]);
    let text = kb.read(&record);
    std::fs::remove_file(kb.path().join(&record)).unwrap();
    kb.write(
        &record.replace("sop-b", "sop-a"),
        &text.replace("sop-b", "sop-a").replace(&hash_b, &hash_a),
    );
    commit_as(&kb, WES, "Add Ana's approval");
    let a = &status(&kb)["sop-a"];
    assert_eq!(state(a), "draft");
    assert_reason(
        a,
        "is authored by wes@example.com, not by the approver ana@example.com",
    );
}

#[test]
fn approvals_expire_after_max_age_and_at_the_review_date() {
    let kb = repo();
    kb.write(
        "content/sops/b.md",
        &doc("sop-b", "internal", "Beta.").replace("+++\n\n", "review_by = 2026-02-10\n+++\n\n"),
    );
    commit_as(&kb, WES, "Review date");
    let now = "2026-01-01T09:00:00Z";
    kbpub_as(
        &kb,
        ANA,
        &["approve", "--as", ANA, "sop-a", "sop-b"],
        Some(now),
    )
    .ok();
    let fresh = status_at(&kb, Some("2026-01-15T00:00:00Z"));
    assert_eq!(state(&fresh["sop-a"]), "approved");
    assert_eq!(fresh["sop-a"]["review_due"], "2026-01-31T09:00:00Z"); // max_age 30d
    assert_eq!(fresh["sop-b"]["review_due"], "2026-01-31T09:00:00Z");
    let due = kbpub_as(
        &kb,
        WES,
        &["due", "--within", "20d", "--format", "json"],
        Some("2026-01-15T00:00:00Z"),
    )
    .ok()
    .json();
    let ids: Vec<&str> = due["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["doc"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sop-a", "sop-b"]);
    let none = kbpub_as(
        &kb,
        WES,
        &["due", "--within", "7d"],
        Some("2026-01-15T00:00:00Z"),
    )
    .ok()
    .stdout();
    assert_contains(&none, "0 document(s) due for review within 7d");
    let later = status_at(&kb, Some("2026-02-05T00:00:00Z"));
    assert_eq!(state(&later["sop-a"]), "expired");
    assert!(
        reasons(&later["sop-a"])
            .contains("approval by Ana Ops <ana@example.com> of 2026-01-01 expired on 2026-01-31"),
        "{}",
        reasons(&later["sop-a"])
    );
    // Approved again on Feb 5: sop-b's approval now ends with its review date.
    kbpub_as(
        &kb,
        ANA,
        &["approve", "--as", ANA, "sop-b"],
        Some("2026-02-05T00:00:00Z"),
    )
    .ok();
    let renewed = status_at(&kb, Some("2026-02-06T00:00:00Z"));
    assert_eq!(state(&renewed["sop-b"]), "approved");
    assert_eq!(renewed["sop-b"]["review_due"], "2026-02-11T00:00:00Z");
    let past_review = status_at(&kb, Some("2026-02-12T00:00:00Z"));
    assert_eq!(state(&past_review["sop-b"]), "expired");
    assert!(
        reasons(&past_review["sop-b"]).contains("its review date 2026-02-10 has passed"),
        "{}",
        reasons(&past_review["sop-b"])
    );
    let overdue = kbpub_as(&kb, WES, &["due"], Some("2026-02-12T00:00:00Z"))
        .ok()
        .stdout();
    assert_contains(&overdue, "2026-02-10  overdue      expired    sop-b");
}

#[test]
fn a_later_rejection_blocks_until_the_rejecter_approves() {
    let kb = repo();
    approve(&kb, ANA, &["sop-a"]).ok();
    approve(
        &kb,
        BO,
        &["sop-a", "--reject", "--comment", "step 3 is wrong"],
    )
    .ok();
    let a = &status(&kb)["sop-a"];
    assert_eq!(state(a), "rejected");
    assert!(
        reasons(a).contains("rejected by Bo Ops <bo@example.com>")
            && reasons(a).contains("step 3 is wrong"),
        "{}",
        reasons(a)
    );
    kbpub_as(&kb, WES, &["build"], None).ok();
    assert_eq!(
        attr(&kb.html("sops/a.html"), ".banner", "class"),
        "banner banner-danger"
    );
    approve(&kb, BO, &["sop-a", "--comment", "fixed after all"]).ok();
    assert_eq!(state(&status(&kb)["sop-a"]), "approved");
}

#[test]
fn distinct_groups_need_one_approval_from_each_group() {
    let kb = repo();
    approve(&kb, ANA, &["guide-p"]).ok();
    approve(&kb, BO, &["guide-p"]).ok();
    let p = &status(&kb)["guide-p"];
    assert_eq!(
        state(p),
        "draft",
        "two ops approvals must not make a quorum: {}",
        reasons(p)
    );
    assert!(reasons(p).contains("needs 2 approvals of this version from ops, partners, each from a different group (rule `partner`); valid approvals: Ana Ops <ana@example.com>, Bo Ops <bo@example.com>"), "{}", reasons(p));
    approve(&kb, CY, &["guide-p"]).ok();
    let p = &status(&kb)["guide-p"];
    assert_state(p, "approved");
    let groups: Vec<&str> = p["approvals_used"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["group"].as_str().unwrap())
        .collect();
    assert!(
        groups.contains(&"ops") && groups.contains(&"partners"),
        "{groups:?}"
    );
    // Cy is not in ops or partners' rule for internal pages: refused with the reason.
    let refused = approve(&kb, CY, &["sop-a"]).fails_with(1);
    assert!(
        refused
            .stderr()
            .contains("not in the groups of rule `internal` (ops)"),
        "{}",
        refused.stderr()
    );
}

#[test]
fn a_malformed_policy_fails_closed_with_its_position() {
    let kb = repo();
    approve(&kb, ANA, &["sop-a"]).ok();
    kb.write(
        ".kb/policy.toml",
        &POLICY.replace(
            "groups = [\"ops\"]\nmax_age",
            "groups = [\"opps\"]\nmax_age",
        ),
    );
    let run = kbpub_as(&kb, WES, &["status"], None).fails_with(1);
    assert!(
        run.stderr().contains("unknown group `opps`")
            && run.stderr().contains(".kb/policy.toml:6:"),
        "{}",
        run.stderr()
    );
    run.assert_stderr_has("did you mean `ops`");
    assert!(
        run.stdout().is_empty(),
        "no states may be printed: {}",
        run.stdout()
    );
    let refused = approve(&kb, ANA, &["sop-b"]).fails_with(1);
    refused.assert_stderr_has("unknown group `opps`");
    // The build is a preview: it succeeds, and every page says why its approval state is unknown.
    let build = kbpub_as(&kb, WES, &["build"], None).ok();
    assert!(
        build
            .stderr()
            .contains("warning[policy]: unknown group `opps`"),
        "{}",
        build.stderr()
    );
    let a = kb.html("sops/a.html");
    assert_eq!(text(&a, ".banner-title"), "Approval state unknown");
    assert!(
        text(&a, ".banner-text").contains(".kb/policy.toml:6:11: unknown group `opps`"),
        "{}",
        text(&a, ".banner-text")
    );
}

#[test]
fn documents_matched_by_two_rules_without_precedence_are_an_error() {
    let kb = repo();
    let overlapping = format!(
        "{POLICY}\n[[rule]]\nname = \"sops\"\npaths = [\"sops/**\"]\napprovals = 1\ngroups = [\"ops\"]\n"
    );
    kb.write(".kb/policy.toml", &overlapping);
    let run = kbpub_as(&kb, WES, &["status"], None).fails_with(1);
    assert!(run.stderr().contains("rules `internal` and `sops` both match content/sops/a.md, content/sops/b.md, and neither has a higher `precedence`"), "{}", run.stderr());
    run.assert_stderr_has(".kb/policy.toml:20:8");
    kb.write(
        ".kb/policy.toml",
        &overlapping.replace("name = \"sops\"", "name = \"sops\"\nprecedence = 5"),
    );
    let pages = status(&kb);
    assert_eq!(pages["sop-a"]["rule"], "sops");
    assert_eq!(pages["guide-p"]["rule"], "partner");
}

#[test]
fn a_shallow_clone_is_a_clear_error_never_a_pass() {
    let kb = repo();
    approve(&kb, ANA, &["sop-a"]).ok();
    let clone = tempfile::tempdir().unwrap();
    let url = format!("file://{}", kb.path().display());
    git(
        clone.path(),
        WES,
        &["clone", "-q", "--depth", "1", &url, "kb"],
    );
    let shallow = Kb { dir: clone };
    let run = kbpub_as(&shallow, WES, &["--root", "kb", "status"], None).fails_with(1);
    run.assert_stderr_has("this is a shallow clone");
    run.assert_stderr_has("git fetch --unshallow");
    run.assert_stderr_has("fetch-depth: 0");
    kbpub_as(&shallow, WES, &["--root", "kb", "build"], None).ok();
    let a = Html::parse_document(&shallow.read("kb/output/sops/a.html"));
    assert_eq!(text(&a, ".banner-title"), "Approval state unknown");
    assert!(
        text(&a, ".banner-text").contains("shallow clone"),
        "{}",
        text(&a, ".banner-text")
    );
}

#[test]
fn emergency_approval_is_flagged_everywhere_and_expires() {
    let kb = repo();
    let refused = kbpub_as(
        &kb,
        ANA,
        &[
            "approve",
            "--as",
            ANA,
            "sop-a",
            "--emergency",
            "--reason",
            "outage",
        ],
        None,
    )
    .fails_with(1);
    assert!(
        refused
            .stderr()
            .contains("not in the emergency groups (commanders)"),
        "{}",
        refused.stderr()
    );
    let usage = kbpub_as(
        &kb,
        ED,
        &["approve", "--as", ED, "sop-a", "--emergency"],
        None,
    )
    .fails_with(2);
    assert!(usage.stderr().contains("--reason"), "{}", usage.stderr());
    let now = "2026-03-01T12:00:00Z";
    kbpub_as(
        &kb,
        ED,
        &[
            "approve",
            "--as",
            ED,
            "sop-a",
            "--emergency",
            "--reason",
            "AS2 outage: partners need the workaround now",
        ],
        Some(now),
    )
    .ok();
    let a = &status_at(&kb, Some("2026-03-02T12:00:00Z"))["sop-a"];
    assert_eq!(state(a), "emergency");
    assert_eq!(a["emergency"]["approver"], ED);
    assert_eq!(
        a["emergency"]["reason"],
        "AS2 outage: partners need the workaround now"
    );
    assert_eq!(a["emergency"]["expires"], "2026-03-04T12:00:00Z"); // 72 hours by default
    let human = kbpub_as(&kb, WES, &["status"], Some("2026-03-02T12:00:00Z"))
        .ok()
        .stdout();
    assert_contains(&human, "emergency  sop-a");
    assert_contains(&human, "EMERGENCY approval by Ed Commander");
    kbpub_as(&kb, WES, &["build"], Some("2026-03-02T12:00:00Z")).ok();
    let page = kb.html("sops/a.html");
    assert!(
        text(&page, ".banner-title").starts_with("Emergency approval"),
        "{}",
        text(&page, ".banner-title")
    );
    assert!(text(&page, ".banner-text").contains("AS2 outage"));
    let later = &status_at(&kb, Some("2026-03-05T12:00:00Z"))["sop-a"];
    assert_eq!(state(later), "draft");
    assert!(
        reasons(later).contains(
            "emergency approval by Ed Commander <ed@example.com> expired on 2026-03-04 12:00 UTC"
        ),
        "{}",
        reasons(later)
    );
}

#[test]
fn a_change_merged_from_a_branch_after_an_approval_still_excludes_its_author() {
    // Wes edits on a branch *before* Ana approves the old version on main; the merge brings his
    // edit in afterwards. Commit dates would put his edit before the approval; ancestry does not.
    let kb = repo();
    git(kb.path(), WES, &["checkout", "-q", "-b", "edit"]);
    kb.write(
        "content/sops/a.md",
        &doc("sop-a", "internal", "Alpha, edited on a branch."),
    );
    commit_as(&kb, WES, "Edit alpha");
    git(kb.path(), WES, &["checkout", "-q", "main"]);
    approve(&kb, ANA, &["sop-a"]).ok();
    merge(&kb, BO, "edit");
    let a = &status(&kb)["sop-a"];
    assert_state(a, "stale");
    assert_eq!(a["changed_by"], serde_json::json!([WES]));
    approve(&kb, WES, &["sop-a"]).fails_with(1);
    approve(&kb, BO, &["sop-a"]).ok();
    assert_eq!(state(&status(&kb)["sop-a"]), "approved");
}

#[test]
fn the_default_approver_is_gits_user_email() {
    let kb = repo();
    git(kb.path(), ANA, &["config", "user.email", ANA]);
    git(kb.path(), ANA, &["config", "user.name", "Ana Ops"]);
    let run = kbpub_as(&kb, ANA, &["approve", "sop-a"], None).ok();
    run.assert_stderr_has("as Ana Ops <ana@example.com>");
    assert_eq!(state(&status(&kb)["sop-a"]), "approved");
}

#[test]
fn outside_git_status_is_an_error_and_build_says_why_state_is_unknown() {
    let kb = Kb::new();
    kb.write(".kb/people.toml", PEOPLE);
    kb.write(".kb/policy.toml", POLICY);
    kb.write("content/sops/a.md", &doc("sop-a", "internal", "Alpha."));
    let env = [(
        "GIT_CEILING_DIRECTORIES",
        kb.path().parent().unwrap().to_str().unwrap(),
    )];
    let run = kb.run_env(&["status"], &env).fails_with(1);
    run.assert_stderr_has("cannot read the git history");
    kb.run_env(&["build"], &env).ok();
    assert_eq!(
        text(&kb.html("sops/a.html"), ".banner-title"),
        "Approval state unknown"
    );
}

#[test]
fn without_a_policy_build_has_no_banners_and_status_explains() {
    let kb = Kb::fixture("valid");
    kb.run(&["build"]).ok();
    assert!(select(&kb.html("guides/alpha.html"), ".banner").is_empty());
    let run = kb.run(&["status"]).fails_with(1);
    run.assert_stderr_has("no .kb/policy.toml");
}

#[test]
fn the_sample_knowledge_base_shows_approved_and_gated_pages_side_by_side() {
    let kb = Kb::sample();
    std::fs::remove_dir_all(kb.path().join(".kb/approvals")).ok();
    kb.write(".gitignore", "output/\n");
    git(kb.path(), WES, &["init", "-q", "-b", "main"]);
    commit_as(&kb, WES, "Sample knowledge base");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/approve-sample");
    let out = Command::new(script)
        .arg(kb.path())
        .env("KBPUB", env!("CARGO_BIN_EXE_kbpub"))
        .envs(git_env("maintainer@example.com"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "approve-sample failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pages = status(&kb);
    let count = |s: &str| pages.values().filter(|p| state(p) == s).count();
    assert!(count("approved") >= 25, "approved: {}", count("approved"));
    assert!(count("draft") >= 2 && count("rejected") == 1, "{pages:?}");
    kbpub_as(&kb, WES, &["build"], None).ok();
    assert!(select(&kb.html("sops/asn-856-rejections.html"), ".banner").is_empty());
    assert_eq!(
        text(&kb.html("sops/audit-evidence.html"), ".banner-title"),
        "Draft: not approved for publication"
    );
}

#[test]
fn a_failed_commit_leaves_no_record_behind() {
    let kb = repo();
    let hook = kb.path().join(".git/hooks/pre-commit");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'policy: commits are frozen' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = approve(&kb, ANA, &["sop-a"]).fails_with(1);
    assert!(
        run.stderr().contains("commits are frozen")
            && run.stderr().contains("the records were not kept"),
        "{}",
        run.stderr()
    );
    assert!(
        std::fs::read_dir(kb.path().join(".kb/approvals/sop-a"))
            .map_or(true, |mut d| d.next().is_none()),
        "a record was left behind"
    );
    assert_eq!(git(kb.path(), ANA, &["status", "--porcelain"]), "");
    assert_eq!(state(&status(&kb)["sop-a"]), "draft");
}

/// Commits everything as `who`, with author and committer date `date` (RFC 3339).
fn commit_at(kb: &Kb, who: &str, message: &str, date: &str) {
    git(kb.path(), who, &["add", "-A"]);
    let out = Command::new("git")
        .args(["commit", "-q", "-m", message])
        .current_dir(kb.path())
        .envs(git_env(who))
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `kbpub approve --as who args...` with the clock (and so the commit's date) at `now`.
/// Merges `branch` into the checked-out branch as `who` (a merge commit, "Merge <branch>").
fn merge(kb: &Kb, who: &str, branch: &str) {
    let message = format!("Merge {branch}");
    git(
        kb.path(),
        who,
        &["merge", "-q", "--no-ff", "-m", &message, branch],
    );
}

fn approve_at(kb: &Kb, who: &str, args: &[&str], now: &str) -> Run {
    let mut all = vec!["approve", "--as", who];
    all.extend(args);
    kbpub_as(kb, who, &all, Some(now))
}

/// The only record file in `.kb/approvals/<doc>/` whose name contains `who`.
fn record_of(kb: &Kb, doc: &str, who: &str) -> String {
    let dir = kb.path().join(".kb/approvals").join(doc);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(who))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    format!(".kb/approvals/{doc}/{}", names[0])
}

#[test]
fn a_rejection_edited_or_deleted_later_still_stands_and_is_reported_as_tampering() {
    let kb = repo();
    approve(&kb, ANA, &["sop-a"]).ok();
    approve(&kb, BO, &["sop-a", "--reject", "--comment", "wrong"]).ok();
    let rejection = record_of(&kb, "sop-a", BO);
    // Wes turns Bo's rejection into an approval...
    let text = kb.read(&rejection);
    kb.write(
        &rejection,
        &text.replace("decision = \"reject\"", "decision = \"approve\""),
    );
    commit_as(&kb, WES, "Fix record");
    let a = &status(&kb)["sop-a"];
    assert_state(a, "rejected");
    assert!(
        reasons(a).contains(&format!("TAMPERING: {rejection} was changed in commit"))
            && reasons(a).contains("by wes@example.com; records are immutable"),
        "{}",
        reasons(a)
    );
    // ...then deletes it, then moves Ana's approval somewhere else.
    kb.remove(&rejection);
    commit_as(&kb, WES, "Drop record");
    let a = &status(&kb)["sop-a"];
    assert_state(a, "rejected");
    assert_reason(a, "was deleted or moved in commit");
    let check = kbpub_as(&kb, WES, &["check"], None).ok();
    assert!(
        check.stderr().contains("warning[approval-tampering]")
            && check.stderr().contains(&rejection),
        "{}",
        check.stderr()
    );
    let csv = kbpub_as(&kb, WES, &["audit", "sop-a", "--format", "csv"], None)
        .ok()
        .stdout();
    assert!(
        csv.lines()
            .any(|l| l.starts_with("sop-a,reject,") && l.contains(BO))
            && csv
                .lines()
                .any(|l| l.starts_with("sop-a,tampering,") && l.contains("deleted or moved")),
        "{csv}"
    );
    // Only Bo lifts his rejection, with a later approval.
    approve(&kb, BO, &["sop-a"]).ok();
    let a = &status(&kb)["sop-a"];
    assert_state(a, "approved");
    assert!(
        reasons(a).contains("TAMPERING"),
        "tampering stays on record"
    );
}

#[test]
fn an_uncommitted_edit_of_a_record_does_not_change_what_counts() {
    let kb = repo();
    approve(&kb, BO, &["sop-a", "--reject"]).ok();
    let rejection = record_of(&kb, "sop-a", BO);
    kb.remove(&rejection);
    let a = &status(&kb)["sop-a"];
    assert_state(a, "rejected");
    assert!(
        reasons(a).contains(&format!(
            "TAMPERING: {rejection} is deleted in the working tree"
        )),
        "{}",
        reasons(a)
    );
}

#[test]
fn a_record_that_does_not_parse_as_committed_blocks_the_page() {
    let kb = repo();
    approve(&kb, ANA, &["sop-a"]).ok();
    assert_eq!(state(&status(&kb)["sop-a"]), "approved");
    kb.write(
        ".kb/approvals/sop-a/20260101T000000Z-bo@example.com.toml",
        "decision = \"rej",
    );
    commit_as(&kb, WES, "Garbage");
    let a = &status(&kb)["sop-a"];
    assert_state(a, "blocked");
    assert!(
        reasons(a)
            .contains("blocked: record .kb/approvals/sop-a/20260101T000000Z-bo@example.com.toml")
            && reasons(a).contains("cannot be read"),
        "{}",
        reasons(a)
    );
    // Repairing the file later is tampering: the broken record as committed still blocks.
    let record = record_of(&kb, "sop-a", ANA);
    let copy = kb.read(&record);
    kb.write(
        ".kb/approvals/sop-a/20260101T000000Z-bo@example.com.toml",
        &copy,
    );
    commit_as(&kb, WES, "Repair");
    assert_eq!(state(&status(&kb)["sop-a"]), "blocked");
    kbpub_as(&kb, WES, &["build"], None).ok();
    assert_eq!(
        text(&kb.html("sops/a.html"), ".banner-title"),
        "Blocked: an approval record cannot be read"
    );
    // An approval committed after it lifts the block.
    approve(&kb, BO, &["sop-a"]).ok();
    let a = &status(&kb)["sop-a"];
    assert_state(a, "approved");
}

#[test]
fn a_merge_never_resurrects_an_approval_rejected_later_on_main() {
    let kb = repo();
    // Ana approves on a branch on June 1st, then rejects the same content on main on June 2nd.
    git(kb.path(), ANA, &["checkout", "-q", "-b", "review"]);
    approve_at(&kb, ANA, &["sop-a"], "2026-06-01T10:00:00Z").ok();
    git(kb.path(), ANA, &["checkout", "-q", "main"]);
    approve_at(&kb, ANA, &["sop-a", "--reject"], "2026-06-02T10:00:00Z").ok();
    merge(&kb, BO, "review");
    let a = &status_at(&kb, Some("2026-06-03T00:00:00Z"))["sop-a"];
    assert_state(a, "rejected");
    // The other way round: the later approval on the branch wins over the earlier rejection.
    git(kb.path(), BO, &["checkout", "-q", "-b", "second"]);
    approve_at(&kb, BO, &["sop-b", "--reject"], "2026-06-01T10:00:00Z").ok();
    git(kb.path(), BO, &["checkout", "-q", "main"]);
    git(kb.path(), BO, &["checkout", "-q", "-b", "third"]);
    approve_at(&kb, BO, &["sop-b"], "2026-06-02T10:00:00Z").ok();
    git(kb.path(), BO, &["checkout", "-q", "main"]);
    merge(&kb, ANA, "third");
    merge(&kb, ANA, "second");
    let b = &status_at(&kb, Some("2026-06-03T00:00:00Z"))["sop-b"];
    assert_state(b, "approved");
}

#[test]
fn on_a_tie_between_branches_a_rejection_wins() {
    let kb = repo();
    let at = "2026-06-01T10:00:00Z";
    git(kb.path(), ANA, &["checkout", "-q", "-b", "yes"]);
    approve_at(&kb, ANA, &["sop-a"], at).ok();
    git(kb.path(), ANA, &["checkout", "-q", "main"]);
    // The same second on main (under another file name, or the branches would conflict).
    approve_at(&kb, ANA, &["sop-a", "--reject", "--no-commit"], at).ok();
    let staged = record_of(&kb, "sop-a", ANA);
    git(kb.path(), ANA, &["reset", "-q"]);
    std::fs::rename(
        kb.path().join(&staged),
        kb.path().join(staged.replace(".toml", "-2.toml")),
    )
    .unwrap();
    commit_at(&kb, ANA, "Reject sop-a", at);
    merge(&kb, BO, "yes");
    let a = &status_at(&kb, Some("2026-06-03T00:00:00Z"))["sop-a"];
    assert_state(a, "rejected");
}

#[test]
fn times_come_from_git_not_from_the_record() {
    let kb = repo();
    // Ed's emergency record claims a date a year ahead, so its 72 hours would last a year...
    approve_at(
        &kb,
        ED,
        &["sop-a", "--emergency", "--reason", "outage"],
        "2026-03-01T12:00:00Z",
    )
    .ok();
    let record = record_of(&kb, "sop-a", ED);
    let text = kb.read(&record);
    let forged = text
        .replace("time = 2026-03-01T12:00:00Z", "time = 2027-03-01T12:00:00Z")
        .replace(
            "expires = 2026-03-04T12:00:00Z",
            "expires = 2027-03-04T12:00:00Z",
        );
    kb.write(
        ".kb/approvals/sop-b/20270301T120000Z-ed@example.com.toml",
        &forged.replace("sop-a", "sop-b"),
    );
    commit_at(&kb, ED, "Emergency", "2026-03-01T12:00:00Z");
    let b = &status_at(&kb, Some("2026-03-02T12:00:00Z"))["sop-b"];
    assert_state(b, "draft");
    assert!(
        reasons(b).contains("it is dated 2027-03-01 12:00 UTC, after commit")
            && reasons(b).contains("times come from git"),
        "{}",
        reasons(b)
    );
    // ...and the window of a genuine one counts from its commit.
    let a = &status_at(&kb, Some("2026-03-05T12:00:00Z"))["sop-a"];
    assert_state(a, "draft");
    assert_reason(a, "expired on 2026-03-04 12:00 UTC");
    // A commit dated in the future does not count until then, and then only from then on.
    approve_at(&kb, ANA, &["sop-b"], "2026-04-01T00:00:00Z").ok();
    let b = &status_at(&kb, Some("2026-03-10T00:00:00Z"))["sop-b"];
    assert_state(b, "draft");
    assert_reason(b, "is dated in the future (2026-04-01 00:00 UTC)");
}

#[test]
fn a_commit_dated_ahead_of_the_commits_built_on_it_counts_from_their_date() {
    let kb = repo();
    approve_at(&kb, ANA, &["sop-a"], "2027-06-01T00:00:00Z").ok();
    kb.write(
        "content/sops/b.md",
        &doc("sop-b", "internal", "Beta, later."),
    );
    commit_at(&kb, WES, "Later edit", "2026-01-01T00:00:00Z");
    // max_age is 30 days: counted from 2026-01-01, not from the claimed 2027-06-01.
    let a = &status_at(&kb, Some("2026-02-15T00:00:00Z"))["sop-a"];
    assert_state(a, "expired");
}

#[test]
fn publish_refuses_a_fixed_clock() {
    let kb = repo();
    kb.write(
        "kbpub.toml",
        "[site]\ntitle = \"T\"\nbase_url = \"https://kb.test/\"\n\n[confluence]\nbase_url = \"http://127.0.0.1:9/wiki\"\ntoken_env = \"KB_TEST_TOKEN\"\ndefault_space = \"OPS\"\n",
    );
    let run = kbpub_as(&kb, WES, &["publish"], Some("2026-01-01T00:00:00Z"));
    assert_ne!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("KBPUB_NOW is set: `kbpub publish` refuses to run on a fixed clock"),
        "{}",
        run.stderr()
    );
}

#[test]
fn authorship_follows_a_document_across_renames() {
    let kb = repo();
    kb.write(
        "content/sops/a.md",
        &doc("sop-a", "internal", "Alpha procedure, by Bo."),
    );
    commit_as(&kb, BO, "Bo edits alpha");
    git(
        kb.path(),
        WES,
        &["mv", "content/sops/a.md", "content/sops/alpha.md"],
    );
    commit_as(&kb, WES, "Rename alpha");
    let a = &status(&kb)["sop-a"];
    assert_eq!(a["file"], "content/sops/alpha.md");
    assert_eq!(a["changed_by"], serde_json::json!([BO, WES]), "{a}");
    let refused = approve(&kb, BO, &["sop-a"]).fails_with(1);
    assert!(
        refused
            .stderr()
            .contains("bo@example.com authored or committed changes to sop-a"),
        "{}",
        refused.stderr()
    );
    // Once approved, a move and an edit elsewhere in the history keep the earlier authors out.
    approve(&kb, ANA, &["sop-a"]).ok();
    git(
        kb.path(),
        ANA,
        &["mv", "content/sops/alpha.md", "content/sops/a1.md"],
    );
    commit_as(&kb, ANA, "Move again");
    kb.write(
        "content/sops/a1.md",
        &doc("sop-a", "internal", "Alpha procedure, v2."),
    );
    commit_as(&kb, BO, "Bo edits again");
    let a = &status(&kb)["sop-a"];
    assert_state(a, "stale");
    assert_eq!(a["changed_by"], serde_json::json!([ANA, BO]), "{a}");
}

#[test]
fn a_replaced_image_makes_the_page_stale() {
    let kb = repo();
    kb.write(
        "content/sops/a.md",
        &doc(
            "sop-a",
            "internal",
            "See the flow:\n\n![Flow](flow.png)\n\nAnd [the form](forms/claim.pdf).",
        ),
    );
    kb.write("content/sops/flow.png", "PNG one");
    kb.write("content/sops/forms/claim.pdf", "PDF one");
    commit_as(&kb, WES, "Alpha with a diagram");
    approve(&kb, ANA, &["sop-a"]).ok();
    kb.write("content/sops/flow.png", "PNG two");
    commit_as(&kb, BO, "New diagram");
    let a = &status(&kb)["sop-a"];
    assert_state(a, "stale");
    assert_reason(a, "changed since: file `content/sops/flow.png`");
    assert_eq!(a["changed_by"], serde_json::json!([BO]));
    approve(&kb, BO, &["sop-a"]).fails_with(1);
    approve(&kb, ANA, &["sop-a"]).ok();
    kb.write("content/sops/forms/claim.pdf", "PDF two");
    commit_as(&kb, WES, "New form");
    assert_eq!(state(&status(&kb)["sop-a"]), "stale");
}

#[test]
fn a_retitled_section_page_is_stale() {
    let kb = repo();
    kb.write(
        "content/sops/_index.md",
        "+++\ntitle = \"Procedures\"\n+++\n",
    );
    commit_as(&kb, WES, "Section");
    approve(&kb, ANA, &["content/sops/_index.md"]).ok();
    assert_eq!(state(&status(&kb)["sops"]), "approved");
    kb.write(
        "content/sops/_index.md",
        "+++\ntitle = \"Anything goes\"\n+++\n",
    );
    commit_as(&kb, WES, "Retitle");
    let s = &status(&kb)["sops"];
    assert_state(s, "stale");
    assert_reason(s, "its title or metadata");
}

#[test]
fn data_driven_pages_are_approved_once_per_template_family() {
    let kb = Kb::sample();
    std::fs::remove_dir_all(kb.path().join(".kb/approvals")).ok();
    kb.write(".gitignore", "output/\n");
    git(kb.path(), WES, &["init", "-q", "-b", "main"]);
    commit_as(&kb, WES, "Sample knowledge base");
    const MARIA: &str = "maria.lopez@ops.example.com";
    let family = &status(&kb)["family-data-partner"];
    assert_state(family, "draft");
    let pages = family["generated_pages"].as_array().unwrap();
    assert!(
        pages.len() >= 2
            && pages
                .iter()
                .all(|p| p.as_str().unwrap().starts_with("live-partner-")),
        "{family}"
    );
    assert!(
        kbpub_as(&kb, WES, &["status"], None)
            .ok()
            .stdout()
            .contains(&format!(
                "covers {} generated page(s): live-partner-",
                pages.len()
            )),
    );
    let first = pages[0]
        .as_str()
        .unwrap()
        .trim_start_matches("live-partner-")
        .to_string();
    kbpub_as(&kb, WES, &["build"], None).ok();
    assert_eq!(
        text(
            &kb.html(&format!("live/partners/{first}.html")),
            ".banner-title"
        ),
        "Draft: not approved for publication"
    );
    approve(&kb, MARIA, &["family-data-partner"]).ok();
    assert_eq!(state(&status(&kb)["family-data-partner"]), "approved");
    kbpub_as(&kb, WES, &["build"], None).ok();
    assert!(
        select(
            &kb.html(&format!("live/partners/{first}.html")),
            ".banner-title"
        )
        .is_empty()
    );
    // An edit of the template makes every page of the family stale at once.
    let template = kb.read("templates/data/partner.md");
    kb.write(
        "templates/data/partner.md",
        &format!("{template}\nEdited.\n"),
    );
    commit_as(&kb, WES, "Edit the partner template");
    let family = &status(&kb)["family-data-partner"];
    assert_state(family, "stale");
    assert_reason(family, "template `data/partner.md`");
}

#[test]
fn approve_refuses_records_that_cannot_count() {
    let kb = repo();
    approve(&kb, BO, &["sop-a", "--reject", "--comment", "no"]).ok();
    let refused = approve(&kb, ED, &["sop-a", "--emergency", "--reason", "outage"]).fails_with(1);
    assert!(
        refused
            .stderr()
            .contains("sop-a is rejected: an emergency approval does not override a rejection"),
        "{}",
        refused.stderr()
    );
    let hash = status(&kb)["sop-b"]["content_hash"]
        .as_str()
        .unwrap()
        .to_string();
    kb.write(
        "content/sops/b.md",
        &doc("sop-b", "internal", "Beta, changed after review."),
    );
    commit_as(&kb, WES, "Change beta");
    let stale = approve(&kb, ANA, &["sop-b", "--hash", &hash]).fails_with(1);
    assert!(
        stale
            .stderr()
            .contains("sop-b changed since it was reviewed: its content hash is"),
        "{}",
        stale.stderr()
    );
    let current = status(&kb)["sop-b"]["content_hash"]
        .as_str()
        .unwrap()
        .to_string();
    approve(&kb, ANA, &["sop-b", "--hash", &current[7..19]]).ok();
    assert!(
        !kb.path()
            .join(".kb/approvals/sop-a")
            .read_dir()
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().contains(ED))
    );
    // Deciding again what already stands writes nothing.
    let again = approve(&kb, ANA, &["sop-b"]).ok();
    assert!(
        again.stderr().contains(
            "Unchanged (the same decision by Ana Ops <ana@example.com> already stands): sop-b"
        ),
        "{}",
        again.stderr()
    );
}

/// `kbpub <args>` run by `who`, with git set to sign commits with the SSH key at `key`.
fn kbpub_signing(kb: &Kb, who: &str, key: &str, args: &[&str]) -> Run {
    let env = signing_git_env(who, key);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    kb.run_env(args, &env)
}

#[test]
fn signed_approvals_count_only_with_the_approvers_key_end_to_end() {
    let keys = tempfile::tempdir().unwrap();
    let (ana_key, ana_public) = ssh_key(keys.path(), "ana");
    let (bo_key, bo_public) = ssh_key(keys.path(), "bo");
    let (wes_key, _) = ssh_key(keys.path(), "wes");
    let kb = repo();
    let people = PEOPLE
        .replace(
            "email = \"ana@example.com\"\n",
            &format!("email = \"ana@example.com\"\nssh_keys = [\"{ana_public}\"]\n"),
        )
        .replace(
            "email = \"bo@example.com\"\n",
            &format!("email = \"bo@example.com\"\nssh_keys = [\"{bo_public}\"]\n"),
        );
    kb.write(".kb/people.toml", &people);
    kb.write(
        ".kb/policy.toml",
        &format!("require_signed = true\n{POLICY}"),
    );
    commit_as(&kb, WES, "Require signed approvals");
    let human = kbpub_as(&kb, WES, &["status"], None).ok().stdout();
    assert_contains(
        &human,
        "Identities: approvals count only from commits signed",
    );
    // Wes approves "as Ana", signing with his own key: refused, nothing kept.
    let head = git(kb.path(), WES, &["rev-parse", "HEAD"]);
    let forged =
        kbpub_signing(&kb, WES, &wes_key, &["approve", "--as", ANA, "sop-a"]).fails_with(1);
    assert!(
        forged.stderr().contains("it was signed with key SHA256:")
            && forged
                .stderr()
                .contains("which is not one of ana@example.com's keys")
            && forged.stderr().contains("nothing was kept"),
        "{}",
        forged.stderr()
    );
    assert_eq!(git(kb.path(), WES, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(kb.path(), WES, &["status", "--porcelain"]), "");
    // Without signing at all: refused too.
    approve(&kb, ANA, &["sop-a"]).fails_with(1);
    // A record committed with `--author` Ana but unsigned does not count.
    kbpub_as(
        &kb,
        ANA,
        &["approve", "--as", ANA, "sop-b", "--no-commit"],
        None,
    )
    .ok();
    git(
        kb.path(),
        WES,
        &[
            "commit",
            "-q",
            "--author",
            "Ana Ops <ana@example.com>",
            "-m",
            "Approve as Ana",
        ],
    );
    let b = &status(&kb)["sop-b"];
    assert_state(b, "draft");
    assert_reason(b, "is not signed; the policy has `require_signed = true`");
    // Ana signs with her key: it counts, and the key is on record.
    kbpub_signing(&kb, ANA, &ana_key, &["approve", "sop-a", "--as", ANA]).ok();
    let a = &status(&kb)["sop-a"];
    assert_state(a, "approved");
    let fingerprint = a["approvals_used"][0]["signing_key"].as_str().unwrap();
    assert!(fingerprint.starts_with("SHA256:"), "{a}");
    // Bo's key signing a commit authored as Ana does not make it Ana's.
    kb.write("content/sops/b.md", &doc("sop-b", "internal", "Beta, v2."));
    commit_as(&kb, WES, "Beta v2");
    kbpub_signing(&kb, BO, &bo_key, &["approve", "--as", ANA, "sop-b"]).fails_with(1);
    // Tampering with Ana's record changes nothing, and publishing says so.
    let record = record_of(&kb, "sop-a", ANA);
    let text = kb.read(&record);
    kb.write(&record, &format!("{text}# edited\n"));
    commit_as(&kb, WES, "Touch a record");
    assert_eq!(state(&status(&kb)["sop-a"]), "approved");
    // Publishing sends exactly the signed-approved page.
    let sim = Sim::start();
    kb.append(
        "kbpub.toml",
        &format!("[confluence]\nbase_url = \"{}/wiki\"\nemail_env = \"KB_TEST_EMAIL\"\ntoken_env = \"KB_TEST_TOKEN\"\ndefault_space = \"OPS\"\n", sim.base),
    );
    kb.write(".gitignore", "output/\n.kb/receipts/\n");
    commit_as(&kb, WES, "Publish to Confluence");
    let run = kb.run_env(
        &["publish", "--format", "json"],
        &[
            ("KB_TEST_EMAIL", "kbpub@example.com"),
            ("KB_TEST_TOKEN", "cloud-token"),
            ("GITHUB_RUN_ID", "4242"),
        ],
    );
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    assert!(
        run.stderr()
            .contains("warning[approval-tampering]: sop-a: TAMPERING: .kb/approvals/sop-a/"),
        "{}",
        run.stderr()
    );
    let titles: Vec<String> = sim
        .pages("cloud")
        .iter()
        .filter(|p| p["properties"]["kbpub"].is_object())
        .map(|p| {
            p["properties"]["kbpub"]["doc_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(titles.contains(&"sop-a".to_string()), "{titles:?}");
    // The audit trail: the signed decision and the publish, from the append-only log.
    let audit = kbpub_as(&kb, WES, &["audit", "sop-a"], None).ok().json();
    let doc = &audit["documents"][0];
    assert_eq!(doc["doc"], "sop-a");
    assert_eq!(doc["decisions"][0]["approver"], ANA);
    assert_eq!(doc["decisions"][0]["signing_key"], fingerprint);
    assert!(doc["decisions"][0]["policy_commit"].is_string(), "{doc}");
    assert_eq!(doc["publishes"][0]["target"], "confluence");
    assert_eq!(doc["publishes"][0]["ci_run"], "GITHUB_RUN_ID=4242");
    assert!(
        doc["publishes"][0]["approvals_used"][0]
            .as_str()
            .unwrap()
            .contains(ANA),
        "{doc}"
    );
    let csv = kbpub_as(&kb, WES, &["audit", "--format", "csv"], None)
        .ok()
        .stdout();
    assert!(
        csv.starts_with("doc,event,time,who,commit,signing_key"),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with("sop-a,publish,") && l.contains("GITHUB_RUN_ID=4242")),
        "{csv}"
    );
    let html = kbpub_as(&kb, WES, &["audit", "--format", "html"], None)
        .ok()
        .stdout();
    assert_contains(&html, "<h1>Approval audit</h1>");
    assert_contains(&html, "@page");
    assert!(
        !titles.contains(&"sop-b".to_string()) && !titles.contains(&"guide-p".to_string()),
        "{titles:?}"
    );
}

#[test]
fn a_policy_change_counts_only_once_the_policy_owners_approve_it() {
    let kb = repo();
    kb.write(
        ".kb/policy.toml",
        &format!("{POLICY}\n[owners]\ngroups = [\"commanders\"]\n"),
    );
    commit_as(&kb, WES, "Policy owners");
    approve(&kb, ANA, &["guide-p"]).ok();
    // Wes lowers the partner quorum to one approval.
    let lowered = kb
        .read(".kb/policy.toml")
        .replace("approvals = 2", "approvals = 1");
    kb.write(".kb/policy.toml", &lowered);
    commit_as(&kb, WES, "Lower the quorum");
    let human = kbpub_as(&kb, WES, &["status"], None).ok().stdout();
    assert!(
        human.contains(
            "POLICY CHANGE PENDING: the policy files differ from the last approved policy (commit"
        ),
        "{human}"
    );
    let p = &status(&kb)["guide-p"];
    assert_eq!(
        state(p),
        "draft",
        "the old quorum stays in force: {}",
        reasons(p)
    );
    let refused = approve(&kb, WES, &[".kb/policy.toml"]).fails_with(1);
    assert!(
        refused.stderr().contains(
            "wes@example.com may not approve policy changes: not a policy owner (ed@example.com)"
        ),
        "{}",
        refused.stderr()
    );
    let check = kbpub_as(&kb, WES, &["check"], None).ok();
    check.assert_stderr_has("warning[policy-pending]");
    // The owner approves the change: it is in force from then on.
    approve(&kb, ED, &[".kb/policy.toml"]).ok();
    let json = kbpub_as(&kb, WES, &["status", "--format", "json"], None)
        .ok()
        .json();
    assert!(json["policy"]["pending"].is_null(), "{}", json["policy"]);
    let p = &status(&kb)["guide-p"];
    assert_state(p, "approved");
}
