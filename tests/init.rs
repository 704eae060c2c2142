//! `kbpub init` end to end: the scaffold builds and checks cleanly at once (in a real git
//! repository), its GitHub Actions workflow parses and runs the right commands with secrets from
//! the secret store, `--templates` copies the built-in templates, and nothing is ever overwritten.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// `kbpub init <dir> <args>` run from `cwd`.
fn init(cwd: &Path, args: &[&str]) -> Run {
    let output = kbpub()
        .arg("init")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run kbpub init");
    Run { output }
}

/// `kbpub <args>` in `dir`.
fn run_in(dir: &Path, args: &[&str]) -> Run {
    let output = kbpub()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run kbpub");
    Run { output }
}

/// The `type = "..."` of a document (section pages have none).
fn front_matter_type(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("type = \""))
        .map(|t| t.trim_end_matches('"').to_string())
}

#[test]
fn the_scaffold_builds_and_checks_cleanly_right_away() {
    let tmp = tempfile::tempdir().unwrap();
    let run = init(tmp.path(), &["kb", "--title", "ACME \"EDI\" Operations"]).ok();
    assert!(
        run.stderr().contains("Created a knowledge base in kb"),
        "{}",
        run.stderr()
    );
    let kb = tmp.path().join("kb");
    git(&kb, "writer@example.com", &["init", "-q", "-b", "main"]);
    git(&kb, "writer@example.com", &["add", "-A"]);
    git(
        &kb,
        "writer@example.com",
        &["commit", "-q", "-m", "Knowledge base"],
    );

    let build = run_in(&kb, &["build"]).ok();
    assert!(!build.stderr().contains("warning"), "{}", build.stderr());
    let check = run_in(&kb, &["check", "--format", "json", "--deny", "warnings"]);
    let report = check.json();
    assert_eq!(check.code(), 0, "{report:#}");
    assert_eq!(
        (&report["errors"], &report["warnings"]),
        (&Value::from(0), &Value::from(0))
    );
    // What is left are notes: every page waits for its first approval.
    for d in report["diagnostics"].as_array().unwrap() {
        assert_eq!(
            (&d["severity"], &d["code"]),
            (&Value::from("note"), &Value::from("approval")),
            "{d}"
        );
    }
    run_in(&kb, &["status"]).ok();

    // One document of each type, each in its section with an `_index.md`.
    let mut types = Vec::new();
    for entry in walkdir::WalkDir::new(kb.join("content")) {
        let entry = entry.unwrap();
        if entry.file_type().is_dir() && entry.path() != kb.join("content") {
            assert!(
                entry.path().join("_index.md").is_file(),
                "{}",
                entry.path().display()
            );
        }
        types.extend(front_matter_type(entry.path()));
    }
    types.sort();
    assert_eq!(
        types,
        [
            "faq",
            "incident-review",
            "notice",
            "partner",
            "playbook",
            "sop"
        ]
    );

    // The data sources were pulled, and the SOP shows their figures.
    assert!(kb.join("data/partners.json").is_file() && kb.join("data/metrics.json").is_file());
    let sop = std::fs::read_to_string(kb.join("output/sops/asn-856-rejections.html")).unwrap();
    assert!(
        sop.contains("<td><a href=\"../live/partners/acme-retail.html\">Acme Retail</a></td>"),
        "{sop}"
    );
    let home = std::fs::read_to_string(kb.join("output/index.html")).unwrap();
    assert!(
        home.contains("<title>ACME &quot;EDI&quot; Operations</title>"),
        "{home}"
    );
    let gitignore = std::fs::read_to_string(kb.join(".gitignore")).unwrap();
    assert!(gitignore.contains("/output/") && gitignore.contains("/.kbpub-cache/"));
    assert!(
        !kb.join("templates").exists(),
        "the built-in templates are used"
    );
}

#[test]
fn the_workflow_checks_pull_requests_and_publishes_merges_with_secrets_from_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), &["kb"]).ok();
    let kb = tmp.path().join("kb");
    let text = std::fs::read_to_string(kb.join(".github/workflows/kbpub.yml")).unwrap();
    let workflow: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
    let on = &workflow["on"];
    assert!(on.get("pull_request").is_some(), "{on:?}");
    assert_eq!(
        on["push"]["branches"],
        serde_yaml_ng::Value::from(vec!["main"])
    );
    assert_eq!(
        workflow["env"]["KBPUB_VERSION"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "pinned to the kbpub that wrote it"
    );

    let steps = |job: &str| -> Vec<serde_yaml_ng::Value> {
        workflow["jobs"][job]["steps"]
            .as_sequence()
            .expect("steps")
            .clone()
    };
    let runs = |job: &str| -> Vec<String> {
        steps(job)
            .iter()
            .filter_map(|s| s["run"].as_str().map(str::to_string))
            .collect()
    };
    for job in ["check", "publish"] {
        let checkout = steps(job)
            .into_iter()
            .find(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("actions/checkout@"))
            })
            .expect("a checkout step");
        assert_eq!(
            checkout["with"]["fetch-depth"].as_u64(),
            Some(0),
            "{job}: full history"
        );
    }
    assert!(
        workflow["jobs"]["check"]["if"]
            .as_str()
            .unwrap()
            .contains("pull_request")
    );
    assert!(
        runs("check").contains(&"kbpub check --format github".to_string()),
        "{:?}",
        runs("check")
    );
    let publish_if = workflow["jobs"]["publish"]["if"].as_str().unwrap();
    assert!(
        publish_if.contains("push") && publish_if.contains("refs/heads/main"),
        "{publish_if}"
    );
    let publish_runs = runs("publish");
    let pull = publish_runs
        .iter()
        .position(|r| r == "kbpub data pull")
        .expect("data pull");
    let publish = publish_runs
        .iter()
        .position(|r| r == "kbpub publish")
        .expect("publish");
    assert!(pull < publish, "{publish_runs:?}");

    // Every environment value is a secret from the store, under the variable's own name.
    let mut secrets = Vec::new();
    for job in ["check", "publish"] {
        for step in steps(job) {
            let Some(env) = step["env"].as_mapping() else {
                continue;
            };
            for (name, value) in env {
                let name = name.as_str().unwrap();
                assert_eq!(
                    value.as_str(),
                    Some(format!("${{{{ secrets.{name} }}}}").as_str()),
                    "{name}"
                );
                secrets.push(name.to_string());
            }
        }
    }
    // ... and they are the variables kbpub.toml names for its publish targets.
    let config: toml::Value =
        toml::from_str(&std::fs::read_to_string(kb.join("kbpub.toml")).unwrap()).unwrap();
    for (target, key) in [
        ("confluence", "email_env"),
        ("confluence", "token_env"),
        ("community", "token_env"),
    ] {
        let name = config[target][key].as_str().unwrap();
        assert!(
            secrets.contains(&name.to_string()),
            "{name} not passed: {secrets:?}"
        );
    }
}

#[test]
fn templates_copies_the_built_in_templates_and_the_site_is_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), &["plain"]).ok();
    init(tmp.path(), &["custom", "--templates"]).ok();
    let custom = tmp.path().join("custom");
    for name in [
        "base.html",
        "page.html",
        "section.html",
        "sop.html",
        "assets/kbpub.css",
    ] {
        assert!(custom.join("templates").join(name).is_file(), "{name}");
    }
    for kb in ["plain", "custom"] {
        // Without a policy there are no approval banners, which name the folder.
        std::fs::remove_file(tmp.path().join(kb).join(".kb/policy.toml")).unwrap();
        run_in(&tmp.path().join(kb), &["build", "-q"]).ok();
    }
    let read = |kb: &str| -> Vec<(String, Vec<u8>)> {
        let out = tmp.path().join(kb).join("output");
        files_under(&out)
            .into_iter()
            .map(|f| {
                let bytes = std::fs::read(out.join(&f)).unwrap();
                (f, bytes)
            })
            .collect()
    };
    assert!(
        read("plain") == read("custom"),
        "the copied templates are the built-in ones"
    );
}

#[test]
fn init_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), &["kb"]).ok();
    let kb = tmp.path().join("kb");
    let sop = kb.join("content/sops/asn-856-rejections.md");
    std::fs::write(&sop, "my own words").unwrap();
    let again = init(tmp.path(), &["kb"]).fails_with(1);
    assert!(
        again.stderr().contains("already holds a knowledge base"),
        "{}",
        again.stderr()
    );
    assert_eq!(std::fs::read_to_string(&sop).unwrap(), "my own words");

    // A folder with files the scaffold would write: refused, and nothing is written.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(other.join(".github/workflows")).unwrap();
    std::fs::write(other.join(".github/workflows/kbpub.yml"), "name: mine\n").unwrap();
    let refused = init(tmp.path(), &["other"]).fails_with(1);
    assert!(
        refused
            .stderr()
            .contains(".github/workflows/kbpub.yml already exists"),
        "{}",
        refused.stderr()
    );
    assert_eq!(files_under(&other), [".github/workflows/kbpub.yml"]);

    // An existing .gitignore keeps its lines and gains kbpub's.
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join(".gitignore"), "/node_modules\n/output/").unwrap();
    let run = init(&repo, &[]).ok();
    assert!(
        run.stderr().contains("added kbpub's lines to .gitignore"),
        "{}",
        run.stderr()
    );
    let gitignore = std::fs::read_to_string(repo.join(".gitignore")).unwrap();
    assert!(
        gitignore.starts_with("/node_modules\n/output/\n"),
        "{gitignore}"
    );
    assert_eq!(gitignore.matches("/output/").count(), 1, "{gitignore}");
    assert!(gitignore.contains("/.kbpub-cache/"), "{gitignore}");
    assert!(repo.join("kbpub.toml").is_file());
}

#[test]
fn the_readme_shows_the_workflow_init_writes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let ci = &readme[readme.find("\n## CI\n").expect("a CI section")..];
    let shown = &ci[ci.find("```yaml\n").expect("a yaml block") + 8..];
    let shown = &shown[..shown.find("```").unwrap()];
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), &["kb"]).ok();
    let written =
        std::fs::read_to_string(tmp.path().join("kb/.github/workflows/kbpub.yml")).unwrap();
    assert_eq!(
        shown,
        written.replace(
            &format!("KBPUB_VERSION: \"{}\"", env!("CARGO_PKG_VERSION")),
            "KBPUB_VERSION: \"0.1.0\""
        )
    );
}
