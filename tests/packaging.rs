//! kbpub as a product to install: the crate's registry metadata, the files `cargo package` puts
//! in the crate (what the build and the tests read, nothing else), the release workflow (linted;
//! its packaging and checksum steps run as written), and the round trip from a release archive to
//! a working `kbpub` through the install script of the CI that `kbpub init` writes, which refuses
//! an archive that does not match its checksum and falls back to `cargo install` when there is
//! none. scripts/package-check builds and tests the unpacked crate itself (a full compile).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn manifest() -> toml::Value {
    toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap()
}

#[test]
fn the_manifest_has_everything_the_registry_asks_for() {
    let manifest = manifest();
    let package = &manifest["package"];
    let text = |key: &str| -> &str {
        package
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| panic!("package.{key} is missing"))
    };
    assert!(text("description").len() <= 200, "crates.io shows one line");
    for url in ["repository", "homepage"] {
        assert!(text(url).starts_with("https://"), "{url}");
    }
    assert!(root().join(text("readme")).is_file());
    // Every license of the expression ships its text.
    for license in text("license").split(" OR ") {
        assert!(
            root()
                .join(format!(
                    "LICENSE-{}",
                    license.trim_end_matches("-2.0").to_uppercase()
                ))
                .is_file(),
            "{license}"
        );
    }
    let rust_version: Vec<u32> = text("rust-version")
        .split('.')
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(rust_version >= vec![1, 85], "edition 2024 needs 1.85");
    let list = |key: &str| -> Vec<String> {
        package[key]
            .as_array()
            .unwrap_or_else(|| panic!("package.{key} is missing"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    // crates.io's limits: at most five of each; keywords short, ASCII, starting with a letter.
    let keywords = list("keywords");
    assert!((1..=5).contains(&keywords.len()));
    for keyword in keywords {
        assert!(
            keyword.len() <= 20
                && keyword.starts_with(|c: char| c.is_ascii_alphabetic())
                && keyword
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_+".contains(c)),
            "{keyword}"
        );
    }
    assert!((1..=5).contains(&list("categories").len()));
}

/// `cargo package --list`: the files the crate would hold.
fn package_list() -> Vec<String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "package",
            "--list",
            "--allow-dirty",
            "--locked",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("run cargo package --list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // .cargo_vcs_info.json: the commit, written by cargo when it packages a git checkout.
    let mut files: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|f| *f != ".cargo_vcs_info.json")
        .map(str::to_string)
        .collect();
    files.sort();
    files
}

#[test]
fn the_package_holds_what_the_build_and_the_tests_read_and_nothing_else() {
    // Built in: the sources, the templates and the init scaffold. Read by the tests: the tests with
    // their fixtures, the sample knowledge base (copied by `Kb::sample`), the approval script, the
    // README (its CI section is checked) and the release workflow (linted and run here). Local
    // publish receipts are never packaged.
    let mut wanted: Vec<String> = [
        "src",
        "templates",
        "scaffold",
        "tests",
        "content",
        "data",
        ".kb",
    ]
    .iter()
    .flat_map(|dir| {
        files_under(&root().join(dir))
            .into_iter()
            .map(move |f| format!("{dir}/{f}"))
    })
    .filter(|f| !f.starts_with(".kb/receipts/"))
    .collect();
    wanted.extend(
        [
            "Cargo.toml",
            "Cargo.toml.orig",
            "Cargo.lock",
            "build.rs",
            "kbpub.toml",
            "scripts/approve-sample",
            ".github/workflows/release.yml",
            "README.md",
            "ARCHITECTURE.md",
            "LICENSE-MIT",
            "LICENSE-APACHE",
        ]
        .map(String::from),
    );
    wanted.sort();
    assert_eq!(package_list(), wanted);
}

#[test]
fn the_release_workflow_passes_actionlint_and_builds_every_platform_on_a_version_tag() {
    let path = root().join(".github/workflows/release.yml");
    workflow::actionlint(&path);
    let release = workflow::load(&path);
    let tags = release["on"]["push"]["tags"][0].as_str().unwrap();
    assert!(tags.starts_with("v"), "{tags}");
    assert_eq!(
        release["permissions"]["contents"].as_str(),
        Some("read"),
        "only the release job may write"
    );
    assert_eq!(
        release["jobs"]["release"]["permissions"]["contents"].as_str(),
        Some("write")
    );
    let mut targets: Vec<&str> = release["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        [
            "aarch64-apple-darwin",
            "aarch64-unknown-linux-musl",
            "x86_64-apple-darwin",
            "x86_64-pc-windows-msvc",
            "x86_64-unknown-linux-musl",
        ]
    );
    let build = release["jobs"]["build"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some("Build"))
        .unwrap();
    assert!(
        build["run"]
            .as_str()
            .unwrap()
            .contains("cargo build --locked --profile dist"),
        "release binaries use the dist profile"
    );
    assert!(manifest()["profile"]["dist"].is_table());
}

/// The musl target `.kb/install-kbpub.sh` downloads on this machine.
fn this_machine_target() -> String {
    format!("{}-unknown-linux-musl", std::env::consts::ARCH)
}

/// Runs the release workflow's "Package" step (build job) and "Verify checksums" step (release
/// job) on a checkout whose `dist` build is this build's binary; returns the `dist/` folder.
fn release_files(tmp: &Path) -> PathBuf {
    let checkout = tmp.join("checkout");
    let target = this_machine_target();
    let built = checkout.join(format!("target/{target}/dist"));
    std::fs::create_dir_all(&built).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_kbpub"), built.join("kbpub")).unwrap();
    // Stripped, as the dist profile's binary is (and archived in seconds, not a minute).
    let strip = Command::new("strip").arg(built.join("kbpub")).status();
    assert!(
        strip.is_ok_and(|s| s.success()),
        "strip (binutils) is needed"
    );
    for file in ["README.md", "LICENSE-MIT", "LICENSE-APACHE"] {
        std::fs::copy(root().join(file), checkout.join(file)).unwrap();
    }
    let home = tmp.join("runner-home");
    std::fs::create_dir_all(&home).unwrap();
    let release = workflow::load(&root().join(".github/workflows/release.yml"));
    let runner = workflow::Runner {
        workspace: &checkout,
        secrets: &[],
        matrix: &[("target", &target)],
        path: std::env::split_paths(&std::env::var_os("PATH").unwrap()).collect(),
        home: &home,
        env: &[],
    };
    runner.run_steps(&release, "build", &["Package"]);
    runner.run_steps(&release, "release", &["Verify checksums"]);
    checkout.join("dist")
}

/// Runs the install script `kbpub init` writes, in a PATH without kbpub; `bin` holds extra
/// tools.
fn install(tmp: &Path, releases: &Path, kbpub_home: &Path, bin: &Path) -> Output {
    let scaffold = tmp.join("scaffold");
    if !scaffold.exists() {
        kbpub()
            .args(["init", "-q"])
            .arg(&scaffold)
            .output()
            .unwrap();
    }
    let path: Vec<PathBuf> = std::iter::once(bin.to_path_buf())
        .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap()))
        .filter(|dir| *dir == bin || !dir.join("kbpub").exists())
        .collect();
    Command::new("bash")
        .arg(scaffold.join(".kb/install-kbpub.sh"))
        .env_clear()
        .env("PATH", std::env::join_paths(path).unwrap())
        .env("HOME", tmp)
        .env("KBPUB_VERSION", env!("CARGO_PKG_VERSION"))
        .env("KBPUB_HOME", kbpub_home)
        .env("KBPUB_RELEASES", format!("file://{}", releases.display()))
        .env("GITHUB_PATH", tmp.join("github-path"))
        .output()
        .unwrap()
}

/// `install`, which must succeed: its stdout and stderr.
fn installs(tmp: &Path, releases: &Path, kbpub_home: &Path, bin: &Path) -> (String, String) {
    let out = install(tmp, releases, kbpub_home, bin);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_release_archive_installs_with_the_ci_install_script_after_its_checksum_is_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = release_files(tmp.path());
    let archive = format!("kbpub-{}.tar.gz", this_machine_target());
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    assert!(sums.trim_end().ends_with(&format!("  {archive}")), "{sums}");

    // The release as GitHub serves it: <releases>/v<version>/<file>.
    let releases = tmp.path().join("releases");
    let tagged = releases.join(format!("v{}", env!("CARGO_PKG_VERSION")));
    copy_dir(&dist, &tagged);
    let empty_bin = tmp.path().join("empty-bin");
    std::fs::create_dir_all(&empty_bin).unwrap();
    let kbpub_home = tmp.path().join("kbpub-home");
    installs(tmp.path(), &releases, &kbpub_home, &empty_bin);
    let installed = Command::new(kbpub_home.join("bin/kbpub"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        text(&installed.stdout).trim(),
        format!("kbpub {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("github-path")).unwrap(),
        format!("{}\n", kbpub_home.join("bin").display()),
        "the next steps find it"
    );

    // Installed already (a cache hit): nothing is downloaded again.
    std::fs::remove_dir_all(&releases).unwrap();
    let (again, _) = installs(tmp.path(), &releases, &kbpub_home, &empty_bin);
    assert_contains(&again, "is installed");

    // An archive that is not the one its checksum describes is never installed.
    copy_dir(&dist, &tagged);
    let mut bytes = std::fs::read(tagged.join(&archive)).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(tagged.join(&archive), bytes).unwrap();
    let other_home = tmp.path().join("other-home");
    let refused = install(tmp.path(), &releases, &other_home, &empty_bin);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("says"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!other_home.join("bin/kbpub").exists());
}

#[test]
fn without_a_release_binary_the_install_script_builds_the_pinned_version_with_cargo() {
    let tmp = tempfile::tempdir().unwrap();
    // A stand-in for `cargo` (compiling kbpub takes minutes): it records its arguments and puts
    // this build's binary where `cargo install --root` would.
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let cargo = bin.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\necho \"$@\" >\"{}\"\nroot=\"$7\"\nmkdir -p \"$root/bin\"\ncp \"{}\" \"$root/bin/kbpub\"\n",
            tmp.path().join("cargo-args").display(),
            env!("CARGO_BIN_EXE_kbpub")
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&cargo).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&cargo, permissions).unwrap();

    let releases = tmp.path().join("no-releases");
    let kbpub_home = tmp.path().join("kbpub-home");
    let (_, log) = installs(tmp.path(), &releases, &kbpub_home, &bin);
    assert_contains(&log, "building it with cargo install");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("cargo-args")).unwrap(),
        format!(
            "install kbpub --locked --version {} --root {}\n",
            env!("CARGO_PKG_VERSION"),
            kbpub_home.display()
        )
    );
    assert!(kbpub_home.join("bin/kbpub").is_file());
}
