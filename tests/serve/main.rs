//! `kbpub serve` end to end: the real binary on fixture sites, over real HTTP on loopback, with
//! its live-reload events read like a browser reads them, and headless Chromium for what a
//! writer sees (reload with the new text at the same scroll position, the error overlay, the
//! reviewer's view switch).

mod cdp;
#[path = "../common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cdp::{Browser, TIMEOUT};
use common::*;
use serde_json::Value;

/// A running `kbpub serve` on port 0, its address read from its output.
struct Served {
    child: Child,
    addr: String,
    stderr: mpsc::Receiver<String>,
}

impl Served {
    fn start(kb: &Kb) -> Served {
        Served::start_with(kb, &[], &[])
    }

    fn start_with(kb: &Kb, args: &[&str], env: &[(&str, &str)]) -> Served {
        let mut child = kbpub()
            .args(["serve", "--port", "0"])
            .args(args)
            .envs(env.iter().copied())
            .current_dir(kb.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kbpub serve");
        let stdout = lines_of(child.stdout.take().expect("stdout"));
        let stderr = lines_of(child.stderr.take().expect("stderr"));
        let first = stdout
            .recv_timeout(TIMEOUT)
            .expect("kbpub serve printed no address");
        let addr = first
            .strip_prefix("Serving on http://")
            .and_then(|a| a.strip_suffix('/'))
            .unwrap_or_else(|| panic!("unexpected first line: {first}"));
        Served {
            addr: addr.to_string(),
            child,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// `GET raw_path` exactly as given (no normalisation), addressed to `localhost`.
    fn get(&self, raw_path: &str) -> Response {
        self.get_for_host(raw_path, "localhost")
    }

    fn get_for_host(&self, raw_path: &str, host: &str) -> Response {
        // A server bound to every address (0.0.0.0) is reached on loopback here.
        let mut stream =
            TcpStream::connect(self.addr.replace("0.0.0.0", "127.0.0.1")).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        write!(
            stream,
            "GET {raw_path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read response");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of headers");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        Response {
            status,
            head,
            body: raw[split + 4..].to_vec(),
        }
    }

    /// Whether the page at `path` is served and holds `text`.
    fn page_has(&self, path: &str, text: &str) -> bool {
        let response = self.get(path);
        response.status == 200 && response.text().contains(text)
    }

    fn events(&self) -> Events {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        write!(
            stream,
            "GET /_kbpub/events HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
        .expect("send");
        let mut events = Events {
            reader: BufReader::new(stream),
            generation: 0,
        };
        let first = events.wait("the first status", |_| true);
        events.generation = first["generation"].as_u64().expect("generation");
        events
    }

    /// Waits for a line of the server's terminal output that contains `text`.
    fn wait_for_output(&self, text: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("kbpub serve never printed {text:?}");
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("child status").is_none()
    }

    /// Sends Ctrl-C (SIGINT) and returns the exit code.
    fn interrupt(&mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill");
        assert!(sent.success(), "cannot signal kbpub serve");
        self.child.wait().expect("exit status").code()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines_of(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    receive
}

struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The live-reload event stream, read as a browser's EventSource reads it.
struct Events {
    reader: BufReader<TcpStream>,
    /// The generation of the last status seen.
    generation: u64,
}

impl Events {
    /// The next status that satisfies `accept`.
    /// Panics after [`TIMEOUT`] (the stream's keep-alive comments do not count).
    fn wait(&mut self, what: &str, accept: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        let mut line = String::new();
        loop {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            line.clear();
            let read = self
                .reader
                .read_line(&mut line)
                .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
            assert!(read > 0, "the event stream closed while waiting for {what}");
            if let Some(data) = line.strip_prefix("data: ") {
                let status: Value = serde_json::from_str(data).expect("status JSON");
                if accept(&status) {
                    return status;
                }
            }
        }
    }

    /// Waits for a rebuild that published new files.
    fn next_generation(&mut self) -> Value {
        let seen = self.generation;
        let status = self.wait("a rebuild", |s| s["generation"].as_u64() != Some(seen));
        assert_eq!(status["error_count"], 0, "the rebuild has errors: {status}");
        self.generation = status["generation"].as_u64().expect("generation");
        status
    }

    /// Waits for rebuilds until `done` holds: a burst of file changes (a deletion and two edits)
    /// may reach the server as more than one rebuild.
    fn generation_where(&mut self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.next_generation();
        }
    }

    /// Waits for a rebuild without errors that left the served files as they were (a fix that
    /// restores them).
    fn next_clean(&mut self) -> Value {
        let status = self.wait("the errors to clear", |s| s["error_count"] == 0);
        assert_eq!(
            status["generation"].as_u64(),
            Some(self.generation),
            "nothing to reload"
        );
        status
    }

    /// Waits for a rebuild with errors.
    fn next_errors(&mut self) -> Value {
        let status = self.wait("errors", |s| s["error_count"].as_u64() > Some(0));
        assert_eq!(
            status["generation"].as_u64(),
            Some(self.generation),
            "a broken edit publishes nothing"
        );
        status
    }
}

/// The fixture site plus a template of its own and a partner document with an internal-only
/// passage.
fn kb() -> Kb {
    let kb = Kb::fixture("valid");
    kb.write("templates/faq.html", "{% extends \"page.html\" %}\n");
    kb.write(
        "content/guides/partner.md",
        "+++\ntitle = \"Partner onboarding\"\ntype = \"partner\"\naudience = \"partner\"\nowner = \"partners@ops.example.com\"\nweight = 3\n+++\n\n\
         Welcome, partners.\n\n<!-- internal -->\nEscalate to the on-call lead after an hour.\n<!-- /internal -->\n\nThank you.\n",
    );
    kb
}

/// Replaces `change.0` with `change.1` in `rel`, waits for the rebuild and returns how many pages
/// it rendered.
fn edit_and_wait(
    kb: &Kb,
    served: &Served,
    events: &mut Events,
    rel: &str,
    change: (&str, &str),
) -> usize {
    edit(kb, rel, change.0, change.1);
    pages_rendered_after(served, events, rel)
}

/// Waits for the rebuild after a save of `file` and returns how many pages it rendered.
fn pages_rendered_after(served: &Served, events: &mut Events, file: &str) -> usize {
    events.next_generation();
    let line = served.wait_for_output(&format!("after {file}"));
    let count = line
        .strip_prefix("Rendered ")
        .and_then(|rest| rest.split(' ').next());
    count
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output: {line}"))
}

/// Asserts that the first error of `status` is at `position` and its message mentions `mentions`.
fn assert_first_error(status: &Value, position: &str, mentions: &str) {
    let error = &status["errors"][0];
    assert_eq!(error["position"], position, "{status}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains(mentions), "{status}");
}

fn edit(kb: &Kb, rel: &str, from: &str, to: &str) {
    let text = std::fs::read_to_string(kb.path().join(rel)).expect("read");
    assert!(text.contains(from), "{rel} has no {from:?}");
    kb.write(rel, &text.replacen(from, to, 1));
}

/// `served` is `built` with the live-reload client added before `</body>` (HTML), or `built`.
fn assert_served_as_built(file: &str, served: &[u8], built: &[u8]) {
    if !file.ends_with(".html") {
        assert!(
            served == built,
            "{file}: served bytes differ from the build"
        );
        return;
    }
    let served = String::from_utf8_lossy(served);
    let start = served
        .find("<script src=\"/_kbpub/client.js\"")
        .unwrap_or_else(|| panic!("{file}: no live-reload client"));
    let end = start
        + served[start..]
            .find("</script>\n")
            .expect("end of the client tag")
        + "</script>\n".len();
    let without_client = format!("{}{}", &served[..start], &served[end..]);
    assert!(
        without_client.as_bytes() == built,
        "{file}: served page differs from the build"
    );
}

/// Every file `kbpub build` writes for `kb` is served with the same bytes.
fn assert_serves_the_build(kb: &Kb, served: &Served) {
    kb.run(&["build"]).ok();
    let files = files_under(&kb.path().join("output"));
    assert!(files.len() > 10, "{files:?}");
    for file in &files {
        let response = served.get(&format!("/{}", file.replace(' ', "%20")));
        assert_eq!(response.status, 200, "{file}");
        let built = std::fs::read(kb.output_file(file)).expect("built file");
        assert_served_as_built(file, &response.body, &built);
    }
}

#[test]
fn serves_exactly_what_build_writes() {
    let kb = Kb::sample();
    let served = Served::start(&kb);
    assert!(
        served.addr.starts_with("127.0.0.1:"),
        "binds loopback by default: {}",
        served.addr
    );
    assert_serves_the_build(&kb, &served);
    let home = served.get("/");
    assert_eq!(home.status, 200);
    assert!(
        home.head
            .to_ascii_lowercase()
            .contains("cache-control: no-store"),
        "{}",
        home.head
    );
    assert_eq!(
        served.get("/sops").status,
        308,
        "a folder redirects to its index"
    );
}

#[test]
fn edits_re_render_only_what_they_affect_and_stay_equal_to_a_full_build() {
    let kb = kb();
    let served = Served::start(&kb);
    let mut events = served.events();

    // A body edit: the document and the one page that links to it (beta).
    let rendered = edit_and_wait(
        &kb,
        &served,
        &mut events,
        "content/guides/alpha.md",
        ("Check them.", "Check them twice."),
    );
    assert_eq!(rendered, 2);
    assert!(served.page_has("/guides/alpha.html", "Check them twice."));

    // A title edit: also the pages that list it — its section, the page after the section in
    // reading order (its "previous" link), and the linking page.
    let rendered = edit_and_wait(
        &kb,
        &served,
        &mut events,
        "content/guides/deep/delta.md",
        ("title = \"Delta\"", "title = \"Delta renamed\""),
    );
    assert_eq!(rendered, 4);
    assert!(served.page_has("/guides/deep/index.html", "Delta renamed"));
    assert!(
        served.page_has("/faq/index.html", "Delta renamed"),
        "prev link of the next page"
    );

    // A template edit: the documents rendered through it (the one FAQ page), and generated pages.
    let faq = "{% extends \"page.html\" %}{% block before_content %}<p class=\"faq-banner\">Ask us</p>{% endblock before_content %}\n";
    kb.write("templates/faq.html", faq);
    assert_eq!(
        pages_rendered_after(&served, &mut events, "templates/faq.html"),
        1
    );
    assert!(served.page_has("/faq/gamma.html", "faq-banner"));
    assert!(!served.page_has("/guides/alpha.html", "faq-banner"));

    // A tag change, a new document and a deleted one.
    edit(
        &kb,
        "content/guides/beta.md",
        "tags = [\"as2\"]",
        "tags = [\"as2\", \"escalation\"]",
    );
    events.next_generation();
    assert_eq!(served.get("/tags/escalation.html").status, 200);
    kb.write(
        "content/guides/epsilon.md",
        "+++\ntitle = \"Epsilon\"\ntype = \"sop\"\n+++\nSee [delta](deep/delta.md).\n",
    );
    events.next_generation();
    assert!(served.page_has("/guides/epsilon.html", "Epsilon"));
    kb.remove("content/guides/deep/delta.md");
    edit(
        &kb,
        "content/guides/beta.md",
        " and [deep](deep/delta.md)",
        "",
    );
    edit(
        &kb,
        "content/guides/epsilon.md",
        "See [delta](deep/delta.md).",
        "Delta is gone.",
    );
    events.generation_where("the deletion and both edits", || {
        served.page_has("/guides/epsilon.html", "Delta is gone")
            && !served.page_has("/guides/beta.html", "delta.html")
            && served.get("/guides/deep/delta.html").status == 404
    });
    assert_eq!(
        served.get("/guides/deep/delta.html").status,
        404,
        "pages of deleted documents go"
    );

    assert_serves_the_build(&kb, &served);
}

#[test]
fn a_broken_edit_reports_its_position_and_keeps_the_last_good_pages() {
    let kb = kb();
    let mut served = Served::start(&kb);
    let mut events = served.events();

    edit(
        &kb,
        "content/guides/alpha.md",
        "Check them.",
        "Check [the log](missing.md).",
    );
    let status = events.next_errors();
    assert_first_error(&status, "content/guides/alpha.md:20:7", "missing.md");
    assert!(
        status["errors"][0]["report"]
            .as_str()
            .unwrap()
            .contains("Check [the log](missing.md)."),
        "{status}"
    );
    let page = served.get("/guides/alpha.html").text();
    assert!(
        page.contains("Check them.") && !page.contains("the log"),
        "the last good page is served"
    );

    // While one page is broken, other edits wait for it: the served site only changes to a
    // state without errors, as `kbpub build` would.
    edit(&kb, "content/guides/beta.md", "Done.", "Done for now.");
    events.next_errors();
    assert!(!served.page_has("/guides/beta.html", "Done for now."));
    edit(
        &kb,
        "content/guides/alpha.md",
        "Check [the log](missing.md).",
        "Check them again.",
    );
    let status = events.next_generation();
    assert_eq!(status["errors"], Value::Array(vec![]));
    assert!(served.page_has("/guides/alpha.html", "Check them again."));
    assert!(
        served.page_has("/guides/beta.html", "Done for now."),
        "held-back edits are published"
    );

    // Broken front matter and a broken layout template are reported the same way.
    edit(
        &kb,
        "content/faq/gamma.md",
        "type = \"faq\"",
        "type = \"faq\"\ntitel = \"Gamma\"",
    );
    assert_first_error(&events.next_errors(), "content/faq/gamma.md:5:1", "titel");
    edit(&kb, "content/faq/gamma.md", "\ntitel = \"Gamma\"", "");
    events.next_clean();
    kb.write(
        "templates/page.html",
        "{% extends \"base.html\" %}\n{% block main %}{{ page.title }\n{% endblock main %}\n",
    );
    let status = events.next_errors();
    assert!(
        status["errors"][0]["position"]
            .as_str()
            .unwrap()
            .starts_with("templates/page.html:2:"),
        "{status}"
    );
    assert!(served.is_running(), "the server survives broken edits");
    kb.remove("templates/page.html");
    events.next_clean();
    assert_serves_the_build(&kb, &served);
}

#[test]
fn a_site_that_starts_broken_is_served_once_fixed() {
    let kb = kb();
    edit(
        &kb,
        "content/guides/alpha.md",
        "Check them.",
        "Check [the log](missing.md).",
    );
    let served = Served::start(&kb);
    let mut events = served.events();
    let page = served.get("/guides/alpha.html");
    assert_eq!(page.status, 404);
    assert!(
        page.text().contains("/_kbpub/client.js"),
        "the placeholder reloads once the site builds"
    );
    edit(
        &kb,
        "content/guides/alpha.md",
        "Check [the log](missing.md).",
        "Check them.",
    );
    events.next_generation();
    assert_eq!(served.get("/guides/alpha.html").status, 200);
}

#[test]
fn paths_outside_the_site_and_symlinks_out_of_it_are_404() {
    let kb = kb();
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("secret.txt"), "TOP-SECRET").expect("write");
    std::fs::write(kb.path().join("secret.txt"), "TOP-SECRET").expect("write");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        kb.path().join("content/guides/leak.txt"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink(outside.path(), kb.path().join("content/outside")).expect("symlink");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        kb.path().join("content/guides/leak.md"),
    )
    .expect("symlink");
    let served = Served::start(&kb);
    assert_eq!(served.get("/guides/alpha.html").status, 200);
    for path in [
        "/../secret.txt",
        "/guides/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/guides/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/guides%2f..%2f..%2fsecret.txt",
        "/%252e%252e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        "/..\\secret.txt",
        "/..%5csecret.txt",
        "/guides/..\\..\\secret.txt",
        "//secret.txt",
        "/guides/leak.txt",
        "/guides/leak.html",
        "/outside/secret.txt",
        "/kbpub.toml",
        "/content/guides/alpha.md",
        // No normalisation either, even where it would land on a page of the site.
        "/guides/../index.html",
        "/guides/%2e%2e/index.html",
        "/guides/./alpha.html",
        "/guides%2falpha.html",
    ] {
        let response = served.get(path);
        assert_eq!(response.status, 404, "{path}");
        assert!(!response.text().contains("TOP-SECRET"), "{path}");
    }
}

#[test]
fn ctrl_c_stops_with_0_and_a_port_in_use_is_an_error() {
    let kb = kb();
    let mut served = Served::start(&kb);
    let port = served.addr.rsplit(':').next().unwrap().to_string();
    let second = kb.run(&["serve", "--port", &port]).fails_with(1);
    assert!(
        second.stderr().contains("the port is in use"),
        "{}",
        second.stderr()
    );
    assert_eq!(served.interrupt(), Some(0));
}

#[test]
fn requests_for_other_hosts_are_refused() {
    let kb = kb();
    let served = Served::start(&kb);
    assert_eq!(served.get_for_host("/", "127.0.0.1").status, 200);
    let rebinding = served.get_for_host("/", "attacker.example");
    assert_eq!(rebinding.status, 403);
    assert!(rebinding.text().contains("--allow-remote"));
}

#[test]
fn binding_beyond_loopback_needs_allow_remote() {
    let kb = kb();
    let run = kb
        .run(&["serve", "--bind", "0.0.0.0", "--port", "0"])
        .fails_with(2);
    assert!(run.stderr().contains("--allow-remote"), "{}", run.stderr());
    let served = Served::start_with(&kb, &["--bind", "0.0.0.0", "--allow-remote"], &[]);
    assert!(served.addr.starts_with("0.0.0.0:"), "{}", served.addr);
    served.wait_for_output("reachable from other machines");
    assert_eq!(
        served.get_for_host("/", "kb.internal.example").status,
        200,
        "any host name with --allow-remote"
    );
}

#[test]
fn open_starts_the_browser_on_the_served_url() {
    let kb = kb();
    let opened = kb.path().join("opened.txt");
    let browser = kb.path().join("browser.sh");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", opened.display()),
    )
    .expect("script");
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let browser = browser.to_str().expect("UTF-8 path");
    let served = Served::start_with(&kb, &["--open"], &[("BROWSER", browser)]);
    let deadline = Instant::now() + TIMEOUT;
    while !opened.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        std::fs::read_to_string(&opened).expect("the browser was started"),
        served.url("")
    );
}

#[test]
fn reviewers_see_the_partner_view_and_the_page_facts() {
    let kb = kb();
    edit(
        &kb,
        "content/guides/partner.md",
        "Thank you.",
        "Thank you. See [the alpha guide](alpha.md).",
    );
    let served = Served::start(&kb);
    let internal = served.get("/guides/partner.html").text();
    assert!(internal.contains("Escalate to the on-call lead"));
    assert!(internal.contains("href=\"alpha.html\""));
    let partner = served.get("/guides/partner.html?view=partner");
    assert_eq!(partner.status, 200);
    let partner = partner.text();
    let body = Html::parse_document(&partner);
    assert!(
        text(&body, ".doc-body").contains("See the alpha guide.")
            && select(&body, ".doc-body a").is_empty(),
        "partners cannot open internal pages: the link is plain text"
    );
    assert!(
        partner.contains("Welcome, partners.") && partner.contains("Thank you."),
        "{partner}"
    );
    assert!(
        !partner.contains("Escalate to the on-call lead"),
        "internal-only passages are removed"
    );
    assert!(partner.contains("data-view=\"partner\""));

    let internal_only = served.get("/guides/alpha.html?view=partner").text();
    assert!(
        internal_only.contains("Partners do not get this page"),
        "{internal_only}"
    );
    assert_eq!(served.get("/guides/alpha.html?view=nope").status, 400);

    let review: Value =
        serde_json::from_slice(&served.get("/_kbpub/review?page=guides/partner.html").body)
            .expect("JSON");
    assert_eq!(review["source"], "content/guides/partner.md");
    let fact = |label: &str| {
        review["facts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["label"] == label)
            .map(|f| f["value"].clone())
    };
    assert_eq!(
        fact("Audience").unwrap(),
        "partner: also published to the partner community"
    );
    assert_eq!(
        fact("Internal-only passages").unwrap(),
        "yes: removed from the partner view"
    );
    assert_eq!(fact("Owner").unwrap(), "partners@ops.example.com");
    let review: Value =
        serde_json::from_slice(&served.get("/_kbpub/review?page=guides/alpha.html").body)
            .expect("JSON");
    assert_eq!(review["views"][1]["available"], false, "{review}");
    assert_eq!(fact_of(&review, "Review by"), "2027-01-31");
    let confluence = served.get("/faq/gamma.html?view=confluence");
    assert_eq!(confluence.status, 200);
    assert!(
        confluence.head.contains("application/xhtml+xml"),
        "{}",
        confluence.head
    );
    let text = confluence.text();
    let xml = roxmltree::Document::parse(&text).expect("the Confluence view is well-formed XML");
    let code = xml
        .descendants()
        .find(|n| {
            n.tag_name().name() == "structured-macro"
                && n.attributes()
                    .any(|a| a.name() == "name" && a.value() == "code")
        })
        .expect("a code macro");
    assert!(
        code.descendants()
            .any(|n| n.text().is_some_and(|t| t.contains("println!(\"hi\")"))),
        "{text}"
    );
    let confluence = served.get("/guides/partner.html?view=confluence").text();
    assert!(
        confluence.contains("Internal only") && confluence.contains("Escalate to the on-call lead"),
        "Confluence is internal: {confluence}"
    );

    assert_eq!(
        served.get("/_kbpub/review?page=guides/index.html").status,
        404,
        "sections have no panel"
    );
}

fn fact_of(review: &Value, label: &str) -> String {
    review["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["label"] == label)
        .and_then(|f| f["value"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Git without the machine's configuration, acting as `who`.
fn git_as(who: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_AUTHOR_NAME", who),
        ("GIT_AUTHOR_EMAIL", who),
        ("GIT_COMMITTER_NAME", who),
        ("GIT_COMMITTER_EMAIL", who),
    ]
}

fn git(kb: &Kb, who: &str, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(args)
        .current_dir(kb.path())
        .envs(git_as(who))
        .status()
        .expect("run git");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn the_panel_and_banners_follow_the_approval_state_through_edits() {
    const WRITER: &str = "will@example.com";
    const REVIEWER: &str = "rita@example.com";
    let kb = kb();
    kb.write(
        ".kb/people.toml",
        "[[person]]\nemail = \"will@example.com\"\nname = \"Will\"\n\
         [[person]]\nemail = \"rita@example.com\"\nname = \"Rita\"\n\n[groups]\nreviewers = [\"rita@example.com\"]\n",
    );
    kb.write(
        ".kb/policy.toml",
        "[[rule]]\nname = \"internal\"\naudience = \"internal\"\napprovals = 1\ngroups = [\"reviewers\"]\n",
    );
    kb.write(".gitignore", "output/\n");
    git(&kb, WRITER, &["init", "-q", "-b", "main"]);
    git(&kb, WRITER, &["add", "-A"]);
    git(&kb, WRITER, &["commit", "-q", "-m", "Documents"]);
    kb.run_env(
        &["approve", "--as", REVIEWER, "guide-alpha"],
        &git_as(REVIEWER),
    )
    .ok();

    let served = Served::start_with(&kb, &[], &git_as(WRITER));
    let panel = |path: &str| -> Value {
        serde_json::from_slice(&served.get(&format!("/_kbpub/review?page={path}")).body)
            .expect("JSON")
    };
    assert_eq!(fact_of(&panel("guides/alpha.html"), "Approval"), "approved");
    assert!(
        !served.page_has("/guides/alpha.html", "class=\"banner"),
        "an approved page has no banner"
    );
    assert!(fact_of(&panel("guides/beta.html"), "Approval").starts_with("Draft: not approved"));

    let mut events = served.events();
    edit(
        &kb,
        "content/guides/alpha.md",
        "Check them.",
        "Check them twice.",
    );
    events.next_generation();
    assert!(
        served.page_has("/guides/alpha.html", "Changed since it was approved"),
        "the banner appears with the edit"
    );
    assert!(
        fact_of(&panel("guides/alpha.html"), "Approval")
            .starts_with("Changed since it was approved")
    );
}

#[test]
fn the_panel_says_how_fresh_the_data_on_a_page_is() {
    let kb = Kb::sample();
    let served = Served::start(&kb);
    let review: Value = serde_json::from_slice(
        &served
            .get("/_kbpub/review?page=playbooks/rejected-asn-856.html")
            .body,
    )
    .expect("JSON");
    assert!(fact_of(&review, "Data").starts_with("as of 20"), "{review}");
    let review: Value =
        serde_json::from_slice(&served.get("/_kbpub/review?page=faqs/997-vs-999.html").body)
            .expect("JSON");
    assert_eq!(
        fact_of(&review, "Data"),
        "",
        "a page without live data: {review}"
    );
}

/// `kbpub serve` on `kb`, and headless Chromium showing the page at `path`.
fn open_in_browser(kb: &Kb, path: &str) -> (Served, Browser) {
    let served = Served::start(kb);
    let mut browser = Browser::launch();
    browser.goto(&served.url(path));
    (served, browser)
}

/// A document long enough to scroll, ending with `closing`.
fn long_document(closing: &str) -> String {
    let paragraphs: String = (1..=120)
        .map(|i| format!("Paragraph {i} of the long procedure.\n\n"))
        .collect();
    format!("+++\ntitle = \"Long procedure\"\ntype = \"sop\"\n+++\n\n{paragraphs}{closing}\n")
}

#[test]
fn the_open_page_reloads_with_the_new_text_and_keeps_its_scroll_position() {
    let kb = kb();
    kb.write(
        "content/guides/long.md",
        &long_document("The original closing line."),
    );
    let (_served, mut browser) = open_in_browser(&kb, "guides/long.html");
    let y = browser
        .eval("window.scrollTo(0, 1800); window.__kbpubBeforeReload = true; window.scrollY")
        .expect("scroll");
    assert!(y.as_f64().unwrap() > 1000.0, "the page scrolls: {y}");

    kb.write(
        "content/guides/long.md",
        &long_document("The edited closing line."),
    );
    browser.wait_for(
        "document.body.innerText.includes('The edited closing line.')",
        "the reloaded page with the new text",
    );
    assert!(
        browser.holds("window.__kbpubBeforeReload === undefined"),
        "a real reload"
    );
    browser.wait_for(
        &format!("Math.abs(window.scrollY - {y}) < 2"),
        "the scroll position to be restored",
    );
}

#[test]
fn a_broken_edit_shows_an_overlay_with_its_position_until_fixed() {
    let kb = kb();
    let (_served, mut browser) = open_in_browser(&kb, "guides/alpha.html");

    edit(
        &kb,
        "content/guides/alpha.md",
        "Check them.",
        "Check [the log](missing.md).",
    );
    let overlay = browser.wait_for(
        "document.getElementById('kbpub-serve-overlay')?.innerText",
        "the error overlay",
    );
    let overlay = overlay.as_str().unwrap();
    assert!(
        overlay.contains("content/guides/alpha.md:20:7"),
        "{overlay}"
    );
    assert!(overlay.contains("missing.md"), "{overlay}");
    let body = browser
        .eval("document.querySelector('.doc-body').innerText")
        .unwrap();
    assert!(
        body.as_str().unwrap().contains("Check them."),
        "the last good page stays underneath: {body}"
    );

    edit(
        &kb,
        "content/guides/alpha.md",
        "Check [the log](missing.md).",
        "Check them, fixed.",
    );
    browser.wait_for(
        "document.body.innerText.includes('Check them, fixed.') && !document.getElementById('kbpub-serve-overlay')",
        "the fixed page without the overlay",
    );
}

#[test]
fn the_reviewer_panel_switches_between_the_internal_partner_and_confluence_views() {
    let kb = kb();
    let (_served, mut browser) = open_in_browser(&kb, "guides/partner.html");
    assert!(browser.holds("document.body.innerText.includes('Escalate to the on-call lead')"));
    browser.wait_for(
        "document.querySelector('#kbpub-serve-panel a[data-view=partner]')",
        "the reviewer panel",
    );
    let facts = browser
        .eval("document.querySelector('#kbpub-serve-panel').innerText")
        .unwrap();
    assert!(
        facts
            .as_str()
            .unwrap()
            .contains("removed from the partner view"),
        "{facts}"
    );
    browser
        .eval("document.querySelector('#kbpub-serve-panel a[data-view=partner]').click()")
        .expect("click");
    browser.wait_for(
        "location.search === '?view=partner' && document.readyState === 'complete'",
        "the partner view",
    );
    assert!(!browser.holds("document.body.innerText.includes('Escalate to the on-call lead')"));
    assert!(browser.holds("document.body.innerText.includes('Welcome, partners.')"));
    browser.wait_for(
        "document.querySelector('#kbpub-serve-panel a[data-view=confluence]')",
        "the reviewer panel in the partner view",
    );
    browser
        .eval("document.querySelector('#kbpub-serve-panel a[data-view=confluence]').click()")
        .expect("click");
    browser.wait_for(
        "document.contentType === 'application/xhtml+xml' && document.body.innerText.includes('Internal only')",
        "the Confluence view",
    );
    assert!(
        browser.holds("document.body.innerText.includes('Escalate to the on-call lead')"),
        "Confluence is internal"
    );
}

#[test]
fn a_process_map_is_drawn_as_an_svg_diagram_in_serve_and_from_the_built_files_offline() {
    let kb = kb();
    kb.write(
        "content/guides/escalation.md",
        "+++\ntitle = \"Escalation\"\ntype = \"playbook\"\n+++\n\nHow it flows.\n\n```mermaid\ngraph TD\n  A[Alert raised] --> B{Partner affected?}\n  B -->|yes| C[Notify the partner]\n```\n",
    );
    let diagram = "document.querySelector('.doc-body pre.mermaid svg')?.textContent";
    let (served, mut browser) = open_in_browser(&kb, "guides/escalation.html");
    let drawn = browser.wait_for(diagram, "the diagram drawn by the bundled Mermaid");
    let drawn = drawn.as_str().unwrap();
    for label in ["Alert raised", "Partner affected?", "Notify the partner"] {
        assert!(drawn.contains(label), "{label} in {drawn}");
    }
    drop(served);

    kb.run(&["build"]).ok();
    let file = kb.output_file("guides/escalation.html");
    browser.goto(&format!("file://{}", file.display()));
    let drawn = browser.wait_for(diagram, "the diagram from the built files");
    assert!(drawn.as_str().unwrap().contains("Notify the partner"));
    assert!(
        browser.holds("[...document.scripts].every(s => !s.src || s.src.startsWith('file:'))"),
        "every script comes from the built files"
    );
}
