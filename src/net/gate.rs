//! The rate-limit gate of a host, shared by every request kbpub sends to it in this process: a
//! `429` or `503` with `Retry-After` closes it until the time is up, and no worker sends to that
//! host before then. Workers let through when it opens each wait a little jitter more, so they do
//! not all arrive at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// One host's gate.
#[derive(Debug, Default)]
pub struct Gate {
    /// Closed until this instant, and the jitter (up to) that each waiting request adds.
    closed: Mutex<Option<(Instant, Duration)>>,
}

impl Gate {
    /// Closes the gate for `wait` from now (never opening it earlier than it already would).
    pub fn close_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let spread = (wait / 10).min(Duration::from_millis(500));
        let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        if closed.is_none_or(|(current, _)| current < until) {
            *closed = Some((until, spread));
        }
    }

    /// How long the gate stays closed from now; `None` when it is open.
    pub fn closed_for(&self) -> Option<Duration> {
        self.closed_until()
            .map(|(until, _)| until.saturating_duration_since(Instant::now()))
    }

    fn closed_until(&self) -> Option<(Instant, Duration)> {
        let closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        closed.filter(|(until, _)| *until > Instant::now())
    }

    /// Waits until the gate is open (at once when it is). A gate closed again while waiting is
    /// waited for again.
    pub async fn pass(&self) {
        while let Some((until, spread)) = self.closed_until() {
            tokio::time::sleep_until(until + super::retry::jitter(spread)).await;
        }
    }
}

/// The gate of the host (and port) of `url`; the same `Arc` for every client in this process.
pub fn for_url(url: &reqwest::Url) -> Arc<Gate> {
    static GATES: OnceLock<Mutex<HashMap<String, Arc<Gate>>>> = OnceLock::new();
    let host = format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    );
    let mut gates = GATES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    gates.entry(host).or_default().clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_gate_per_host_and_port() {
        let a = for_url(&"http://127.0.0.1:9/wiki/x".parse().unwrap());
        let b = for_url(&"http://127.0.0.1:9/community/y".parse().unwrap());
        let c = for_url(&"http://127.0.0.1:10/wiki/x".parse().unwrap());
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_gate_holds_every_request_until_the_time_is_up() {
        let gate = Gate::default();
        assert_eq!(gate.closed_for(), None);
        gate.close_for(Duration::from_secs(2));
        gate.close_for(Duration::from_secs(1));
        assert_eq!(
            gate.closed_for(),
            Some(Duration::from_secs(2)),
            "a shorter wait never reopens it early"
        );
        let start = Instant::now();
        gate.pass().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(2) && waited <= Duration::from_millis(2200),
            "{waited:?}"
        );
        assert_eq!(gate.closed_for(), None);
    }
}
