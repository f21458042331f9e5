//! Removes secret values from text before it leaves the host: log lines,
//! error messages, guest output, CLI output.

/// What a secret is replaced with.
pub const MASK: &str = "[redacted]";

/// Secrets shorter than this are not masked: masking "1" or "ab" would
/// shred ordinary text while protecting nothing.
const MIN_SECRET_LEN: usize = 4;

/// A set of secret values to mask.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// An empty redactor (masks nothing).
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Adds a secret, together with the forms it takes when a request or a
    /// provider's answer carries it (URL-encoded, JSON-escaped).
    pub fn add(&mut self, secret: &str) {
        if secret.len() < MIN_SECRET_LEN {
            return;
        }
        let json = serde_json::to_string(secret).unwrap_or_default();
        let json = json.trim_matches('"').to_string();
        for form in [secret.to_string(), url_encode(secret), json] {
            if !self.secrets.contains(&form) {
                self.secrets.push(form);
            }
        }
        // Longest first, so a secret that contains another is masked whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// A copy of this redactor with more secrets.
    pub fn with<'a>(&self, secrets: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut redactor = self.clone();
        for secret in secrets {
            redactor.add(secret);
        }
        redactor
    }

    /// Whether the redactor masks nothing.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Adds every secret of `other`.
    pub fn extend(&mut self, other: &Redactor) {
        for secret in &other.secrets {
            if !self.secrets.contains(secret) {
                self.secrets.push(secret.clone());
            }
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every known secret replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), MASK);
            }
        }
        text
    }
}

fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_plain_url_encoded_and_json_forms() {
        let redactor = Redactor::new().with(["p@ss \"word\"/1"]);
        assert_eq!(
            redactor.redact("a p@ss \"word\"/1 b"),
            format!("a {MASK} b")
        );
        assert_eq!(
            redactor.redact("q=p%40ss%20%22word%22%2F1"),
            format!("q={MASK}")
        );
        assert_eq!(
            redactor.redact(r#"{"k":"p@ss \"word\"/1"}"#),
            format!(r#"{{"k":"{MASK}"}}"#)
        );
    }

    #[test]
    fn short_values_are_left_alone() {
        let redactor = Redactor::new().with(["ab"]);
        assert_eq!(redactor.redact("cab"), "cab");
    }
}
