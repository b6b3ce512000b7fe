//! Calendar arithmetic for printing timestamps: ISO-8601 UTC and US Eastern time offsets
//! (ITCH stamps ns since midnight Eastern time).

pub use mam_core::calendar::{civil_from_days, days_from_civil};

/// `2017-07-10T14:32:18.123456789Z` from ns since the Unix epoch.
pub fn iso_utc_ns(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Weekday of a day count (0 = Sunday).
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// The `n`-th Sunday (1-based) of a month, as a day count.
fn nth_sunday(y: i64, m: u32, n: i64) -> i64 {
    let first = days_from_civil(y, m, 1);
    first + (7 - weekday(first)) % 7 + 7 * (n - 1)
}

/// UTC offset of US Eastern time in seconds on the civil day `days` (since 1970-01-01), by the
/// rules in force since 2007 (daylight time from the second Sunday of March to the first Sunday
/// of November). The switch hour (2:00) is not modelled: the offset of the whole day is the one
/// at noon.
pub fn eastern_offset_s(days: i64) -> i64 {
    let (y, _, _) = civil_from_days(days);
    if days >= nth_sunday(y, 3, 2) && days < nth_sunday(y, 11, 1) {
        -4 * 3600
    } else {
        -5 * 3600
    }
}

/// ns since the epoch of midnight Eastern time on the Eastern-time date of the instant
/// `utc_ns`.
pub fn eastern_midnight_utc_ns(utc_ns: i64) -> i64 {
    let guess = (utc_ns / 1_000_000_000 - 5 * 3600).div_euclid(86_400);
    let off = eastern_offset_s(guess);
    let day = (utc_ns / 1_000_000_000 + off).div_euclid(86_400);
    (day * 86_400 - eastern_offset_s(day)) * 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(days_from_civil(2017, 7, 10)), (2017, 7, 10));
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
        assert_eq!(
            iso_utc_ns(1_499_697_138_000_000_001),
            "2017-07-10T14:32:18.000000001Z"
        );
        // 2023-08-22 is in daylight time, 2023-01-10 is not.
        assert_eq!(eastern_offset_s(days_from_civil(2023, 8, 22)), -4 * 3600);
        assert_eq!(eastern_offset_s(days_from_civil(2023, 1, 10)), -5 * 3600);
        assert_eq!(eastern_offset_s(days_from_civil(2023, 3, 12)), -4 * 3600);
        assert_eq!(eastern_offset_s(days_from_civil(2023, 3, 11)), -5 * 3600);
        // 2023-08-22 13:00 UTC = 09:00 EDT; midnight EDT = 04:00 UTC.
        let t = (days_from_civil(2023, 8, 22) * 86_400 + 13 * 3600) * 1_000_000_000;
        assert_eq!(
            eastern_midnight_utc_ns(t),
            (days_from_civil(2023, 8, 22) * 86_400 + 4 * 3600) * 1_000_000_000
        );
    }
}
