//! Turning answers into table cells and JSON, with secrets masked, and
//! writing them out: a closed stdout ends the printing, not the command.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use provisioning_host::types::Limit;
use provisioning_host::{CallError, ErrorReport, Redactor, Response};

/// Writes a formatted line to stdout through [`write_stdout`]: `Ok` also
/// when the reader is gone, an error for any other failure to write.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes a formatted line to stderr, ignoring failure: a message that
/// cannot be shown has nowhere else to go, and must not end the process.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, outln};

/// Set once stdout's reader has gone away (a closed pipe).
static READER_GONE: AtomicBool = AtomicBool::new(false);

/// Writes to stdout, flushed. When the reader has gone away (`EPIPE`:
/// `provisioning ... | head -1`), nobody is left to read: this and every
/// later write are skipped, quietly, and the command ends with the exit
/// code it would have had. Any other failure to write is an error (the
/// command exits 2).
pub fn write_stdout(text: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    if READER_GONE.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            READER_GONE.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(error) => Err(anyhow::Error::new(error).context("writing to stdout")),
    }
}

/// Whether everything written to stdout so far reached its reader: false
/// once the reader has gone away.
pub fn stdout_delivered() -> bool {
    !READER_GONE.load(Ordering::Relaxed)
}

/// Writes to stderr, ignoring failure (see [`errln!`]).
pub fn write_stderr(text: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(text);
}

/// A one-line summary of a successful answer.
pub fn summarize(response: &Response) -> String {
    match response {
        Response::Connection(status) => status.message.clone(),
        Response::Created(created) => {
            let mut text = format!(
                "remote id {} ({})",
                created.remote_id,
                provisioning_host::service_state_name(created.status)
            );
            for credential in &created.credentials {
                text.push_str(&format!(", {} issued", credential.name));
            }
            text
        }
        Response::Done(outcome) => {
            let mut text = outcome.message.clone();
            for credential in &outcome.credentials {
                text.push_str(&format!(", {} issued", credential.name));
            }
            text
        }
        Response::Usage(usage) => usage
            .figures
            .iter()
            .map(|f| match f.limit {
                Limit::Unlimited => format!("{} {} {} of unlimited", f.name, f.used, f.unit),
                Limit::Value(limit) => format!("{} {} of {} {}", f.name, f.used, limit, f.unit),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Response::Packages(packages) => format!(
            "{} packages: {}",
            packages.len(),
            packages
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Response::SignOn(url) => url.clone(),
        Response::Status(status) => provisioning_host::service_state_name(status.state).to_string(),
        Response::Accounts(accounts) => format!(
            "{} accounts: {}",
            accounts.len(),
            accounts
                .iter()
                .map(|a| format!(
                    "{} ({})",
                    a.remote_id,
                    provisioning_host::service_state_name(a.state)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A result as two cells: `ok` or the error's kind, and the summary or
/// the message, masked.
pub fn result_cells(result: &Result<Response, CallError>, redactor: &Redactor) -> (String, String) {
    match result {
        Ok(response) => ("ok".into(), redactor.redact(&summarize(response))),
        Err(error) => (error.kind().into(), redactor.redact(&error.to_string())),
    }
}

/// A JSON document for a call's result, masked.
pub fn result_json(result: &Result<Response, CallError>, redactor: &Redactor) -> serde_json::Value {
    let value = match result {
        Ok(response) => serde_json::json!({ "ok": response }),
        Err(error) => serde_json::json!({ "error": ErrorReport::from(error) }),
    };
    // Mask on the serialized form so no field escapes, whatever its depth.
    let text = redactor.redact(&value.to_string());
    serde_json::from_str(&text).unwrap_or(value)
}

/// The widest a table cell is printed, in characters; longer ones are cut
/// and end in [`ELLIPSIS`]. JSON output is never cut.
pub const MAX_CELL: usize = 64;

/// What ends a cut cell.
pub const ELLIPSIS: char = '…';

/// Prints rows as an aligned text table (see [`table`]); when a cell had to
/// be cut, says so on stderr.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    for line in table(header, rows) {
        outln!("{line}")?;
    }
    if rows.iter().flatten().any(|c| is_cut(c)) {
        errln!(
            "cells longer than {MAX_CELL} characters are cut short ({ELLIPSIS}); --json prints them whole"
        );
    }
    Ok(())
}

/// The lines of an aligned text table: the header, a rule, the rows. Every
/// cell is made printable (see [`cell`]), so each row is one line whatever
/// the cells hold; rows may have more or fewer cells than the header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let header: Vec<String> = header.iter().map(|h| cell(h)).collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| cell(c)).collect())
        .collect();
    let columns = rows.iter().map(Vec::len).fold(header.len(), usize::max);
    let mut widths = vec![0; columns];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut line = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        line.truncate(line.trim_end_matches(' ').len());
        line
    };
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let mut lines = vec![line(&header), line(&rule)];
    lines.extend(rows.iter().map(|row| line(row)));
    lines
}

/// A cell as it is printed: control and direction-changing characters
/// escaped (`\n`, `\t`, `\u{1b}`...), so that text from elsewhere can neither
/// break a row nor drive the terminal, and at most [`MAX_CELL`] characters,
/// the last an [`ELLIPSIS`] when the text was longer.
pub fn cell(text: &str) -> String {
    printable(text).0
}

/// `text` made printable as [`cell`] makes it (control and
/// direction-changing characters escaped, so it stays one line), but
/// whole: for text a person must read to the end.
pub fn printable_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_printable(&mut out, c);
    }
    out
}

/// Whether [`cell`] cuts `text`.
fn is_cut(text: &str) -> bool {
    printable(text).1
}

/// [`cell`], and whether it was cut.
fn printable(text: &str) -> (String, bool) {
    let mut out = String::new();
    let mut width = 0;
    // Where the text is cut if it turns out too long: the longest prefix
    // that leaves room for the ellipsis.
    let mut cut = None;
    for c in text.chars() {
        let start = out.len();
        push_printable(&mut out, c);
        width += out[start..].chars().count();
        if width > MAX_CELL - 1 && cut.is_none() {
            cut = Some(start);
        }
        if width > MAX_CELL {
            out.truncate(cut.unwrap_or(start));
            out.push(ELLIPSIS);
            return (out, true);
        }
    }
    (out, false)
}

/// Pushes `c`, or its escape when it is a control character or one that
/// reorders the text around it (bidirectional overrides and isolates).
fn push_printable(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') => {
            out.extend(c.escape_unicode());
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_cell_is_cut_to_the_maximum_with_an_ellipsis() {
        let long = "x".repeat(70_000);
        let lines = table(
            &["id", "key", "outcome"],
            &[vec!["1".into(), long, "ok".into()]],
        );
        assert_eq!(lines.len(), 3);
        let key = format!("{}{ELLIPSIS}", "x".repeat(MAX_CELL - 1));
        assert_eq!(
            lines[0],
            format!("id  key{}  outcome", " ".repeat(MAX_CELL - 3))
        );
        assert_eq!(lines[1], format!("--  {}  -------", "-".repeat(MAX_CELL)));
        assert_eq!(lines[2], format!("1   {key}  ok"));

        // At the maximum exactly, nothing is cut; one more, and it is.
        assert_eq!(cell(&"é".repeat(MAX_CELL)), "é".repeat(MAX_CELL));
        let cut = cell(&"é".repeat(MAX_CELL + 1));
        assert_eq!(cut.chars().count(), MAX_CELL);
        assert!(cut.ends_with(ELLIPSIS));
        assert!(is_cut(&"é".repeat(MAX_CELL + 1)));
        assert!(!is_cut(&"é".repeat(MAX_CELL)));
    }

    #[test]
    fn control_characters_are_escaped_and_rows_stay_one_line() {
        let hostile = "a\nb\tc\r\u{1b}[2Jd\u{7}\u{202e}e";
        assert_eq!(cell(hostile), "a\\nb\\tc\\r\\u{1b}[2Jd\\u{7}\\u{202e}e");
        let lines = table(&["x", "y"], &[vec![hostile.into(), "z".into()]]);
        assert_eq!(lines.len(), 3);
        for line in &lines {
            assert!(!line.chars().any(char::is_control), "{line:?}");
        }
        assert!(lines[2].ends_with("  z"), "{:?}", lines[2]);

        // An escape that would cross the maximum is not split.
        let cut = cell(&format!("{}\u{1b}", "x".repeat(MAX_CELL - 3)));
        assert_eq!(cut, format!("{}{ELLIPSIS}", "x".repeat(MAX_CELL - 3)));
    }

    #[test]
    fn any_shape_of_rows_prints() {
        let rows = vec![
            vec![],
            vec!["a".into()],
            vec![
                "a".into(),
                "b".into(),
                "more cells".into(),
                "than the header".into(),
            ],
        ];
        let lines = table(&["one", "two"], &rows);
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[2], "");
        assert_eq!(lines[4], "a    b    more cells  than the header");
        assert_eq!(table(&[], &[]), ["", ""]);
    }
}
