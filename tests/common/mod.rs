//! Shared helpers for integration tests: a knowledge base in a temp folder, the real `kbpub`
//! binary run against it, and parsed HTML to assert on.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod community;
pub mod notify;
pub mod salesforce;
pub mod sim;
pub mod workflow;

pub use scraper::{Html, Selector};

/// A knowledge base in a temp folder.
pub struct Kb {
    pub dir: tempfile::TempDir,
}

impl Kb {
    /// An empty knowledge base with a minimal `kbpub.toml`.
    pub fn new() -> Kb {
        let kb = Kb {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        kb.write(
            "kbpub.toml",
            "[site]\ntitle = \"Test KB\"\nbase_url = \"https://kb.test/\"\n",
        );
        kb
    }

    /// A copy of `tests/fixtures/<name>`.
    pub fn fixture(name: &str) -> Kb {
        let kb = Kb::new();
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name),
            kb.path(),
        );
        kb
    }

    /// A copy of the repository's own sample knowledge base.
    pub fn sample() -> Kb {
        let kb = Kb {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for entry in ["kbpub.toml", "content", "templates", ".kb", "data"] {
            let from = repo.join(entry);
            if from.is_dir() {
                copy_dir(&from, &kb.path().join(entry));
            } else if from.is_file() {
                std::fs::copy(&from, kb.path().join(entry)).expect("copy");
            }
        }
        kb
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// The text of `rel`.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Adds a line break and `text` to the end of `rel` (a section to `kbpub.toml`).
    pub fn append(&self, rel: &str, text: &str) {
        let old = self.read(rel);
        self.write(rel, &format!("{old}\n{text}"));
    }

    /// Replaces every `from` in `rel` with `to`; returns the new text.
    pub fn replace(&self, rel: &str, from: &str, to: &str) -> String {
        let new = self.read(rel).replace(from, to);
        self.write(rel, &new);
        new
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path().join(rel)).expect("remove");
    }

    /// Runs `kbpub <args>` in the knowledge base folder.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    /// Runs `kbpub <args>` with extra environment variables for this run only.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let output = kbpub()
            .args(args)
            .envs(env.iter().copied())
            .current_dir(self.path())
            .output()
            .expect("run kbpub");
        Run { output }
    }

    pub fn output_file(&self, rel: &str) -> PathBuf {
        self.path().join("output").join(rel)
    }

    pub fn read_output(&self, rel: &str) -> String {
        std::fs::read_to_string(self.output_file(rel))
            .unwrap_or_else(|e| panic!("output/{rel}: {e}"))
    }

    /// `output/search-index.js` as JSON (it is `window.KBPUB_SEARCH={...};`).
    pub fn search_index(&self) -> serde_json::Value {
        let script = self.read_output("search-index.js");
        assert!(script.starts_with("window.KBPUB_SEARCH="), "{script}");
        let json = script
            .trim_start_matches("window.KBPUB_SEARCH=")
            .trim_end()
            .trim_end_matches(';');
        serde_json::from_str(json).unwrap_or_else(|e| panic!("search index is not JSON: {e}"))
    }

    pub fn html(&self, rel: &str) -> Html {
        Html::parse_document(&self.read_output(rel))
    }
}

/// The `kbpub` binary built for these tests.
pub fn kbpub() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kbpub"));
    command.env_remove("RUST_LOG");
    command
}

pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Asserts success and returns self, printing the output on failure.
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code(),
            0,
            "kbpub failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    pub fn fails_with(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// Asserts that stdout holds `text`, printing stdout when it does not.
    #[track_caller]
    pub fn assert_stdout_has(&self, text: &str) {
        let stdout = self.stdout();
        assert!(stdout.contains(text), "{stdout}");
    }

    /// Asserts that stderr holds `text`, printing stderr when it does not.
    #[track_caller]
    pub fn assert_stderr_has(&self, text: &str) {
        let stderr = self.stderr();
        assert!(stderr.contains(text), "{stderr}");
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout()))
    }
}

/// Asserts `text` holds `part`, printing `text` when it does not.
#[track_caller]
pub fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "{text}");
}

/// The JSON report of a run that had to succeed: asserts the exit code of `(code, report)` is 0,
/// printing the report when it is not.
#[track_caller]
pub fn succeeded((code, report): (i32, serde_json::Value)) -> serde_json::Value {
    assert_eq!(code, 0, "{report:#}");
    report
}

/// Elements of `html` matching the CSS `selector`.
pub fn select<'a>(html: &'a Html, selector: &str) -> Vec<scraper::ElementRef<'a>> {
    let selector =
        Selector::parse(selector).unwrap_or_else(|e| panic!("bad selector {selector}: {e:?}"));
    html.select(&selector).collect()
}

/// Text content of the first element matching `selector`.
pub fn text(html: &Html, selector: &str) -> String {
    select(html, selector)
        .first()
        .unwrap_or_else(|| panic!("nothing matches {selector}"))
        .text()
        .collect::<String>()
}

pub fn attr(html: &Html, selector: &str, name: &str) -> String {
    select(html, selector)
        .first()
        .unwrap_or_else(|| panic!("nothing matches {selector}"))
        .value()
        .attr(name)
        .unwrap_or_else(|| panic!("{selector} has no {name}"))
        .to_string()
}

pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let target = to.join(entry.path().strip_prefix(from).expect("prefix"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Every file under `dir`, relative and sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .expect("prefix")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    files.sort();
    files
}

/// `kbpub sim` running as a child process on a free loopback port; killed on drop.
pub struct Sim {
    child: std::process::Child,
    pub base: String,
    http: reqwest::blocking::Client,
}

impl Sim {
    pub fn start() -> Sim {
        Sim::start_with(&[])
    }

    /// Starts `kbpub sim --port 0 <args>` and waits until it answers.
    pub fn start_with(args: &[&str]) -> Sim {
        use std::io::BufRead;
        let mut child = kbpub()
            .args(["sim", "--port", "0"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start kbpub sim");
        let stdout = child.stdout.take().expect("sim stdout");
        // Keep draining stdout so the server never writes into a closed pipe.
        let (first_line, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = first_line.send(line);
            }
        });
        let first = lines
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("kbpub sim prints its address");
        let base = first
            .trim()
            .rsplit(' ')
            .next()
            .expect("address on the first line")
            .to_string();
        let sim = Sim {
            child,
            base,
            http: reqwest::blocking::Client::new(),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let health = sim.http.get(format!("{}/__sim/health", sim.base)).send();
            if health.is_ok_and(|r| r.status().is_success()) {
                return sim;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "kbpub sim did not answer at {}",
                sim.base
            );
            std::thread::yield_now();
        }
    }

    /// GET a control endpoint of instance `cloud` or `dc` (`stats`, `pages`).
    pub fn control(&self, instance: &str, what: &str) -> serde_json::Value {
        self.http
            .get(format!("{}/__sim/confluence/{instance}/{what}", self.base))
            .send()
            .and_then(|r| r.json())
            .expect("sim control endpoint")
    }

    /// POSTs JSON to a control endpoint (`faults`, `latency`).
    pub fn set(&self, instance: &str, what: &str, body: serde_json::Value) {
        let response = self
            .http
            .post(format!("{}/__sim/confluence/{instance}/{what}", self.base))
            .json(&body)
            .send()
            .expect("sim control endpoint");
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// Requests by method so far (`GET`, `POST`, `PUT`, `DELETE`).
    pub fn count(&self, instance: &str, method: &str) -> u64 {
        self.control(instance, "stats")[method]
            .as_u64()
            .unwrap_or(0)
    }

    /// Requests that write (everything but GET).
    pub fn writes(&self, instance: &str) -> u64 {
        ["POST", "PUT", "DELETE"]
            .iter()
            .map(|m| self.count(instance, m))
            .sum()
    }

    /// Pages of an instance, home pages included.
    pub fn pages(&self, instance: &str) -> Vec<serde_json::Value> {
        self.control(instance, "pages")
            .as_array()
            .expect("pages")
            .clone()
    }

    /// A raw client for acting as a person in Confluence.
    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.http
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Hermetic git: no global or system config, the identity given per command.
pub fn git_env(who: &str) -> Vec<(&'static str, String)> {
    let name = who.split('@').next().unwrap_or(who).to_string();
    vec![
        ("GIT_CONFIG_GLOBAL", "/dev/null".to_string()),
        ("GIT_CONFIG_NOSYSTEM", "1".to_string()),
        ("GIT_AUTHOR_NAME", name.clone()),
        ("GIT_AUTHOR_EMAIL", who.to_string()),
        ("GIT_COMMITTER_NAME", name),
        ("GIT_COMMITTER_EMAIL", who.to_string()),
    ]
}

/// A fresh SSH key pair made with `ssh-keygen` in `dir`: the private key's path and the public
/// key line.
pub fn ssh_key(dir: &Path, name: &str) -> (String, String) {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (
        path.to_str().unwrap().to_string(),
        public.trim().to_string(),
    )
}

/// [`git_env`] for `who`, with git set to sign commits with the SSH key at `key`.
pub fn signing_git_env(who: &str, key: &str) -> Vec<(&'static str, String)> {
    let mut env = git_env(who);
    env.extend([
        ("GIT_CONFIG_COUNT", "2".to_string()),
        ("GIT_CONFIG_KEY_0", "gpg.format".to_string()),
        ("GIT_CONFIG_VALUE_0", "ssh".to_string()),
        ("GIT_CONFIG_KEY_1", "user.signingkey".to_string()),
        ("GIT_CONFIG_VALUE_1", key.to_string()),
    ]);
    env
}

/// Runs git in `dir` as `who`; returns its output.
pub fn git(dir: &std::path::Path, who: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(git_env(who))
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// People and a policy for publish tests: Wes writes, Ana (group `ops`) approves.
pub const PEOPLE: &str = "[[person]]\nemail = \"wes@example.com\"\nname = \"Wes Writer\"\n[[person]]\nemail = \"ana@example.com\"\nname = \"Ana Ops\"\n\n[groups]\nops = [\"ana@example.com\"]\n";
pub const POLICY: &str = "[[rule]]\nname = \"everything\"\napprovals = 1\ngroups = [\"ops\"]\n";

/// Commits what Wes changed and has Ana approve every document's current content.
pub fn approve_all(kb: &Kb) {
    git(kb.path(), "wes@example.com", &["add", "-A"]);
    git(
        kb.path(),
        "wes@example.com",
        &["commit", "-q", "--allow-empty", "-m", "edit"],
    );
    let mut docs: Vec<String> = files_under(&kb.path().join("content"))
        .into_iter()
        .filter(|f| f.ends_with(".md"))
        .map(|f| format!("content/{f}"))
        .collect();
    // Data-driven pages are approved once per family (template).
    let status = kbpub()
        .args(["status", "--format", "json"])
        .current_dir(kb.path())
        .envs(git_env("ana@example.com"))
        .output()
        .expect("run kbpub status");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
    docs.extend(
        status["pages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["generated_pages"].is_array())
            .filter_map(|p| p["doc"].as_str().map(String::from)),
    );
    let out = kbpub()
        .args(["approve", "--as", "ana@example.com"])
        .args(&docs)
        .current_dir(kb.path())
        .envs(git_env("ana@example.com"))
        .output()
        .expect("run kbpub approve");
    assert!(
        out.status.success(),
        "approve: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes `kb` a git repository, with [`PEOPLE`], [`POLICY`] and a `.gitignore` listing `ignored`,
/// whose every document Ana approved.
pub fn init_approved(kb: &Kb, ignored: &str) {
    kb.write(".kb/people.toml", PEOPLE);
    kb.write(".kb/policy.toml", POLICY);
    kb.write(".gitignore", ignored);
    git(kb.path(), "wes@example.com", &["init", "-q", "-b", "main"]);
    approve_all(kb);
}

/// The page of a `publish --format json` report (one target) about document `doc_id`.
pub fn report_page<'a>(report: &'a serde_json::Value, doc_id: &str) -> &'a serde_json::Value {
    report["targets"][0]["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["doc_id"] == doc_id)
        .unwrap_or_else(|| panic!("{doc_id} not in {report:#}"))
}

/// Each of `doc_ids` is in the report with `action`, done.
pub fn assert_done(report: &serde_json::Value, action: &str, doc_ids: &[&str]) {
    for id in doc_ids {
        assert_eq!(
            report_page(report, id)["action"],
            action,
            "{id}: {report:#}"
        );
        assert_eq!(
            report_page(report, id)["outcome"],
            "done",
            "{id}: {report:#}"
        );
    }
}
