//! Git history for verifying approvals: which commit added, changed or deleted each approval
//! record and who authored it, who authored or committed each change to documents and templates
//! (following renames), when each commit was made, which commit is an ancestor of which, and what
//! is not committed yet. A few git processes serve the whole site, however large (one
//! `rev-parse`, one `rev-list`, one `log`, one `status`). A shallow clone is an error that tells
//! CI to fetch full history: without it, nothing can be verified.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};

use super::git;
use crate::diag::Diagnostic;

/// The folders whose history matters: documents, the site's templates, approval records.
const PATHS: [&str; 3] = ["content", "templates", ".kb"];

/// A commit that touched one of [`PATHS`].
#[derive(Debug, Clone)]
pub struct Commit {
    pub id: String,
    /// Lower-case e-mail addresses.
    pub author: String,
    pub committer: String,
    /// The committer date, as git recorded it.
    pub time: DateTime<Utc>,
    /// Index in the commit graph.
    node: usize,
}

impl Commit {
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(10)]
    }
}

/// A commit as plain data, for [`History::from_commits`].
#[cfg(test)]
pub(crate) struct CommitData<'a> {
    pub id: &'a str,
    pub parents: &'a [&'a str],
    pub author: &'a str,
    pub committer: &'a str,
    pub time: DateTime<Utc>,
    /// The files it changed, root-relative.
    pub changes: &'a [(ChangeKind, &'a str)],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One commit's change to one file.
#[derive(Debug, Clone, Copy)]
pub struct Change {
    pub commit: usize,
    pub kind: ChangeKind,
}

/// A file moved (`git mv`, or a delete and add git's rename detection pairs up).
#[derive(Debug, Clone)]
struct Rename {
    from: String,
    to: String,
    commit: usize,
}

#[derive(Debug)]
pub struct History {
    /// The commit evaluated (HEAD).
    pub head: String,
    pub commits: Vec<Commit>,
    /// Root-relative path -> the commits that changed it.
    changes: HashMap<String, Vec<Change>>,
    renames: Vec<Rename>,
    graph: Graph,
    /// Root-relative paths with changes that are not committed (staged, unstaged or untracked).
    uncommitted: HashSet<String>,
}

impl History {
    /// Reads the history of the repository holding `root` (the knowledge base folder).
    pub fn read(root: &Path) -> Result<History, Diagnostic> {
        let info = git::run_text(root, &["rev-parse", "--is-shallow-repository", "--show-prefix", "--verify", "HEAD"]).map_err(|d| {
            Diagnostic::error("no-history", format!("cannot read the git history of the knowledge base: {}", d.message))
                .help("approvals are verified from git history: run kbpub inside the knowledge base's git repository, with at least one commit")
        })?;
        let mut lines = info.lines();
        let shallow = lines.next() == Some("true");
        let prefix = lines.next().unwrap_or("").to_string();
        let head = lines.next().unwrap_or("").to_string();
        if shallow {
            return Err(Diagnostic::error("shallow-clone", "this is a shallow clone: approvals cannot be verified without the full git history")
                .help("fetch the full history first: `git fetch --unshallow`; in GitHub Actions use `actions/checkout` with `fetch-depth: 0`"));
        }
        let graph = Graph::parse(&git::run_text(
            root,
            &[
                "rev-list",
                "--date-order",
                "--parents",
                "--timestamp",
                "HEAD",
            ],
        )?);
        // Rename detection (-M) lets a document's authors follow it across moves; for records a
        // move is a deletion and an addition all the same.
        let mut args = vec![
            "log",
            "-z",
            "--full-history",
            "-M",
            "--diff-merges=dense-combined",
            "--name-status",
            "--format=%x1e%H%x1f%ae%x1f%ce",
            "--relative",
            "HEAD",
            "--",
        ];
        args.extend(PATHS);
        let log = git::run_text(root, &args)?;
        let mut status_args = vec![
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--",
        ];
        status_args.extend(PATHS);
        let status = git::run_text(root, &status_args)?;
        let mut history = History {
            head,
            commits: Vec::new(),
            changes: HashMap::new(),
            renames: Vec::new(),
            graph,
            uncommitted: HashSet::new(),
        };
        history.parse_log(&log)?;
        history.uncommitted = parse_status(&status, &prefix);
        Ok(history)
    }

    /// A history from commits as data, newest first (children before parents, as `git rev-list
    /// --date-order` lists them), without git: for tests of the approval decision.
    #[cfg(test)]
    pub(crate) fn from_commits(commits: &[CommitData], uncommitted: &[&str]) -> History {
        let rev_list: Vec<String> = commits
            .iter()
            .map(|c| {
                let mut line = format!("{} {}", c.time.timestamp(), c.id);
                for parent in c.parents {
                    line.push(' ');
                    line.push_str(parent);
                }
                line
            })
            .collect();
        let log: String = commits
            .iter()
            .map(|c| {
                let files: String = c
                    .changes
                    .iter()
                    .map(|(kind, path)| {
                        let status = match kind {
                            ChangeKind::Added => 'A',
                            ChangeKind::Modified => 'M',
                            ChangeKind::Deleted => 'D',
                        };
                        format!("{status}\0{path}\0")
                    })
                    .collect();
                format!("\x1e{}\x1f{}\x1f{}\0{files}", c.id, c.author, c.committer)
            })
            .collect();
        let mut history = History {
            head: commits
                .first()
                .map(|c| c.id.to_string())
                .unwrap_or_default(),
            commits: Vec::new(),
            changes: HashMap::new(),
            renames: Vec::new(),
            graph: Graph::parse(&rev_list.join("\n")),
            uncommitted: uncommitted.iter().map(|p| p.to_string()).collect(),
        };
        history
            .parse_log(&log)
            .expect("every commit is in the graph");
        history
    }

    fn parse_log(&mut self, log: &str) -> Result<(), Diagnostic> {
        for entry in log.split('\x1e').filter(|e| !e.is_empty()) {
            let (header, files) = entry.split_once('\0').unwrap_or((entry, ""));
            let fields: Vec<&str> = header.split('\x1f').collect();
            let [id, author, committer] = fields[..] else {
                return Err(Diagnostic::error(
                    "git",
                    format!("unexpected `git log` output: {header:?}"),
                ));
            };
            let Some(&node) = self.graph.index.get(id) else {
                return Err(Diagnostic::error(
                    "git",
                    format!("`git log` names commit {id}, which `git rev-list HEAD` did not list"),
                ));
            };
            let commit = self.commits.len();
            self.commits.push(Commit {
                id: id.to_string(),
                author: author.to_lowercase(),
                committer: committer.to_lowercase(),
                time: self.graph.time(node),
                node,
            });
            let mut tokens = files
                .trim_start_matches('\n')
                .split('\0')
                .filter(|t| !t.is_empty());
            while let (Some(status), Some(path)) = (tokens.next(), tokens.next()) {
                // `R086 old new`; merges' combined statuses (`MM`) name one path.
                let renamed =
                    status.starts_with('R') && status[1..].bytes().all(|b| b.is_ascii_digit());
                if renamed && let Some(to) = tokens.next() {
                    self.record(path, commit, ChangeKind::Deleted);
                    self.record(to, commit, ChangeKind::Added);
                    self.renames.push(Rename {
                        from: path.to_string(),
                        to: to.to_string(),
                        commit,
                    });
                    continue;
                }
                let kind = match status.as_bytes().first() {
                    Some(b'A') => ChangeKind::Added,
                    Some(b'D') => ChangeKind::Deleted,
                    _ => ChangeKind::Modified,
                };
                self.record(path, commit, kind);
            }
        }
        Ok(())
    }

    fn record(&mut self, path: &str, commit: usize, kind: ChangeKind) {
        self.changes
            .entry(path.to_string())
            .or_default()
            .push(Change { commit, kind });
    }

    /// The commits that changed `path`, oldest first.
    pub fn changes_to(&self, path: &str) -> Vec<Change> {
        let mut changes = self.changes.get(path).cloned().unwrap_or_default();
        changes.sort_by_key(|c| std::cmp::Reverse(self.order(c.commit)));
        changes
    }

    /// Every committed path under `dir` (root-relative, `/`-separated), sorted.
    pub fn paths_under(&self, dir: &str) -> Vec<&str> {
        let prefix = format!("{dir}/");
        let mut paths: Vec<&str> = self
            .changes
            .keys()
            .filter(|p| p.starts_with(&prefix))
            .map(String::as_str)
            .collect();
        paths.sort_unstable();
        paths
    }

    /// The commits that changed a document now at `path`, following it back through renames,
    /// and through the earlier paths in `earlier` (a path and a commit the document was at that
    /// path in, e.g. from its approval records): a change to an earlier path counts when it is
    /// an ancestor of the commit that moved the document away from it.
    pub fn document_changes(&self, path: &str, earlier: &[(String, usize)]) -> Vec<usize> {
        let mut todo: Vec<(String, Option<usize>)> = vec![(path.to_string(), None)];
        todo.extend(earlier.iter().map(|(p, c)| (p.clone(), Some(*c))));
        let mut seen = HashSet::new();
        let mut commits = Vec::new();
        while let Some((path, until)) = todo.pop() {
            if !seen.insert((path.clone(), until)) {
                continue;
            }
            let within = |c: usize| until.is_none_or(|u| self.is_ancestor(c, u));
            commits.extend(
                self.changes
                    .get(&path)
                    .into_iter()
                    .flatten()
                    .map(|c| c.commit)
                    .filter(|&c| within(c)),
            );
            todo.extend(
                self.renames
                    .iter()
                    .filter(|r| r.to == path && within(r.commit))
                    .map(|r| (r.from.clone(), Some(r.commit))),
            );
        }
        commits.sort_unstable();
        commits.dedup();
        commits
    }

    /// Topological position in commit-date order: smaller is newer (HEAD is 0); an ancestor
    /// is always larger, and of two commits on diverging branches the one committed later is
    /// smaller.
    pub fn order(&self, commit: usize) -> usize {
        self.commits[commit].node
    }

    /// Is commit `a` an ancestor of commit `b` (or `b` itself)?
    pub fn is_ancestor(&self, a: usize, b: usize) -> bool {
        self.graph
            .is_ancestor(self.commits[a].node, self.commits[b].node)
    }

    /// The latest time commit `commit` can have been made: its own date, or the date of a
    /// commit built on it when that is earlier (a commit dated ahead of the commits made on top
    /// of it cannot keep anything alive beyond them).
    pub fn effective_time(&self, commit: usize) -> DateTime<Utc> {
        self.graph.effective_time(self.commits[commit].node)
    }

    pub fn is_uncommitted(&self, path: &str) -> bool {
        self.uncommitted.contains(path)
    }
}

/// The commit graph reachable from HEAD, nodes in commit-date order (children before parents).
#[derive(Debug, Default)]
struct Graph {
    index: HashMap<String, usize>,
    parents: Vec<Vec<usize>>,
    /// Committer dates (seconds since the epoch).
    time: Vec<i64>,
    /// The earliest date of the commit and every commit built on it.
    effective: Vec<i64>,
    /// Longest path to a root: a parent's generation is always lower than its child's.
    generation: Vec<u32>,
    /// Position on HEAD's first-parent chain (0 = HEAD), when the commit is on it.
    first_parent: Vec<Option<u32>>,
}

impl Graph {
    /// Parses `git rev-list --date-order --parents --timestamp HEAD` (`time id parents...`).
    fn parse(text: &str) -> Graph {
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
        let index: HashMap<String, usize> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (l.get(1).copied().unwrap_or_default().to_string(), i))
            .collect();
        let time: Vec<i64> = lines.iter().map(|l| l[0].parse().unwrap_or(0)).collect();
        let parents: Vec<Vec<usize>> = lines
            .iter()
            .map(|l| {
                l.iter()
                    .skip(2)
                    .filter_map(|p| index.get(*p).copied())
                    .collect()
            })
            .collect();
        let mut effective = time.clone();
        for node in 0..parents.len() {
            for &p in &parents[node] {
                effective[p] = effective[p].min(effective[node]);
            }
        }
        let mut generation = vec![0u32; parents.len()];
        for node in (0..parents.len()).rev() {
            generation[node] = parents[node]
                .iter()
                .map(|&p| generation[p] + 1)
                .max()
                .unwrap_or(0);
        }
        let mut first_parent = vec![None; parents.len()];
        let (mut node, mut position) = (Some(0).filter(|_| !parents.is_empty()), 0u32);
        while let Some(n) = node {
            first_parent[n] = Some(position);
            position += 1;
            node = parents[n].first().copied();
        }
        Graph {
            index,
            parents,
            time,
            effective,
            generation,
            first_parent,
        }
    }

    fn time(&self, node: usize) -> DateTime<Utc> {
        DateTime::from_timestamp(self.time[node], 0).unwrap_or_default()
    }

    fn effective_time(&self, node: usize) -> DateTime<Utc> {
        DateTime::from_timestamp(self.effective[node], 0).unwrap_or_default()
    }

    fn is_ancestor(&self, a: usize, b: usize) -> bool {
        if a == b {
            return true;
        }
        if self.generation[a] >= self.generation[b] {
            return false;
        }
        if let (Some(pa), Some(pb)) = (self.first_parent[a], self.first_parent[b]) {
            return pa > pb;
        }
        // Walk back from `b`, never below `a`'s generation.
        let mut seen = HashSet::from([b]);
        let mut stack = vec![b];
        while let Some(n) = stack.pop() {
            for &p in &self.parents[n] {
                if p == a {
                    return true;
                }
                if self.generation[p] > self.generation[a] && seen.insert(p) {
                    stack.push(p);
                }
            }
        }
        false
    }
}

/// Paths (made root-relative) that `git status --porcelain=v1 -z` reports.
fn parse_status(status: &str, prefix: &str) -> HashSet<String> {
    let mut paths = HashSet::new();
    let mut tokens = status.split('\0').filter(|t| !t.is_empty());
    while let Some(entry) = tokens.next() {
        let (code, path) = entry.split_at(entry.len().min(3));
        paths.insert(path.strip_prefix(prefix).unwrap_or(path).to_string());
        if (code.contains('R') || code.contains('C'))
            && let Some(from) = tokens.next()
        {
            paths.insert(from.strip_prefix(prefix).unwrap_or(from).to_string());
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestry_follows_merges_and_first_parents() {
        // m merges b (a branch off a) into c; d is on the branch.
        //   a - c - m
        //    \- d -/
        let graph = Graph::parse("40 m c d\n30 d a\n20 c a\n10 a\n");
        let [m, d, c, a] = [0, 1, 2, 3];
        assert!(graph.is_ancestor(a, m) && graph.is_ancestor(c, m) && graph.is_ancestor(d, m));
        assert!(!graph.is_ancestor(d, c) && !graph.is_ancestor(c, d) && !graph.is_ancestor(m, a));
        assert!(graph.is_ancestor(a, d));
    }

    #[test]
    fn a_commit_is_no_later_than_the_commits_built_on_it() {
        // c claims a date after the merge m built on it.
        let graph = Graph::parse("40 m c d\n30 d a\n99 c a\n10 a\n");
        assert_eq!(graph.effective[2], 40);
        assert_eq!(graph.effective[1], 30);
        assert_eq!(graph.effective[3], 10);
    }

    #[test]
    fn status_paths_are_made_relative_to_the_knowledge_base() {
        let paths = parse_status(
            " M kb/content/a.md\0?? kb/.kb/approvals/x/y.toml\0R  kb/content/new.md\0kb/content/old.md\0",
            "kb/",
        );
        let mut paths: Vec<String> = paths.into_iter().collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                ".kb/approvals/x/y.toml",
                "content/a.md",
                "content/new.md",
                "content/old.md"
            ]
        );
    }
}
