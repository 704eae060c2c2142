//! When to retry a request and how long to wait, for every request kbpub sends (data pull and
//! publish targets): `429` for any method (the server refused before acting) waits for
//! `Retry-After` (seconds or an HTTP date) up to a cap, else backs off; 5xx, transport errors and
//! a success whose body is not what the endpoint promises are retried only for requests that are
//! safe to repeat, with capped exponential backoff and jitter. Every wait is paid from the run's
//! [`Budget`] (total waiting time, or a deadline) and every retry from its page's retry allowance
//! ([`per_page`]), so a sick server can neither hold CI nor let one page starve the others.

use std::cell::Cell;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first one included.
    pub max_attempts: u32,
    /// First backoff step.
    pub base: Duration,
    /// The longest single wait; a `Retry-After` beyond it is not waited for.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(60),
        }
    }
}

/// What went wrong with one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// An HTTP status, with the server's `Retry-After` if it sent one.
    Status(u16, Option<Duration>),
    /// No answer (connection refused or reset, timeout): the request may or may not have landed.
    Transport,
    /// A success status whose body is not what the endpoint answers (a proxy's HTML page).
    BadBody,
}

/// The verdict on a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Wait(Duration),
    /// Stop; `Some` says why when the status and attempt count do not.
    GiveUp(Option<String>),
    /// Worth retrying, but the request's attempts are all spent.
    Spent,
}

impl RetryPolicy {
    /// Decides after attempt number `attempt` (1-based) failed. `safe`: repeating the request
    /// cannot do anything twice (reads, versioned updates, idempotent adds and deletes).
    pub fn verdict(&self, attempt: u32, failure: Failure, safe: bool) -> Verdict {
        let transient = matches!(
            failure,
            Failure::Status(500 | 502 | 503 | 504, _) | Failure::Transport | Failure::BadBody
        );
        let retryable = matches!(failure, Failure::Status(429, _)) || (transient && safe);
        if transient && !safe {
            return Verdict::GiveUp(Some(
                "not retried: the request may have been applied".into(),
            ));
        }
        if !retryable {
            return Verdict::GiveUp(None);
        }
        if attempt >= self.max_attempts {
            return Verdict::Spent;
        }
        match failure {
            Failure::Status(_, Some(asked)) if asked > self.cap => Verdict::GiveUp(Some(format!(
                "the server asked to wait {}s, over the {}s cap",
                asked.as_secs(),
                self.cap.as_secs()
            ))),
            // The time the server asked for, and a little more so waiting clients spread out.
            Failure::Status(_, Some(asked)) => Verdict::Wait(asked + jitter(asked / 10)),
            _ => Verdict::Wait(self.backoff(attempt)),
        }
    }

    /// Exponential backoff with equal jitter: step `base * 2^(attempt-1)` (capped), the wait
    /// drawn from its upper half so retries of many clients spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let step = self
            .base
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(self.cap);
        step / 2 + jitter(step / 2)
    }
}

/// A uniformly random duration in `0..=max`.
pub fn jitter(max: Duration) -> Duration {
    let millis = max.as_millis().min(u64::MAX as u128) as u64;
    Duration::from_millis(rand::random_range(0..=millis))
}

/// `Retry-After`: delay seconds or an HTTP date (a date in the past means now).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The wait an `x-rate-limit-reset` header announces (epoch seconds when the window resets, as
/// X API v2 sends with a 429 instead of `Retry-After`); a time in the past means now.
pub fn rate_limit_reset(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let reset: u64 = headers
        .get("x-rate-limit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The waiting one run may do between retries, shared by all its requests: a total, a
/// deadline, or both.
#[derive(Debug)]
pub struct Budget {
    waits: Mutex<Option<Duration>>,
    deadline: Option<Instant>,
    /// What to tell the user when it runs out.
    name: &'static str,
}

impl Budget {
    /// At most `total` of waiting in all (a publish run).
    pub fn new(total: Duration) -> Budget {
        Budget {
            waits: Mutex::new(Some(total)),
            deadline: None,
            name: "the run's retry budget",
        }
    }

    /// Nothing sent, and no wait started, that would end after `deadline` (`[data] budget`).
    pub fn until(deadline: Instant) -> Budget {
        Budget {
            waits: Mutex::new(None),
            deadline: Some(deadline),
            name: "the time budget (`[data] budget` in kbpub.toml)",
        }
    }

    /// Time left before the deadline; `None`: no deadline.
    pub fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Takes `wait` from the budget; `Err` (and nothing taken) says why it cannot be afforded.
    pub fn take(&self, wait: Duration) -> Result<(), String> {
        if let Some(left) = self.time_left()
            && wait >= left
        {
            return Err(format!(
                "the next attempt would wait {} but only {} of {} is left",
                human(wait),
                human(left),
                self.name
            ));
        }
        let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
        match *waits {
            Some(left) if wait > left => Err(format!("{} is spent", self.name)),
            Some(left) => {
                *waits = Some(left - wait);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The error for a deadline already passed.
    pub fn spent(&self) -> String {
        format!("{} ran out", self.name)
    }
}

tokio::task_local! {
    static PAGE_RETRIES: Cell<u32>;
}

/// Tries of one write whose failure may have landed (5xx or no answer), each failure followed by a
/// read-back that counts the write done when it is found applied. Three in a row failed about once
/// in 300 writes under the soak's 15% server errors; six make that about one in a hundred thousand.
pub const WRITE_ATTEMPTS: u32 = 6;

/// Retries one page's requests may take in all, across every request written for it.
pub const PAGE_RETRIES_MAX: u32 = 24;

/// Runs `job` (one page's writes) with its own retry allowance of [`PAGE_RETRIES_MAX`].
pub async fn per_page<F: Future>(job: F) -> F::Output {
    PAGE_RETRIES.scope(Cell::new(PAGE_RETRIES_MAX), job).await
}

/// Takes one retry from the current page's allowance; false when it is spent. Requests outside
/// a page (scans, data pulls) have no page allowance.
pub(crate) fn take_page_retry() -> bool {
    PAGE_RETRIES
        .try_with(|left| match left.get() {
            0 => false,
            n => {
                left.set(n - 1);
                true
            }
        })
        .unwrap_or(true)
}

/// A duration for people: milliseconds below a second, else seconds with one decimal.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
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
    fn rate_limits_wait_for_retry_after_with_jitter_up_to_the_cap_for_any_method() {
        let p = policy();
        let two = Duration::from_secs(2);
        match p.verdict(1, Failure::Status(429, Some(two)), false) {
            Verdict::Wait(d) => assert!(d >= two && d <= two + two / 10, "{d:?}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p.verdict(1, Failure::Status(429, Some(Duration::from_secs(60))), true),
            Verdict::GiveUp(Some(m)) if m.contains("over the 10s cap")
        ));
        match p.verdict(2, Failure::Status(429, None), false) {
            Verdict::Wait(d) => assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_millis(200),
                "backoff without Retry-After: {d:?}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_errors_and_bad_bodies_retry_only_when_safe() {
        let p = policy();
        for status in [500, 502, 503, 504] {
            assert!(
                matches!(p.verdict(1, Failure::Status(status, None), true), Verdict::Wait(d) if d <= Duration::from_millis(100)),
                "{status}"
            );
        }
        assert!(matches!(
            p.verdict(1, Failure::BadBody, true),
            Verdict::Wait(_)
        ));
        assert!(
            matches!(p.verdict(3, Failure::Status(502, None), true), Verdict::Wait(d) if d >= Duration::from_millis(200) && d <= Duration::from_millis(400))
        );
        for failure in [
            Failure::Status(500, None),
            Failure::Transport,
            Failure::BadBody,
        ] {
            assert!(matches!(
                p.verdict(1, failure, false),
                Verdict::GiveUp(Some(m)) if m.contains("may have been applied")
            ));
        }
        assert_eq!(
            p.verdict(1, Failure::Status(400, None), true),
            Verdict::GiveUp(None)
        );
        assert_eq!(
            p.verdict(1, Failure::Status(401, None), true),
            Verdict::GiveUp(None)
        );
        assert_eq!(
            p.verdict(4, Failure::Status(503, None), true),
            Verdict::Spent
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        let in_two_minutes = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let wait = parse_retry_after(&in_two_minutes).unwrap();
        assert!(
            wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn x_rate_limit_reset_is_a_wait_until_that_epoch_second() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(rate_limit_reset(&headers), None);
        let in_a_minute = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            + Duration::from_secs(60);
        headers.insert("x-rate-limit-reset", in_a_minute.as_secs().into());
        let wait = rate_limit_reset(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(58) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        headers.insert("x-rate-limit-reset", 1_000_000_000u64.into());
        assert_eq!(
            rate_limit_reset(&headers),
            Some(Duration::ZERO),
            "in the past: now"
        );
    }

    #[test]
    fn the_run_budget_is_shared_and_never_overdrawn() {
        let b = Budget::new(Duration::from_secs(3));
        assert!(b.take(Duration::from_secs(2)).is_ok());
        assert!(
            b.take(Duration::from_secs(2))
                .unwrap_err()
                .contains("retry budget is spent")
        );
        assert!(b.take(Duration::from_secs(1)).is_ok());
        let deadline = Budget::until(Instant::now() + Duration::from_secs(60));
        assert!(deadline.take(Duration::from_secs(1)).is_ok());
        assert!(
            deadline
                .take(Duration::from_secs(61))
                .unwrap_err()
                .contains("`[data] budget`")
        );
    }

    #[tokio::test]
    async fn each_page_has_its_own_retry_allowance() {
        assert!(take_page_retry(), "no page: no page allowance");
        let spent = per_page(async {
            (0..PAGE_RETRIES_MAX + 1)
                .filter(|_| take_page_retry())
                .count()
        })
        .await;
        assert_eq!(spent, PAGE_RETRIES_MAX as usize);
        assert!(per_page(async { take_page_retry() }).await, "a fresh page");
    }
}
