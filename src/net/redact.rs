//! Secrets that never print: a token is kept in a [`Secret`], whose `Debug` hides it, and every
//! text a server sends back is passed through [`Secret::redact`] before kbpub keeps or shows it.

/// A credential (a token, an `Authorization` header value) that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the one place it goes: a request header.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the secret in `text` (as sent, and JSON-escaped).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        let escaped = serde_json::to_string(&self.0).unwrap_or_default();
        let escaped = escaped.trim_matches('"');
        text.replace(&self.0, "[redacted]")
            .replace(escaped, "[redacted]")
    }

    /// Whether `text` holds the secret. Secrets shorter than 8 characters are not looked for:
    /// they cannot be told apart from ordinary text (and are too weak to be real tokens).
    pub fn appears_in(&self, text: &str) -> bool {
        self.0.chars().count() >= 8 && self.redact(text) != text
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Redacts every secret of `secrets` from `text`, longest first (so a header value goes before
/// the token inside it).
pub fn redact_all(secrets: &[Secret], text: &str) -> String {
    let mut sorted: Vec<&Secret> = secrets.iter().filter(|s| s.0.len() >= 4).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
    sorted
        .iter()
        .fold(text.to_string(), |text, secret| secret.redact(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_raw_and_json_escaped() {
        let secret = Secret::new("tok\"en-123".into());
        assert_eq!(
            secret.redact("Bearer tok\"en-123 and {\"a\":\"tok\\\"en-123\"}"),
            "Bearer [redacted] and {\"a\":\"[redacted]\"}"
        );
        assert!(secret.appears_in("xx tok\"en-123"));
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
    }

    #[test]
    fn every_secret_goes_longest_first() {
        let secrets = [
            Secret::new("abcd".into()),
            Secret::new("Basic abcdefgh".into()),
            Secret::new("ab".into()),
        ];
        assert_eq!(
            redact_all(&secrets, "Basic abcdefgh / abcd / ab"),
            "[redacted] / [redacted] / ab"
        );
    }
}
