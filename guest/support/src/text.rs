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

/// The date a provider's date or date-time text starts with, as
/// `YYYY-MM-DD`: `2024-03-20`, `2024-03-20 12:00:00` and
/// `2024-03-20T12:00:00` all give `2024-03-20`. `None` for anything else,
/// including the `0000-00-00` that PHP APIs write for "never".
///
/// For a time without a time zone, which cannot become an RFC 3339
/// timestamp without guessing one.
pub fn date(text: &str) -> Option<String> {
    let text = text.trim();
    let date = text.get(..10)?;
    let rest = &text[10..];
    if !(rest.is_empty() || rest.starts_with([' ', 'T', 't'])) {
        return None;
    }
    let bytes = date.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &date[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    if bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    (year > 0 && (1..=12).contains(&month) && (1..=31).contains(&day)).then(|| date.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_from_dates_and_date_times() {
        assert_eq!(date("2009-07-24").as_deref(), Some("2009-07-24"));
        assert_eq!(date(" 2024-03-20 12:00:00").as_deref(), Some("2024-03-20"));
        assert_eq!(date("2024-03-20T12:00:00").as_deref(), Some("2024-03-20"));
        for never in [
            "0000-00-00",
            "0000-00-00 00:00:00",
            "",
            "2024-13-01",
            "2024-03-2x",
        ] {
            assert_eq!(date(never), None, "{never}");
        }
        assert_eq!(date("2024-03-201"), None);
        assert_eq!(date("20240320"), None);
        assert_eq!(date("é2024-03-20"), None);
    }

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
