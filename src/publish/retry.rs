//! When to retry a request and how long to wait, shared by every publish target: 429 waits for
//! `Retry-After` (seconds or an HTTP date, parsed by `data::client`) plus jitter, up to a cap; 5xx and transport errors are
//! retried only for requests that are safe to repeat, with capped exponential backoff and full
//! jitter; every wait is paid from one budget for the whole run, so a sick server cannot hold CI.

use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first one included.
    pub max_attempts: u32,
    /// First backoff step for 5xx and transport errors.
    pub base: Duration,
    /// The longest single wait; a `Retry-After` beyond it is not waited for.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(60),
        }
    }
}

/// What went wrong with one attempt.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// An HTTP status, with the server's `Retry-After` if it sent one.
    Status(u16, Option<Duration>),
    /// No answer (connection refused or reset, timeout): the request may or may not have landed.
    Transport,
}

/// The verdict on a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Wait(Duration),
    GiveUp(String),
}

impl RetryPolicy {
    /// Decides after attempt number `attempt` (1-based) failed. `safe`: repeating the request
    /// cannot do anything twice (reads, versioned updates, idempotent adds and deletes).
    pub fn verdict(&self, attempt: u32, failure: Failure, safe: bool) -> Verdict {
        if attempt >= self.max_attempts {
            return Verdict::GiveUp(format!("gave up after {attempt} attempts"));
        }
        match failure {
            Failure::Status(429, retry_after) => {
                let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
                let wait = wait + jitter(wait / 10);
                if wait > self.cap {
                    Verdict::GiveUp(format!(
                        "rate limited: the server asked to wait {}s, over the {}s cap",
                        wait.as_secs(),
                        self.cap.as_secs()
                    ))
                } else {
                    Verdict::Wait(wait)
                }
            }
            Failure::Status(_, retry_after) if safe && is_transient(failure) => Verdict::Wait(
                retry_after
                    .filter(|d| *d <= self.cap)
                    .unwrap_or_else(|| jitter(self.backoff(attempt))),
            ),
            Failure::Transport if safe => Verdict::Wait(jitter(self.backoff(attempt))),
            Failure::Status(status, _) if is_transient(failure) => Verdict::GiveUp(format!(
                "HTTP {status}, not retried: the request may have been applied"
            )),
            Failure::Transport => {
                Verdict::GiveUp("no answer, not retried: the request may have been applied".into())
            }
            Failure::Status(status, _) => Verdict::GiveUp(format!("HTTP {status}")),
        }
    }

    /// `base * 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(self.cap)
    }
}

fn is_transient(failure: Failure) -> bool {
    matches!(
        failure,
        Failure::Status(500 | 502 | 503 | 504, _) | Failure::Transport
    )
}

/// A uniformly random duration in `0..=max` (full jitter).
fn jitter(max: Duration) -> Duration {
    let millis = max.as_millis().min(u64::MAX as u128) as u64;
    Duration::from_millis(rand::random_range(0..=millis))
}

/// The total time one run may spend waiting between retries, shared by all its requests.
#[derive(Debug)]
pub struct Budget {
    remaining: Mutex<Duration>,
}

impl Budget {
    pub fn new(total: Duration) -> Budget {
        Budget {
            remaining: Mutex::new(total),
        }
    }

    /// Takes `wait` from the budget; false (and nothing taken) when there is not enough left.
    pub fn take(&self, wait: Duration) -> bool {
        let mut remaining = self.remaining.lock().unwrap_or_else(|e| e.into_inner());
        match remaining.checked_sub(wait) {
            Some(left) => {
                *remaining = left;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
        }
    }

    #[test]
    fn rate_limits_wait_for_retry_after_with_jitter_up_to_the_cap() {
        let p = policy();
        let two = Duration::from_secs(2);
        match p.verdict(1, Failure::Status(429, Some(two)), false) {
            Verdict::Wait(d) => assert!(d >= two && d <= two + two / 10, "{d:?}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p.verdict(1, Failure::Status(429, Some(Duration::from_secs(60))), true),
            Verdict::GiveUp(m) if m.contains("over the 10s cap")
        ));
    }

    #[test]
    fn server_errors_retry_only_when_safe() {
        let p = policy();
        assert!(
            matches!(p.verdict(1, Failure::Status(503, None), true), Verdict::Wait(d) if d <= Duration::from_millis(100))
        );
        assert!(
            matches!(p.verdict(3, Failure::Status(502, None), true), Verdict::Wait(d) if d <= Duration::from_millis(400))
        );
        assert!(matches!(
            p.verdict(1, Failure::Status(500, None), false),
            Verdict::GiveUp(_)
        ));
        assert!(matches!(
            p.verdict(1, Failure::Transport, false),
            Verdict::GiveUp(_)
        ));
        assert!(matches!(
            p.verdict(1, Failure::Status(400, None), true),
            Verdict::GiveUp(_)
        ));
        assert!(
            matches!(p.verdict(4, Failure::Status(503, None), true), Verdict::GiveUp(m) if m.contains("4 attempts"))
        );
    }

    #[test]
    fn the_budget_is_shared_and_never_overdrawn() {
        let b = Budget::new(Duration::from_secs(3));
        assert!(b.take(Duration::from_secs(2)));
        assert!(!b.take(Duration::from_secs(2)));
        assert!(b.take(Duration::from_secs(1)));
    }
}
