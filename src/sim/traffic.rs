//! What the Confluence and community test servers share about the requests they see: a count per
//! HTTP method (so tests and benchmarks can assert "zero writes") and the queue of injected
//! faults, each matching a method and a path substring for a number of requests.

use std::collections::{BTreeMap, VecDeque};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Fault {
    /// HTTP method to match (`*` for any).
    pub method: String,
    /// Substring of the path (after the context path) to match.
    pub path: String,
    pub status: u16,
    #[serde(default = "one")]
    pub times: u32,
    /// Run the request, then answer `status` anyway (a write that lands but looks failed).
    #[serde(default)]
    pub commit: bool,
    /// `Retry-After` value to send (seconds or an HTTP date).
    pub retry_after: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Default)]
pub struct Traffic {
    /// Requests seen, by HTTP method.
    pub counts: BTreeMap<String, u64>,
    faults: VecDeque<Fault>,
}

impl Traffic {
    /// Replaces the queued faults.
    pub fn set_faults(&mut self, faults: Vec<Fault>) {
        self.faults = faults.into_iter().filter(|f| f.times > 0).collect();
    }

    /// Counts a request and takes the first queued fault it matches, if any.
    pub fn record(&mut self, method: &str, path: &str) -> Option<Fault> {
        *self.counts.entry(method.to_string()).or_default() += 1;
        let index = self.faults.iter().position(|f| {
            (f.method == "*" || f.method.eq_ignore_ascii_case(method)) && path.contains(&f.path)
        })?;
        let f = &mut self.faults[index];
        f.times -= 1;
        let fault = f.clone();
        if f.times == 0 {
            self.faults.remove(index);
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_match_method_and_path_for_their_count() {
        let mut traffic = Traffic::default();
        traffic.set_faults(vec![Fault {
            method: "post".into(),
            path: "/pages".into(),
            status: 500,
            times: 2,
            commit: false,
            retry_after: None,
        }]);
        assert!(traffic.record("GET", "/pages").is_none());
        assert_eq!(
            traffic.record("POST", "/api/pages").map(|f| f.status),
            Some(500)
        );
        assert!(traffic.record("POST", "/api/pages").is_some());
        assert!(traffic.record("POST", "/api/pages").is_none());
        assert_eq!(traffic.counts["POST"], 3);
    }
}
