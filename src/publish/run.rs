//! Runs a target's jobs: in waves by depth (parents before children), each wave with bounded
//! concurrency, every job to its end even when others fail; and reports progress — a bar on a
//! terminal, one plain line per job in CI and when output is not a terminal.

use std::future::Future;
use std::io::IsTerminal;

use futures_util::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Bar,
    Lines,
    Silent,
}

impl ProgressMode {
    /// A bar on an interactive terminal outside CI; plain lines otherwise; nothing when quiet.
    pub fn detect(quiet: bool) -> ProgressMode {
        if quiet {
            ProgressMode::Silent
        } else if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
            ProgressMode::Bar
        } else {
            ProgressMode::Lines
        }
    }
}

/// Progress of one target's run, on stderr.
pub struct Progress {
    bar: Option<ProgressBar>,
    mode: ProgressMode,
}

impl Progress {
    pub fn new(mode: ProgressMode, total: usize, label: &str) -> Progress {
        let bar = (mode == ProgressMode::Bar && total > 0).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar
        });
        Progress { bar, mode }
    }

    /// One job finished; `line` says what happened to it. On a bar, `notable` lines (failures)
    /// are also printed above it, so they stay on screen.
    pub fn done(&self, line: &str, notable: bool) {
        match (&self.bar, self.mode) {
            (Some(bar), _) => {
                if notable {
                    bar.println(line);
                }
                bar.set_message(line.to_string());
                bar.inc(1);
            }
            (None, ProgressMode::Lines) => eprintln!("{line}"),
            _ => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs `work` on every job: jobs of lower depth first, each depth as one wave of at most
/// `concurrency` jobs at a time. Returns every output, in completion order.
pub async fn in_waves<J, O, F, Fut>(
    mut jobs: Vec<(usize, J)>,
    concurrency: usize,
    work: F,
) -> Vec<O>
where
    F: Fn(J) -> Fut,
    Fut: Future<Output = O>,
{
    jobs.sort_by_key(|(depth, _)| *depth);
    let mut outputs = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter().peekable();
    while let Some(&(depth, _)) = jobs.peek() {
        let mut wave = Vec::new();
        while let Some((_, job)) = jobs.next_if(|(d, _)| *d == depth) {
            wave.push(job);
        }
        let done: Vec<O> = stream::iter(wave.into_iter().map(&work))
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        outputs.extend(done);
    }
    outputs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn waves_run_in_depth_order_with_bounded_concurrency() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let jobs: Vec<(usize, (usize, usize))> = (0..12).map(|i| (i % 3, (i % 3, i))).collect();
        let order = in_waves(jobs, 2, |(depth, i)| {
            let (running, peak) = (&running, &peak);
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                (depth, i)
            }
        })
        .await;
        assert_eq!(order.len(), 12);
        assert!(order.windows(2).all(|w| w[0].0 <= w[1].0), "{order:?}");
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
