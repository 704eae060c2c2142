//! Watching the knowledge base: `content/`, `templates/`, `data/` and `.kb/` recursively, and the
//! root itself (for `kbpub.toml`, and for input folders created or removed later), through notify
//! with a short debounce, so that an editor's save (often a write, a rename and a metadata
//! change) arrives as one batch. Batches go to the preview thread as [`Job::Changed`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::preview::Job;

/// How long the files must be quiet before a batch is taken: long enough for one save's writes,
/// short enough that the page reloads before the writer looks at it.
pub const DEBOUNCE: Duration = Duration::from_millis(15);

/// The input folders, watched recursively while they exist.
const INPUT_DIRS: [&str; 4] = ["content", "templates", "data", ".kb"];

pub struct Watcher {
    root: PathBuf,
    debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    /// Input folders being watched.
    watching: BTreeSet<PathBuf>,
}

impl Watcher {
    /// Starts watching `root`; changes are sent to `jobs`.
    pub fn start(root: &Path, jobs: Sender<Job>) -> notify::Result<Watcher> {
        let debouncer =
            new_debouncer(
                DEBOUNCE,
                None,
                move |events: DebounceEventResult| match events {
                    Ok(events) => {
                        let paths: Vec<PathBuf> = events
                            .into_iter()
                            .filter(|e| is_change(&e.kind))
                            .flat_map(|e| e.event.paths)
                            .collect();
                        if !paths.is_empty() {
                            let _ = jobs.send(Job::Changed(paths));
                        }
                    }
                    Err(errors) => errors
                        .iter()
                        .for_each(|e| eprintln!("warning: watching files: {e}")),
                },
            )?;
        let mut watcher = Watcher {
            root: root.to_path_buf(),
            debouncer,
            watching: BTreeSet::new(),
        };
        watcher.debouncer.watch(root, RecursiveMode::NonRecursive)?;
        watcher.refresh()?;
        Ok(watcher)
    }

    /// Watches input folders that appeared since the last call and forgets those that went.
    pub fn refresh(&mut self) -> notify::Result<()> {
        for dir in INPUT_DIRS.map(|d| self.root.join(d)) {
            match (dir.is_dir(), self.watching.contains(&dir)) {
                (true, false) => {
                    self.debouncer.watch(&dir, RecursiveMode::Recursive)?;
                    self.watching.insert(dir);
                }
                (false, true) => {
                    let _ = self.debouncer.unwatch(&dir);
                    self.watching.remove(&dir);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Whether an event can mean new content: not a read (the preview's own loads open every file).
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}
