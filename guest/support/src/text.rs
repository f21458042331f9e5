//! Making text from a provider fit for an error message or a log.

/// Longest provider text kept in a message, in characters. A provider that
/// answers with a novel (a stack trace, a page) should not flood the
/// platform's log.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// Returns `text` on one line, trimmed, and cut at [`MAX_MESSAGE_CHARS`].
///
/// Control characters (newlines included) become spaces and runs of
/// whitespace collapse to one, so that provider text cannot forge log lines.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE_CHARS));
    let mut chars = 0;
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars == MAX_MESSAGE_CHARS {
                out.push('…');
                return out;
            }
            out.push(c);
            chars += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_and_trims() {
        assert_eq!(clean("  Service\r\n not\tfound \u{7}"), "Service not found");
        assert_eq!(clean(""), "");
    }

    #[test]
    fn cuts_long_text_on_a_char_boundary() {
        let long = "é".repeat(MAX_MESSAGE_CHARS + 10);
        let cut = clean(&long);
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
