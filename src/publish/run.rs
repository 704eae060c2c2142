//! Executes a plan for any target: writes in waves by depth (parents before children), each wave
//! with bounded concurrency, every job to its end even when others fail; prunes only when every
//! write succeeded, children first; each outcome recorded in the report. Steps the plan blocked
//! (a foreign page holds the title) are not attempted and count as failures. Progress is a bar on a
//! terminal, one plain line per job in CI and when output is not a terminal. The flow
//! (`publish::target`) supplies the [`Writer`]: how to write one step and how to remove one page.

use std::future::Future;
use std::io::IsTerminal;

use futures_util::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};

use super::failure::Failure;
use super::plan::{Action, Plan, Skip};
use super::report::{Outcome, PageReport, Reason, TargetReport};

/// What one job came to.
#[derive(Debug)]
pub enum JobResult {
    Done {
        id: String,
        version: u64,
        /// The receipt file written.
        receipt: Option<String>,
    },
    Failed(Failure),
    /// The remote page changed under us (someone edited it); left alone.
    Drifted(String),
    /// Not attempted, and why (its parent failed, a foreign page holds its title, a prune after
    /// a failure). A skip fails the run.
    Skipped(Skip),
}

impl JobResult {
    /// The step made version `version` of remote page `id`.
    pub fn done(id: impl Into<String>, version: u64) -> JobResult {
        JobResult::Done {
            id: id.into(),
            version,
            receipt: None,
        }
    }
}

/// What executing a plan asks of a target (`target::Target`, through the flow). Jobs run concurrently on the caller's task (never
/// spawned), so their futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Writer {
    /// Carries out a create, update, move or archive step (an index into `plan.steps`).
    async fn write(&self, step: usize) -> JobResult;
    /// Archives or deletes the page of a prune step.
    async fn prune(&self, step: usize) -> JobResult;
}

/// Executes `plan`'s writes, then its prunes unless anything failed, recording each outcome in
/// `report.pages` (which is parallel to `plan.steps`).
pub async fn execute(
    plan: &Plan,
    report: &mut TargetReport,
    writer: &impl Writer,
    concurrency: usize,
    mode: ProgressMode,
) {
    let writes: Vec<(usize, usize)> = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.blocked.is_none()
                && matches!(
                    s.action,
                    Action::Create | Action::Update | Action::Move | Action::Archive
                )
        })
        .map(|(i, s)| (s.depth, i))
        .collect();
    let prunes: Vec<usize> = (0..plan.steps.len())
        .filter(|&i| plan.steps[i].action == Action::Prune)
        .collect();
    let blocked: Vec<(usize, JobResult)> = plan
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, JobResult::Skipped(s.blocked.clone()?))))
        .collect();
    let progress = Progress::new(mode, writes.len() + prunes.len(), report.target);
    for (i, result) in &blocked {
        progress.done(
            &progress_line(plan.steps[*i].action, &report.pages[*i], result),
            true,
        );
    }
    let pages = &report.pages;
    // A failure that stops the run (a spent allowance): jobs not started yet are skipped.
    let stopped = std::sync::OnceLock::<&'static str>::new();
    let mut results = in_waves(writes, concurrency, |i| {
        let (progress, stopped) = (&progress, &stopped);
        async move {
            let result = match stopped.get() {
                Some(why) => JobResult::Skipped(Skip::RunStopped {
                    why: why.to_string(),
                }),
                None => super::retry::per_page(writer.write(i)).await,
            };
            if let JobResult::Failed(failure) = &result
                && let Some(why) = failure.stops_run()
            {
                let _ = stopped.set(why);
            }
            progress.done(
                &progress_line(plan.steps[i].action, &pages[i], &result),
                !matches!(result, JobResult::Done { .. }),
            );
            (i, result)
        }
    })
    .await;
    results.extend(blocked);
    let failures = results
        .iter()
        .filter(|(_, r)| !matches!(r, JobResult::Done { .. }))
        .count();
    let results = if failures > 0 {
        prunes
            .into_iter()
            .map(|i| (i, JobResult::Skipped(Skip::NotPruned { failures })))
            .chain(results)
            .collect()
    } else {
        let deepest = prunes
            .iter()
            .map(|&i| plan.steps[i].depth)
            .max()
            .unwrap_or(0);
        let jobs = prunes
            .iter()
            .map(|&i| (deepest - plan.steps[i].depth, i))
            .collect();
        let pruned = in_waves(jobs, concurrency, |i| {
            let progress = &progress;
            async move {
                let result = super::retry::per_page(writer.prune(i)).await;
                progress.done(
                    &progress_line(Action::Prune, &pages[i], &result),
                    !matches!(result, JobResult::Done { .. }),
                );
                (i, result)
            }
        })
        .await;
        results.into_iter().chain(pruned).collect::<Vec<_>>()
    };
    progress.finish();
    for (i, result) in results {
        apply(&mut report.pages[i], result);
    }
}

fn progress_line(action: Action, page: &PageReport, result: &JobResult) -> String {
    let (scope, title) = (&page.scope, &page.title);
    match result {
        JobResult::Done { id, version, .. } => {
            format!("{} {scope}/{title} ({id} v{version})", action.past())
        }
        JobResult::Failed(e) => {
            format!("FAILED {} {scope}/{title}: {}", action.name(), e.message())
        }
        JobResult::Drifted(why) => format!("drifted {scope}/{title}: {why}"),
        JobResult::Skipped(why) => format!(
            "skipped {} {scope}/{title}: {}",
            action.name(),
            why.message()
        ),
    }
}

fn apply(page: &mut PageReport, result: JobResult) {
    match result {
        JobResult::Done {
            id,
            version,
            receipt,
        } => {
            page.outcome = Outcome::Done;
            page.remote_id = Some(id);
            page.version = Some(version);
            page.receipt = receipt;
        }
        JobResult::Failed(why) => {
            page.outcome = Outcome::Failed;
            page.error = Some(why.message());
            page.reason = Some(Reason::from(why));
        }
        JobResult::Drifted(why) => {
            page.action = Action::Drifted;
            page.note = Some(why);
        }
        JobResult::Skipped(why) => {
            page.outcome = Outcome::Skipped;
            page.error = Some(why.message());
            page.reason = Some(Reason::from(why));
        }
    }
}

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
async fn in_waves<J, O, F, Fut>(mut jobs: Vec<(usize, J)>, concurrency: usize, work: F) -> Vec<O>
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
