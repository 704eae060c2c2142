//! `kbpub build`, `init`, `check` and `serve`: the commands that make, check and preview the site.

use std::path::PathBuf;
use std::time::Instant;

use clap::CommandFactory;

use super::args::{Audience, Cli, Deny};
use super::output::Output;
use super::{Failure, Outcome, fail, load_config, report};
use crate::approval;
use crate::diag::{self, Diagnostic, Format};

pub fn build(root: Option<PathBuf>, quiet: bool, format: Output, audience: Audience) -> Outcome {
    let started = Instant::now();
    let format = format.diagnostics();
    let config = load_config(root, format)?;
    let built = match audience {
        Audience::Internal => crate::site::build(&config, approval::banner::decorations),
        Audience::Partner => crate::site::partner::build(&config, approval::banner::decorations),
    };
    let summary = built.map_err(|diagnostics| {
        report(&diagnostics, format);
        if format == Format::Human {
            eprintln!("build failed; the previous output was left as it was");
        }
        Failure::Failed
    })?;
    report(&summary.render.warnings, format);
    if !quiet {
        let shown = summary
            .output
            .strip_prefix(std::env::current_dir().unwrap_or_default())
            .unwrap_or(&summary.output);
        let unchanged = match summary.reused {
            0 => String::new(),
            n => format!("; {n} unchanged pages kept from the previous build"),
        };
        eprintln!(
            "Built {} pages ({} files{unchanged}) in {:.2}s into {}/\nOpen {}/index.html in a browser, or run `kbpub serve`.",
            summary.render.pages,
            summary.render.files,
            started.elapsed().as_secs_f64(),
            shown.display(),
            shown.display()
        );
    }
    Ok(())
}

pub fn init(
    dir: Option<PathBuf>,
    quiet: bool,
    title: String,
    templates: bool,
    ci: crate::init::Ci,
) -> Outcome {
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    let options = crate::init::Options {
        title,
        templates,
        ci,
        now: super::approval::clock(Format::Human)?,
    };
    let created = crate::init::init(&dir, &options).map_err(|d| fail(&d, Format::Human))?;
    if !quiet {
        let merged = if created.gitignore_merged {
            " (and added kbpub's lines to .gitignore)"
        } else {
            ""
        };
        eprintln!(
            "Created a knowledge base in {}: {} files{merged}.\n\nNext:\n  cd {}\n  git init && git add -A && git commit -m \"Knowledge base\"\n  kbpub build && kbpub check\n\nThen put your reviewers in .kb/people.toml, your Confluence site in kbpub.toml ([confluence]),\nand CONFLUENCE_EMAIL and CONFLUENCE_TOKEN in your repository's CI secrets:\n{} checks every pull request; every merge to main deploys the site and publishes.",
            dir.display(),
            created.files.len(),
            dir.display(),
            ci.config_file()
        );
    }
    Ok(())
}

pub fn check(
    root: Option<PathBuf>,
    quiet: bool,
    external: bool,
    format: Output,
    deny: Option<Deny>,
    verbose: bool,
) -> Outcome {
    let format = format.diagnostics();
    let config = load_config(root, format)?;
    let outcome = crate::check::check(&config, crate::check::Options { external });
    let shown: Vec<Diagnostic> = outcome
        .diagnostics
        .iter()
        .filter(|d| !quiet || d.is_error())
        .cloned()
        .collect();
    let prefix = if format == Format::Github {
        repo_prefix(&config.root)
    } else {
        String::new()
    };
    let (shown, notes) = diag::fold_notes(shown, verbose || format == Format::Json);
    if let Err(e) = diag::emit_in(&shown, format, &prefix) {
        eprintln!("error: cannot print diagnostics: {e}");
    }
    if let (Some(notes), Format::Github) = (&notes, format) {
        println!("{}", diag::github_summary_notice(notes));
    }
    if !quiet {
        let links = outcome
            .external_links
            .map(|n| format!(" and {n} external link{}", if n == 1 { "" } else { "s" }))
            .unwrap_or_default();
        let summary = match &notes {
            Some(notes) => format!("{}, {notes}", diag::summary(&shown)),
            None => diag::summary(&outcome.diagnostics),
        };
        eprintln!("Checked {} pages{links}: {summary}", outcome.pages);
    }
    let failing = match deny {
        Some(Deny::Warnings) => diag::Severity::Warning,
        None => diag::Severity::Error,
    };
    if outcome.diagnostics.iter().any(|d| d.severity <= failing) {
        Err(Failure::Failed)
    } else {
        Ok(())
    }
}

/// The site root's folder inside its git repository (`docs/`, or `""` at the top), so GitHub
/// annotations name files from the repository root; `""` outside a repository.
fn repo_prefix(root: &std::path::Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--show-prefix"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn serve(root: Option<PathBuf>, options: crate::serve::Options) -> Outcome {
    if !options.bind.is_loopback() && !options.allow_remote {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "--bind {} would make the preview reachable from other machines; add --allow-remote if that is what you want",
                    options.bind
                ),
            )
            .exit();
    }
    let config = load_config(root, Format::Human)?;
    crate::serve::serve(config.root, options).map_err(|e| {
        eprintln!("error: {e}");
        Failure::Failed
    })
}
