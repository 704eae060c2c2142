//! What the simulators share about the requests they see: a count per HTTP method (so tests and
//! benchmarks can assert "zero writes"), the queue of injected faults (each matching a method and
//! a path substring for a number of requests), seeded random faults, and rate-limit windows per
//! client. [`super::layer`] applies these rules in front of every simulator and serves their
//! control endpoints (`stats`, `faults`, `random-faults` ([`RandomFaults`]), `rate-limits`
//! ([`RateLimitStats`]), `latency`).
//!
//! Rate limits as the services document them (Confluence reference §4.1; community contract:
//! "429 with `Retry-After`"): a response carrying `Retry-After` opens a window for the client
//! that got it (clients are told apart by their `Authorization` header); a request from that
//! client before the window ends fails again with `429` and the time still left, and is counted
//! as *early* — unless it arrived within [`IN_FLIGHT`] of the announcement, when it was on the
//! wire before the client could have read the `429` (counted as in flight instead).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

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
    /// Hold the answer this many seconds (after running the request when `commit`): with
    /// `commit`, a write that lands and whose answer does not come before the client gives up.
    #[serde(default)]
    pub hang: Option<u64>,
}

impl Fault {
    /// Waits out `hang`, if any.
    pub async fn hold(&self) {
        if let Some(seconds) = self.hang {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
        }
    }
}

fn one() -> u32 {
    1
}

/// Seeded random faults, drawn for every request no queued fault matched: `rate_429` answers
/// `429` with `Retry-After`; `rate_5xx` answers 500, 502, 503 (with `Retry-After`) or 504 without
/// running the request; `rate_commit` runs a write (any method but GET) and answers 500.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomFaults {
    pub seed: u64,
    #[serde(default)]
    pub rate_429: f64,
    #[serde(default)]
    pub rate_5xx: f64,
    #[serde(default)]
    pub rate_commit: f64,
    /// Seconds of `Retry-After` on a random 429 or 503.
    #[serde(default = "one_second")]
    pub retry_after: u64,
    /// Send `Retry-After` as an HTTP date instead of seconds.
    #[serde(default)]
    pub retry_after_date: bool,
}

fn one_second() -> u64 {
    1
}

/// A request that arrives this soon after its client was told to wait was sent before the
/// client could have read the answer: in flight, not early.
pub const IN_FLIGHT: Duration = Duration::from_millis(250);

/// What the rate-limit rules saw, for `/__sim/.../rate-limits`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RateLimitStats {
    /// Windows opened (responses that carried `Retry-After`).
    pub windows: u64,
    /// Requests sent inside a window their client had been told about.
    pub early: u64,
    /// Requests inside a window that were already on the wire when it opened.
    pub in_flight: u64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    announced: Instant,
    until: Instant,
}

#[derive(Debug, Default)]
pub struct Traffic {
    /// Requests seen, by HTTP method.
    pub counts: BTreeMap<String, u64>,
    faults: VecDeque<Fault>,
    random: Option<(RandomFaults, StdRng)>,
    windows: HashMap<String, Window>,
    limits: RateLimitStats,
}

impl Traffic {
    /// Replaces the queued faults.
    pub fn set_faults(&mut self, faults: Vec<Fault>) {
        self.faults = faults.into_iter().filter(|f| f.times > 0).collect();
    }

    /// Replaces the random faults (all rates 0 turns them off).
    pub fn set_random_faults(&mut self, spec: RandomFaults) {
        let rng = StdRng::seed_from_u64(spec.seed);
        self.random = Some((spec, rng));
    }

    pub fn rate_limits(&self) -> RateLimitStats {
        self.limits.clone()
    }

    /// Counts a request and takes the first queued fault it matches, if any (no client: no
    /// rate-limit windows, no random faults).
    pub fn record(&mut self, method: &str, path: &str) -> Option<Fault> {
        *self.counts.entry(method.to_string()).or_default() += 1;
        self.queued(method, path)
    }

    /// Counts a request from `client` (its `Authorization` header) and decides its fault: `429`
    /// inside the client's rate-limit window, else the first queued fault it matches, else a
    /// random one. A fault with `Retry-After` opens (or extends) the client's window.
    pub fn record_from(&mut self, client: &str, method: &str, path: &str) -> Option<Fault> {
        self.record_at(client, method, path, Instant::now())
    }

    fn record_at(&mut self, client: &str, method: &str, path: &str, now: Instant) -> Option<Fault> {
        *self.counts.entry(method.to_string()).or_default() += 1;
        if let Some(window) = self.windows.get(client).copied()
            && now < window.until
        {
            if now.duration_since(window.announced) < IN_FLIGHT {
                self.limits.in_flight += 1;
            } else {
                self.limits.early += 1;
            }
            let left = (window.until - now).as_secs_f64().ceil().max(1.0) as u64;
            let fault = fault(method, path, 429, false, Some(left.to_string()));
            self.open_window(client, &fault, now);
            return Some(fault);
        }
        let fault = self
            .queued(method, path)
            .or_else(|| self.random(method, path))?;
        self.open_window(client, &fault, now);
        Some(fault)
    }

    fn queued(&mut self, method: &str, path: &str) -> Option<Fault> {
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

    fn random(&mut self, method: &str, path: &str) -> Option<Fault> {
        let (spec, rng) = self.random.as_mut()?;
        let retry_after = match spec.retry_after_date {
            true => {
                httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(spec.retry_after))
            }
            false => spec.retry_after.to_string(),
        };
        let draw: f64 = rng.random();
        let status = [500, 502, 503, 504][rng.random_range(0..4)];
        if draw < spec.rate_429 {
            return Some(fault(method, path, 429, false, Some(retry_after)));
        }
        if draw < spec.rate_429 + spec.rate_5xx {
            let retry_after = (status == 503).then_some(retry_after);
            return Some(fault(method, path, status, false, retry_after));
        }
        let write = !method.eq_ignore_ascii_case("GET");
        if write && draw < spec.rate_429 + spec.rate_5xx + spec.rate_commit {
            return Some(fault(method, path, 500, true, None));
        }
        None
    }

    /// Opens the window a fault's `Retry-After` announces, ending when the header says.
    fn open_window(&mut self, client: &str, fault: &Fault, now: Instant) {
        let Some(wait) = fault.retry_after.as_deref().and_then(announced_wait) else {
            return;
        };
        self.limits.windows += 1;
        let window = self.windows.entry(client.to_string()).or_insert(Window {
            announced: now,
            until: now,
        });
        if window.until <= now {
            window.announced = now;
        }
        window.until = window.until.max(now + wait);
    }
}

/// Who sent a request: its `Authorization` header (the services rate-limit per user).
pub fn client_of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn fault(
    method: &str,
    path: &str,
    status: u16,
    commit: bool,
    retry_after: Option<String>,
) -> Fault {
    Fault {
        method: method.to_string(),
        path: path.to_string(),
        status,
        times: 1,
        commit,
        retry_after,
        hang: None,
    }
}

/// The wait a `Retry-After` value announces (RFC 9110 §10.2.3: delay seconds or an HTTP date);
/// `None` for no wait.
fn announced_wait(value: &str) -> Option<Duration> {
    let wait = match value.trim().parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(SystemTime::now())
            .ok()?,
    };
    (!wait.is_zero()).then_some(wait)
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
            hang: None,
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

    #[test]
    fn random_faults_follow_their_seed_and_rates() {
        let spec = RandomFaults {
            seed: 7,
            rate_429: 0.2,
            rate_5xx: 0.1,
            rate_commit: 0.05,
            retry_after: 1,
            retry_after_date: false,
        };
        let draws = |spec: &RandomFaults| {
            let mut traffic = Traffic::default();
            traffic.set_random_faults(spec.clone());
            (0..2000)
                .map(|_| traffic.random("PUT", "/x").map(|f| (f.status, f.commit)))
                .collect::<Vec<_>>()
        };
        let first = draws(&spec);
        assert_eq!(first, draws(&spec), "the same seed, the same faults");
        let share = |keep: &dyn Fn(&(u16, bool)) -> bool| {
            first.iter().flatten().filter(|f| keep(f)).count() as f64 / 2000.0
        };
        assert!((share(&|f| f.0 == 429) - 0.2).abs() < 0.03);
        assert!((share(&|f| f.0 >= 500 && !f.1) - 0.1).abs() < 0.03);
        assert!((share(&|f| f.1) - 0.05).abs() < 0.02);
        let mut reads = Traffic::default();
        reads.set_random_faults(RandomFaults {
            rate_429: 0.0,
            rate_5xx: 0.0,
            rate_commit: 1.0,
            ..spec
        });
        assert!(reads.random("GET", "/x").is_none(), "reads never commit");
    }

    #[test]
    fn a_retry_after_window_holds_its_client_and_counts_early_requests() {
        let mut traffic = Traffic::default();
        traffic.set_faults(vec![Fault {
            method: "*".into(),
            path: "/".into(),
            status: 429,
            times: 1,
            commit: false,
            retry_after: Some("3".into()),
            hang: None,
        }]);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let limited = traffic.record_at("bot", "GET", "/a", at(0)).unwrap();
        assert_eq!(
            (limited.status, limited.retry_after.as_deref()),
            (429, Some("3"))
        );
        // On the wire before the client could read the 429: refused, counted as in flight.
        let in_flight = traffic.record_at("bot", "PUT", "/b", at(10)).unwrap();
        assert_eq!((in_flight.status, in_flight.commit), (429, false));
        assert_eq!(
            in_flight.retry_after.as_deref(),
            Some("3"),
            "the time left, rounded up"
        );
        // Sent after the client was told: early, refused with the time still left.
        let early = traffic.record_at("bot", "GET", "/c", at(2_500)).unwrap();
        assert_eq!(
            (early.status, early.retry_after.as_deref()),
            (429, Some("1"))
        );
        assert!(
            traffic
                .record_at("person", "GET", "/d", at(2_600))
                .is_none(),
            "other clients pass"
        );
        assert!(
            traffic.record_at("bot", "GET", "/e", at(3_600)).is_none(),
            "the window is over"
        );
        let stats = traffic.rate_limits();
        assert_eq!((stats.early, stats.in_flight, stats.windows), (1, 1, 3));
        assert_eq!(traffic.counts["GET"], 4);
    }

    #[test]
    fn announced_waits_in_seconds_and_dates() {
        assert_eq!(announced_wait("2"), Some(Duration::from_secs(2)));
        assert_eq!(announced_wait("0"), None);
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        assert!(announced_wait(&date).is_some_and(|w| w > Duration::from_secs(28)));
        assert_eq!(announced_wait("Sun, 06 Nov 1994 08:49:37 GMT"), None);
    }
}
