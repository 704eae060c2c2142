//! `kbpub init [DIR]`: scaffolds a knowledge-base repository from `scaffold/` (embedded in the
//! binary): `kbpub.toml`, `content/` with a section and one document of each type, `.kb/` with a
//! starter policy and people, local data sources (pulled into their snapshots here, so the first
//! build works offline), `.gitignore`, and CI: a GitHub Actions workflow (or with `--ci gitlab` a
//! GitLab CI pipeline) that checks pull requests and on main deploys the site and publishes, with
//! `.kb/install-kbpub.sh` to install the pinned kbpub release. With `--templates` the built-in
//! templates are copied into `templates/` to customise. It never overwrites: a folder that
//! already holds a knowledge base, or any file the scaffold would write, is refused before
//! anything is written (an existing `.gitignore` gets the missing lines appended instead).

use std::path::Path;

use chrono::{DateTime, Utc};
use include_dir::{Dir, include_dir};

use crate::config::{CONFIG_FILE, Config};
use crate::content::url;
use crate::data::pull::{self, Outcome};
use crate::diag::Diagnostic;
use crate::render::templates;

static SCAFFOLD: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/scaffold");

const GITIGNORE: &str = ".gitignore";

/// The CI system `init` writes configuration for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ci {
    /// GitHub Actions: `.github/workflows/kbpub.yml`
    Github,
    /// GitLab CI: `.gitlab-ci.yml`
    Gitlab,
}

impl Ci {
    /// The file of the scaffold that configures this CI system.
    pub fn config_file(self) -> &'static str {
        match self {
            Ci::Github => ".github/workflows/kbpub.yml",
            Ci::Gitlab => ".gitlab-ci.yml",
        }
    }

    /// Whether the scaffold file at `path` belongs in a repository using this CI system: every
    /// file but the other systems' configuration.
    fn wants(self, path: &str) -> bool {
        [Ci::Github, Ci::Gitlab]
            .into_iter()
            .all(|ci| ci == self || path != ci.config_file())
    }
}

pub struct Options {
    /// The site's title.
    pub title: String,
    /// Copy the built-in templates into `templates/`.
    pub templates: bool,
    /// The CI system to configure.
    pub ci: Ci,
    /// Today, for the documents' first `review_by` dates (a year from now).
    pub now: DateTime<Utc>,
}

/// What `init` wrote, relative to the folder.
#[derive(Debug)]
pub struct Created {
    pub files: Vec<String>,
    /// `.gitignore` existed and had lines added.
    pub gitignore_merged: bool,
}

/// Scaffolds a knowledge base in `dir` (created when missing).
pub fn init(dir: &Path, options: &Options) -> Result<Created, Vec<Diagnostic>> {
    if dir.join(CONFIG_FILE).exists() {
        return Err(vec![
            Diagnostic::error(
                "already-initialised",
                format!("{} already holds a knowledge base", dir.display()),
            )
            .in_file(CONFIG_FILE)
            .help("kbpub init never overwrites: run it in a new or empty folder"),
        ]);
    }
    let files = files(options);
    let taken: Vec<&str> = files
        .iter()
        .map(|(path, _)| path.as_str())
        .filter(|path| *path != GITIGNORE && dir.join(path).exists())
        .collect();
    if !taken.is_empty() {
        return Err(taken
            .iter()
            .map(|path| {
                Diagnostic::error("would-overwrite", format!("{path} already exists"))
                    .in_file(path.to_string())
                    .help("kbpub init never overwrites: move the file away, or run it in a new or empty folder")
            })
            .collect());
    }
    let io = |path: &Path, e: std::io::Error| {
        vec![Diagnostic::error(
            "io",
            format!("cannot write {}: {e}", path.display()),
        )]
    };
    let mut created = Created {
        files: Vec::new(),
        gitignore_merged: false,
    };
    for (path, bytes) in &files {
        let target = dir.join(path);
        if path == GITIGNORE && target.exists() {
            created.gitignore_merged = merge_lines(&target, bytes).map_err(|e| io(&target, e))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&target, bytes).map_err(|e| io(&target, e))?;
        created.files.push(path.clone());
    }
    pull_snapshots(dir, &mut created)?;
    Ok(created)
}

/// The scaffold's files with their placeholders filled in, and the templates when asked.
fn files(options: &Options) -> Vec<(String, Vec<u8>)> {
    let review_by = (options.now + chrono::Duration::days(365))
        .date_naive()
        .to_string();
    let title = toml::Value::String(options.title.clone()).to_string();
    let mut files: Vec<(String, Vec<u8>)> = all_files(&SCAFFOLD)
        .into_iter()
        .filter(|file| options.ci.wants(&url::to_slash(file.path())))
        .map(|file| {
            let text = String::from_utf8_lossy(file.contents())
                .replace("@TITLE@", &title)
                .replace("@REVIEW_BY@", &review_by)
                .replace("@KBPUB_VERSION@", env!("CARGO_PKG_VERSION"));
            (url::to_slash(file.path()), text.into_bytes())
        })
        .collect();
    if options.templates {
        files.extend(
            templates::builtin()
                .into_iter()
                .map(|(path, bytes)| (format!("templates/{path}"), bytes.to_vec())),
        );
    }
    files.sort();
    files
}

fn all_files<'a>(dir: &'a Dir<'a>) -> Vec<&'a include_dir::File<'a>> {
    let mut files: Vec<&include_dir::File> = dir.files().collect();
    for sub in dir.dirs() {
        files.extend(all_files(sub));
    }
    files
}

/// Appends the scaffold's `.gitignore` lines that `existing` lacks; true when it added any.
fn merge_lines(existing: &Path, wanted: &[u8]) -> std::io::Result<bool> {
    let mut text = std::fs::read_to_string(existing)?;
    let wanted = String::from_utf8_lossy(wanted);
    let missing: Vec<&str> = wanted
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter(|l| !text.lines().any(|have| have.trim() == l.trim()))
        .collect();
    if missing.is_empty() {
        return Ok(false);
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("\n# kbpub\n");
    for line in missing {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(existing, text)?;
    Ok(true)
}

/// Pulls the scaffold's local data sources into their snapshots, as `kbpub data pull` would.
fn pull_snapshots(dir: &Path, created: &mut Created) -> Result<(), Vec<Diagnostic>> {
    let config = Config::load(dir).map_err(|d| vec![d])?;
    let reports = pull::pull(&config, &[], &|_, _| {}).map_err(|d| vec![d])?;
    for report in reports {
        match report.outcome {
            Outcome::Pulled { path, .. } => created.files.push(path),
            Outcome::KeptStale { reason, .. } | Outcome::Failed { reason } => {
                return Err(vec![Diagnostic::error(
                    "data",
                    format!(
                        "cannot pull the scaffold's data source `{}`: {reason}",
                        report.name
                    ),
                )]);
            }
        }
    }
    Ok(())
}
