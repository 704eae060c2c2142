//! Where rendered files go. A [`Sink`] takes root-relative paths and bytes: [`Staging`] writes a
//! whole build into a sibling folder, hard-linking the files that did not change from the
//! previous build, and swaps it in atomically when the build succeeded (and removes it otherwise), [`Memory`] keeps files for the dev server, [`Discard`] keeps nothing;
//! `kbpub check` keeps only the links between pages (`check::nav::Recorder`).

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::reuse::Stamp;

pub trait Sink: Sync {
    fn write(&self, path: &str, bytes: &[u8]) -> std::io::Result<()>;

    /// [`Sink::write`] for bytes the caller is done with: a sink that keeps them saves a copy.
    fn write_owned(&self, path: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        self.write(path, &bytes)
    }

    /// A rendered page: its HTML, and the part of it that is the page's own text (`body_html`,
    /// the rendered document or section body). Sinks that store files just keep the HTML;
    /// `kbpub check` records the page's navigation links (`check::nav`).
    fn page(&self, path: &str, html: String, body_html: &str) -> std::io::Result<()> {
        let _ = body_html;
        self.write_owned(path, html.into_bytes())
    }

    /// Puts the previous output's file at `path` in this build unchanged, when it still has
    /// `stamp` (the page renders as it did then). Returns whether it did; sinks that keep no
    /// previous output never do, and the page is rendered.
    fn reuse(&self, path: &str, stamp: &Stamp) -> bool {
        let _ = (path, stamp);
        false
    }
}

/// Files kept in memory, by root-relative path.
#[derive(Default)]
pub struct Memory {
    pub files: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl Sink for Memory {
    fn write(&self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.write_owned(path, bytes.to_vec())
    }

    fn write_owned(&self, path: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        self.files
            .lock()
            .expect("memory sink lock")
            .insert(path.to_string(), bytes);
        Ok(())
    }
}

/// Accepts and drops everything.
pub struct Discard;

impl Sink for Discard {
    fn write(&self, _: &str, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
}

/// A build in progress: `.<output>.staging-<pid>` next to the output folder. Dropped without
/// [`Staging::commit`], it is removed and the output folder is untouched.
///
/// Incremental and atomic at once: a file whose bytes equal the previous output's file at the
/// same path is hard-linked from it instead of written, so a rebuild creates new files (inodes)
/// only for what changed and unchanged files keep their inode and mtime; the swap stays one
/// atomic rename. The other way, updating the output in place from a manifest with a rename per
/// file, would leave a mix of old and new files when a build is killed halfway through its
/// renames. The previous output is only ever read: a staged path is never opened for writing
/// while it may be a link (a second write to it first unlinks it), so a failed or killed build
/// cannot change it. Files the build does not write (deleted documents) are simply not in the
/// staging folder. Where a link is impossible (the previous output on another file system, no
/// hard links), the first failure turns linking off and every file is written in full.
pub struct Staging {
    target: PathBuf,
    dir: PathBuf,
    created_dirs: Mutex<HashSet<PathBuf>>,
    /// Whether unchanged files are still linked from the previous output.
    linking: AtomicBool,
    committed: bool,
}

impl Staging {
    /// Creates the staging folder, first removing any left by a build that was killed.
    pub fn new(target: &Path) -> std::io::Result<Staging> {
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        std::fs::create_dir_all(parent)?;
        let prefix = format!(".{name}.staging-");
        for entry in std::fs::read_dir(parent)?.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = parent.join(format!("{prefix}{}", std::process::id()));
        std::fs::create_dir(&dir)?;
        Ok(Staging {
            target: target.to_path_buf(),
            dir,
            created_dirs: Mutex::new(HashSet::new()),
            linking: AtomicBool::new(target.is_dir()),
            committed: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Swaps the staged build in place of the output folder in one atomic step where the
    /// platform allows (Linux `renameat2(RENAME_EXCHANGE)`), then deletes the previous build.
    pub fn commit(mut self) -> std::io::Result<()> {
        if self.target.exists() {
            exchange(&self.dir, &self.target)?;
            // `self.dir` now holds the previous build; Drop removes it.
        } else {
            std::fs::rename(&self.dir, &self.target)?;
        }
        self.committed = true;
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }

    /// Links `staged` to the previous output's `path` when that file holds exactly `bytes`.
    /// Returns whether it did; a link that fails for any reason but an existing `staged` turns
    /// linking off for the rest of the build.
    fn link_unchanged(&self, path: &str, bytes: &[u8], staged: &Path) -> bool {
        let previous = self.target.join(path);
        if !holds_exactly(&previous, bytes) {
            return false;
        }
        let linked = replacing(staged, || std::fs::hard_link(&previous, staged));
        if linked.is_err() {
            self.linking.store(false, Ordering::Relaxed);
        }
        linked.is_ok()
    }
}

/// Whether `path` is a regular file (not a link to one) whose content is `bytes`.
fn holds_exactly(path: &Path, bytes: &[u8]) -> bool {
    let same_size =
        std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64);
    same_size && std::fs::read(path).is_ok_and(|old| old == bytes)
}

/// Runs `create`, which makes a new file at `path`; when one is already there (the same path
/// written twice), removes it first, so that a file hard-linked from the previous output is
/// replaced, never written through.
fn replacing(path: &Path, create: impl Fn() -> std::io::Result<()>) -> std::io::Result<()> {
    match create() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(path)?;
            create()
        }
        result => result,
    }
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    // Two renames: there is a moment without an output folder, but never a half-written one.
    let old = a.with_extension("old");
    std::fs::rename(b, &old)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&old, a)
}

impl Staging {
    /// `path` in the staging folder, its folder created.
    fn staged(&self, path: &str) -> std::io::Result<PathBuf> {
        let full = self.dir.join(path);
        if let Some(parent) = full.parent() {
            let known = self
                .created_dirs
                .lock()
                .expect("dir cache lock")
                .contains(parent);
            if !known {
                std::fs::create_dir_all(parent)?;
                self.created_dirs
                    .lock()
                    .expect("dir cache lock")
                    .insert(parent.to_path_buf());
            }
        }
        Ok(full)
    }
}

impl Sink for Staging {
    fn reuse(&self, path: &str, stamp: &Stamp) -> bool {
        if !self.linking.load(Ordering::Relaxed) {
            return false;
        }
        let previous = self.target.join(path);
        if Stamp::of(&previous).as_ref() != Some(stamp) {
            return false;
        }
        let Ok(staged) = self.staged(path) else {
            return false;
        };
        let linked = replacing(&staged, || std::fs::hard_link(&previous, &staged));
        if linked.is_err() {
            self.linking.store(false, Ordering::Relaxed);
        }
        linked.is_ok()
    }

    fn write(&self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        let full = self.staged(path)?;
        if self.linking.load(Ordering::Relaxed) && self.link_unchanged(path, bytes, &full) {
            return Ok(());
        }
        replacing(&full, || {
            let mut file = std::fs::File::create_new(&full)?;
            file.write_all(bytes)
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_replaces_and_drop_discards() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("output");
        let first = Staging::new(&target).unwrap();
        first.write("a/old.html", b"old").unwrap();
        first.commit().unwrap();
        assert!(target.join("a/old.html").exists());

        let failed = Staging::new(&target).unwrap();
        failed.write("new.html", b"new").unwrap();
        drop(failed);
        assert!(target.join("a/old.html").exists());
        assert!(!target.join("new.html").exists());

        let second = Staging::new(&target).unwrap();
        second.write("new.html", b"new").unwrap();
        second.commit().unwrap();
        assert!(target.join("new.html").exists());
        assert!(
            !target.join("a/old.html").exists(),
            "files of the previous build do not linger"
        );
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("output")]);
    }

    #[test]
    fn a_second_write_to_a_linked_path_never_writes_through_the_link() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("output");
        let first = Staging::new(&target).unwrap();
        first.write("page.html", b"same").unwrap();
        first.commit().unwrap();

        let second = Staging::new(&target).unwrap();
        second.write("page.html", b"same").unwrap(); // linked: unchanged
        second.write("page.html", b"changed").unwrap();
        assert_eq!(std::fs::read(target.join("page.html")).unwrap(), b"same");
        second.commit().unwrap();
        assert_eq!(std::fs::read(target.join("page.html")).unwrap(), b"changed");
    }
}
