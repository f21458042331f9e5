//! Wall-clock formatting, without a date crate for one format.

use std::time::{SystemTime, UNIX_EPOCH};

/// `time` in UTC as `YYYY-MM-DD HH:MM:SS`, the format providers use.
pub(crate) fn format_utc(time: SystemTime) -> String {
    // A clock before 1970 is a broken host; the epoch is as good as any.
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The current time, formatted by [`format_utc`].
pub(crate) fn now_utc() -> String {
    format_utc(SystemTime::now())
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01 00:00:00");
        // 2025-01-03 14:30:00 UTC, the document's example.
        let t = UNIX_EPOCH + Duration::from_secs(1_735_914_600);
        assert_eq!(format_utc(t), "2025-01-03 14:30:00");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(1_709_164_799);
        assert_eq!(format_utc(t), "2024-02-28 23:59:59");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_164_800);
        assert_eq!(format_utc(t), "2024-02-29 00:00:00");
    }
}
