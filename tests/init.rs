//! `kbpub init` end to end: the scaffold builds and checks cleanly at once (in a real git
//! repository), its GitHub Actions workflow passes actionlint, runs the right commands with secrets
//! from the secret store and deploys the site to Pages, and its `run:` steps work as written in a
//! clone against `kbpub sim`; `--ci gitlab` writes a GitLab pipeline instead, whose scripts work
//! too; `--templates` copies the built-in templates, and nothing is ever overwritten.

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

/// Makes `dir` a git repository with everything committed by the writer.
fn commit_as_writer(dir: &Path) {
    git(dir, "writer@example.com", &["init", "-q", "-b", "main"]);
    git(dir, "writer@example.com", &["add", "-A"]);
    git(
        dir,
        "writer@example.com",
        &["commit", "-q", "-m", "Knowledge base"],
    );
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
    run.assert_stderr_has("Created a knowledge base in kb");
    let kb = tmp.path().join("kb");
    commit_as_writer(&kb);

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
    assert_contains(
        &sop,
        "<td><a href=\"../live/partners/acme-retail.html\">Acme Retail</a></td>",
    );
    let home = std::fs::read_to_string(kb.join("output/index.html")).unwrap();
    assert_contains(&home, "<title>ACME &quot;EDI&quot; Operations</title>");
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
    assert_contains(publish_if, "push");
    assert_contains(publish_if, "refs/heads/main");
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
    again.assert_stderr_has("already holds a knowledge base");
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
    run.assert_stderr_has("added kbpub's lines to .gitignore");
    let gitignore = std::fs::read_to_string(repo.join(".gitignore")).unwrap();
    assert!(
        gitignore.starts_with("/node_modules\n/output/\n"),
        "{gitignore}"
    );
    assert_eq!(gitignore.matches("/output/").count(), 1, "{gitignore}");
    assert_contains(&gitignore, "/.kbpub-cache/");
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

/// The title of the scaffold's SOP, the one document the tests approve.
const SOP_TITLE: &str = "Handling rejected 856 ship notices";

/// The approved SOP is a page in the Confluence test server (Cloud).
fn assert_sop_published(sim: &Sim) {
    let titles: Vec<String> = sim
        .pages("cloud")
        .iter()
        .filter_map(|p| p["title"].as_str().map(str::to_string))
        .collect();
    assert!(titles.contains(&SOP_TITLE.to_string()), "{titles:?}");
}

/// A knowledge base from `kbpub init --ci <ci>` whose sites are the simulators', committed by its
/// writer with the SOP approved by the ops lead, then cloned as CI checks it out (full history).
fn scaffolded_clone(tmp: &Path, ci: &str, sim: &Sim) -> std::path::PathBuf {
    init(tmp, &["origin", "--ci", ci]).ok();
    let origin = tmp.join("origin");
    let config = std::fs::read_to_string(origin.join("kbpub.toml")).unwrap();
    let config = config
        .replace(
            "https://example.atlassian.net/wiki",
            &format!("{}/wiki", sim.base),
        )
        .replace(
            "https://community.example.com/api",
            &format!("{}/community", sim.base),
        );
    assert_eq!(config.matches(sim.base.as_str()).count(), 2, "{config}");
    std::fs::write(origin.join("kbpub.toml"), config).unwrap();
    // The scaffold requires signed approvals: the reviewer's public key is in people.toml from
    // the first commit, and the approval commit is signed with it.
    let (key, public) = ssh_key(tmp, "ops-lead");
    let people = std::fs::read_to_string(origin.join(".kb/people.toml")).unwrap();
    let people = people.replacen(
        "name = \"Ops Lead\"\n",
        &format!("name = \"Ops Lead\"\nssh_keys = [\"{public}\"]\n"),
        1,
    );
    assert_contains(&people, &public);
    std::fs::write(origin.join(".kb/people.toml"), people).unwrap();
    commit_as_writer(&origin);
    let approve = kbpub()
        .args(["approve", "content/sops/asn-856-rejections.md"])
        .args(["--as", "ops.lead@example.com"])
        .current_dir(&origin)
        .envs(signing_git_env("ops.lead@example.com", &key))
        .output()
        .unwrap();
    Run { output: approve }.ok();
    git(tmp, "ci@example.com", &["clone", "-q", "origin", "clone"]);
    tmp.join("clone")
}

/// A folder holding only `kbpub`: the binary of this build.
fn bin_with_this_kbpub(tmp: &Path) -> std::path::PathBuf {
    let bin = tmp.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kbpub"), bin.join("kbpub")).unwrap();
    bin
}

/// This build's kbpub first, then the test's own PATH (git, bash, coreutils, curl).
fn path_with(bin: &Path) -> Vec<std::path::PathBuf> {
    let mut path = vec![bin.to_path_buf()];
    path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap()));
    path
}

/// The secret store of the tests: the simulators' credentials.
const SECRETS: &[(&str, &str)] = &[
    (
        "KBPUB_TRADING_GRID_TOKEN",
        "unused-the-scaffold-reads-local-files",
    ),
    ("CONFLUENCE_EMAIL", "kbpub@example.com"),
    ("CONFLUENCE_TOKEN", "cloud-token"),
    ("COMMUNITY_TOKEN", "community-token"),
];

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_workflow_and_its_install_script_pass_actionlint_and_shellcheck() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), &["kb"]).ok();
    let path = tmp.path().join("kb/.github/workflows/kbpub.yml");
    workflow::actionlint(&path);
    workflow::shellcheck(&tmp.path().join("kb/.kb/install-kbpub.sh"));
    let text = std::fs::read_to_string(&path).unwrap();
    for old in [
        "actions/checkout@v4",
        "actions/cache@v4",
        "actions/upload-artifact@v4",
    ] {
        assert!(!text.contains(old), "{old}: node20 runtime");
    }
}

#[test]
fn the_workflow_builds_the_site_and_deploys_it_to_pages_with_only_the_permissions_it_needs() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), &["kb"]).ok();
    let workflow = workflow::load(&tmp.path().join("kb/.github/workflows/kbpub.yml"));
    let yaml = |text: &str| -> serde_yaml_ng::Value { serde_yaml_ng::from_str(text).unwrap() };
    assert_eq!(workflow["permissions"], yaml("contents: read"));

    let publish = &workflow["jobs"]["publish"];
    assert_eq!(
        publish["concurrency"],
        yaml("{group: kbpub-publish, cancel-in-progress: false}"),
        "two publishes never overlap, and none is cancelled half-way"
    );
    let steps = publish["steps"].as_sequence().unwrap();
    let at = |what: &dyn Fn(&serde_yaml_ng::Value) -> bool| steps.iter().position(what).unwrap();
    let build = at(&|s| s["run"].as_str() == Some("kbpub build"));
    let upload = at(&|s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/upload-pages-artifact@"))
    });
    let publish_step = at(&|s| s["run"].as_str() == Some("kbpub publish"));
    assert!(build < upload && upload < publish_step, "{steps:?}");
    assert_eq!(steps[upload]["with"]["path"].as_str(), Some("output/"));
    assert_eq!(
        publish["outputs"]["site"].as_str(),
        Some(
            format!(
                "${{{{ steps.{}.outcome }}}}",
                steps[upload]["id"].as_str().unwrap()
            )
            .as_str()
        )
    );

    let pages = &workflow["jobs"]["pages"];
    assert_eq!(pages["needs"].as_str(), Some("publish"));
    assert!(
        pages["if"]
            .as_str()
            .unwrap()
            .contains("needs.publish.outputs.site == 'success'"),
        "the site deploys when it was built, even if a publish target failed"
    );
    assert_eq!(
        pages["permissions"],
        yaml("{pages: write, id-token: write}")
    );
    assert_eq!(pages["environment"]["name"].as_str(), Some("github-pages"));
    let deploy = &pages["steps"][0];
    assert!(
        deploy["uses"]
            .as_str()
            .unwrap()
            .starts_with("actions/deploy-pages@")
    );
    assert_eq!(
        pages["environment"]["url"].as_str(),
        Some(
            format!(
                "${{{{ steps.{}.outputs.page_url }}}}",
                deploy["id"].as_str().unwrap()
            )
            .as_str()
        )
    );
}

#[test]
fn the_workflow_run_steps_work_as_written_in_a_clone_against_the_simulators() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = Sim::start();
    let clone = scaffolded_clone(tmp.path(), "github", &sim);
    let bin = bin_with_this_kbpub(tmp.path());
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let workflow = workflow::load(&clone.join(".github/workflows/kbpub.yml"));
    let runner = workflow::Runner {
        workspace: &clone,
        secrets: SECRETS,
        matrix: &[],
        path: path_with(&bin),
        home: &home,
        env: &[],
    };

    // A pull request: the install step keeps the kbpub on PATH at the pinned version.
    let check = runner.run_job(&workflow, "check");
    let install = stdout(workflow::Step::output_of(&check, "Install kbpub"));
    assert_eq!(
        install.trim(),
        format!(
            "kbpub {} is installed: {}",
            env!("CARGO_PKG_VERSION"),
            bin.join("kbpub").display()
        )
    );
    let annotations = stdout(workflow::Step::output_of(&check, "Check"));
    // Notes (the drafts awaiting approval) come as one summary notice, not one per page; the
    // SOP's approval counts in the clone (full history): the publish job below sends it.
    assert!(
        annotations.starts_with("::notice title=kbpub check::")
            && annotations.contains("(16 approval)")
            && annotations.lines().count() == 1,
        "{annotations}"
    );

    // A merge to main: data pulled, site built, the approved SOP published, receipts kept.
    let publish = runner.run_job(&workflow, "publish");
    let site = workflow::Step::inputs_of(&publish, "actions/upload-pages-artifact");
    let site = clone.join(site["path"].as_str().unwrap());
    assert!(
        site.join("index.html").is_file() && site.join("sops/asn-856-rejections.html").is_file()
    );
    assert_sop_published(&sim);
    let receipts = workflow::Step::inputs_of(&publish, "actions/upload-artifact");
    let receipts = files_under(&clone.join(receipts["path"].as_str().unwrap()));
    assert!(
        receipts.iter().any(|r| r.starts_with("confluence/")),
        "{receipts:?}"
    );

    // The next merge publishes nothing new: the run is safe to repeat.
    let writes = sim.writes("cloud");
    runner.run_job(&workflow, "publish");
    assert_eq!(sim.writes("cloud"), writes);

    // Deploying to Pages is GitHub's own action: nothing to run here.
    let pages_job = runner.run_job(&workflow, "pages");
    assert!(
        pages_job
            .iter()
            .all(|s| matches!(s, workflow::Step::Skipped { .. }))
    );
}

#[test]
fn ci_gitlab_writes_a_gitlab_pipeline_whose_scripts_work_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = Sim::start();
    let clone = scaffolded_clone(tmp.path(), "gitlab", &sim);
    assert!(!clone.join(".github").exists());
    let pipeline = workflow::load(&clone.join(".gitlab-ci.yml"));
    assert_eq!(
        pipeline["variables"]["KBPUB_VERSION"].as_str(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(pipeline["variables"]["GIT_DEPTH"].as_str(), Some("0"));
    let rule = |job: &str| {
        pipeline[job]["rules"][0]["if"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(rule("check").contains("merge_request_event"));
    for job in ["publish", "pages"] {
        assert!(rule(job).contains("$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"));
    }
    assert_eq!(
        pipeline["publish"]["resource_group"].as_str(),
        Some("kbpub-publish"),
        "two publishes never overlap"
    );

    let bin = bin_with_this_kbpub(tmp.path());
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let runner = workflow::GitlabRunner {
        project: &clone,
        variables: SECRETS,
        path: path_with(&bin),
        home: &home,
    };
    let check = runner.run_job(&pipeline, "check");
    assert_contains(
        &check,
        &format!("kbpub {} is installed", env!("CARGO_PKG_VERSION")),
    );
    runner.run_job(&pipeline, "publish");
    assert_sop_published(&sim);
    for artifact in pipeline["publish"]["artifacts"]["paths"]
        .as_sequence()
        .unwrap()
    {
        assert!(
            clone.join(artifact.as_str().unwrap()).is_dir(),
            "{artifact:?}"
        );
    }
    runner.run_job(&pipeline, "pages");
    assert!(clone.join("public/index.html").is_file());
}
