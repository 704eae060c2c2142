//! `kbpub sim` as a child process on an ephemeral port: started with `--port 0`, its address read
//! from the first line it prints, ready once `/v1/health` answers. Stopped (by its process id)
//! when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

pub struct Sim {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl Sim {
    /// Starts `kbpub sim --port 0 <args>` and waits until it answers health checks.
    pub fn start(args: &[&str]) -> Sim {
        let mut child = super::kbpub()
            .args(["sim", "--port", "0"])
            .args(args)
            .env_remove("KBPUB_SIM_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start kbpub sim");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("sim stdout"))
            .read_line(&mut first)
            .expect("read the sim's address");
        let url = first
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://"))
            .unwrap_or_else(|| panic!("sim did not start: {first:?}"))
            .to_string();
        let sim = Sim { child, url };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _, _)) = sim.try_get("/v1/health", &[]) {
                return sim;
            }
            assert!(
                Instant::now() < deadline,
                "sim at {} never became healthy",
                sim.url
            );
            std::thread::sleep(Duration::from_millis(20)); // polling interval, not synchronisation
        }
    }

    /// GET `path` with `headers`: (status, head, body).
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
        self.try_get(path, headers)
            .unwrap_or_else(|e| panic!("GET {}{path}: {e}", self.url))
    }

    fn try_get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> std::io::Result<(u16, String, String)> {
        let host = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes())?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((status, head.to_string(), body.to_string()))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
