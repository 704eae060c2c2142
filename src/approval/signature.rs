//! Commit signatures: who really made a commit. `.kb/people.toml` lists each person's SSH public
//! keys (and optionally GPG key fingerprints); from them kbpub writes an allowed-signers file and
//! asks git (`git log --show-signature` formats, which run `ssh-keygen -Y verify` or gpg) which
//! key signed each commit and whose it is. One git process for any number of commits.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use super::git;
use super::policy::People;
use crate::diag::Diagnostic;

/// A commit's signature as git verified it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signature {
    /// Lower-case e-mail of the person whose listed key made a good signature; `None` when the
    /// commit is unsigned, the signature is bad, or the key is nobody's in `people.toml`.
    pub signer: Option<String>,
    /// The signing key's fingerprint (`SHA256:...` for SSH), when signed at all.
    pub key: Option<String>,
}

/// Verifies the signatures of `commits` (full ids) against the keys in `people`.
pub fn verify(
    root: &Path,
    people: &People,
    commits: &[&str],
) -> Result<HashMap<String, Signature>, Diagnostic> {
    if commits.is_empty() {
        return Ok(HashMap::new());
    }
    let mut allowed = tempfile::NamedTempFile::new().map_err(|e| {
        Diagnostic::error("io", format!("cannot write the allowed-signers file: {e}"))
    })?;
    allowed
        .write_all(allowed_signers(people).as_bytes())
        .map_err(|e| {
            Diagnostic::error("io", format!("cannot write the allowed-signers file: {e}"))
        })?;
    let setting = format!("gpg.ssh.allowedSignersFile={}", allowed.path().display());
    let out = git::run_with_stdin(
        root,
        &[
            "-c",
            &setting,
            "log",
            "--no-walk=unsorted",
            "--stdin",
            "--format=%H%x1f%G?%x1f%GS%x1f%GF",
        ],
        commits.join("\n").as_bytes(),
    )?;
    let text = String::from_utf8_lossy(&out);
    Ok(text
        .lines()
        .filter_map(|line| {
            let [id, status, signer, key] = line.split('\x1f').collect::<Vec<_>>()[..] else {
                return None;
            };
            Some((id.to_string(), signature(people, status, signer, key)))
        })
        .collect())
}

/// Whose listed key made a good signature: for SSH, git names the allowed-signers principal
/// (the e-mail); for GPG, the key's fingerprint must be listed for the person.
fn signature(people: &People, status: &str, signer: &str, key: &str) -> Signature {
    let key = (!key.is_empty()).then(|| key.to_string());
    let good = matches!(status, "G" | "U");
    let by_principal = people
        .get(signer)
        .filter(|p| good && !p.ssh_keys.is_empty())
        .map(|p| p.email.clone());
    let by_fingerprint = key.as_deref().filter(|_| good).and_then(|k| {
        people
            .all()
            .find(|p| p.gpg_keys.iter().any(|g| g.eq_ignore_ascii_case(k)))
            .map(|p| p.email.clone())
    });
    Signature {
        signer: by_principal.or(by_fingerprint),
        key,
    }
}

/// `email namespaces="git" <key>` for every listed SSH key (ssh-keygen's ALLOWED SIGNERS
/// format).
fn allowed_signers(people: &People) -> String {
    people
        .all()
        .flat_map(|p| {
            p.ssh_keys
                .iter()
                .map(move |key| format!("{} namespaces=\"git\" {key}\n", p.email))
        })
        .collect()
}
