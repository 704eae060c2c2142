//! A small Chrome DevTools Protocol client for end-to-end tests: launches headless Chromium
//! (Debian's `chromium`, which `scripts/test` installs), opens one page and evaluates JavaScript
//! in it. Waiting is always polling with a deadline, never a fixed sleep.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Chromium without a window, sandbox, GPU or any traffic of its own.
pub const HEADLESS: [&str; 7] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    socket: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
}

impl Browser {
    /// Starts Chromium with an empty profile and opens a blank page.
    pub fn launch() -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new("chromium")
            .args(HEADLESS)
            .args(["--remote-debugging-port=0", "--window-size=1200,800"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect(
                "chromium must be installed (scripts/test installs it): cannot start `chromium`",
            );
        let endpoint = devtools_endpoint(&mut child);
        let host = endpoint
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("host in endpoint")
            .to_string();
        let stream = TcpStream::connect(&host).expect("connect to DevTools");
        stream
            .set_read_timeout(Some(TIMEOUT))
            .expect("read timeout");
        let (socket, _) =
            tungstenite::client(endpoint.as_str(), stream).expect("DevTools websocket handshake");
        let mut browser = Browser {
            child,
            _profile: profile,
            socket,
            session: String::new(),
            next_id: 0,
        };
        let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().expect("targetId").to_string();
        let attached = browser.call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_string();
        browser
    }

    /// Sends a command (to the page once attached) and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .map_err(|e| e.to_string())?;
        loop {
            let reply = match self.socket.read().map_err(|e| e.to_string())? {
                Message::Text(text) => {
                    serde_json::from_str::<Value>(&text).map_err(|e| e.to_string())?
                }
                _ => continue,
            };
            if reply["id"] != json!(id) {
                continue; // an event
            }
            return match reply.get("error") {
                Some(error) => Err(error.to_string()),
                None => Ok(reply["result"].clone()),
            };
        }
    }

    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        self.wait_for(
            "document.readyState === 'complete' && location.href !== 'about:blank'",
            "the page to load",
        );
    }

    /// Evaluates `expression` in the page; `Err` while the page is between documents or the
    /// expression throws.
    pub fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let result = self.try_call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(exception.to_string());
        }
        Ok(result["result"]["value"].clone())
    }

    /// Whether `expression` evaluates to `true` now.
    pub fn holds(&mut self, expression: &str) -> bool {
        self.eval(expression) == Ok(Value::Bool(true))
    }

    /// Polls `expression` until it is truthy and returns its value; panics after [`TIMEOUT`],
    /// naming `what` was awaited.
    pub fn wait_for(&mut self, expression: &str, what: &str) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            match self.eval(expression) {
                Ok(value) if truthy(&value) => return value,
                Ok(value) => last = value,
                Err(error) => last = Value::String(error),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what} ({expression}); last value: {last}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Reads Chromium's stderr until it names its DevTools websocket; keeps draining it afterwards.
fn devtools_endpoint(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("piped stderr");
    let (found, endpoint) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("ws://") {
                let _ = found.send(line[at..].trim().to_string());
            }
        }
    });
    endpoint
        .recv_timeout(TIMEOUT)
        .expect("Chromium did not print its DevTools endpoint")
}
