//! Civil-date arithmetic (proleptic Gregorian, H. Hinnant's `days_from_civil` /
//! `civil_from_days`, <https://howardhinnant.github.io/date_algorithms.html>): the repository's
//! one copy, for the feed's capture times, FIX timestamps and the data importers. No date crate:
//! these run on decode paths and must not allocate.

/// Days since 1970-01-01 of a civil date (month 1-12; a day past the month's end runs on into
/// the next month: use [`checked_days_from_civil`] to refuse it).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 of a civil date that exists (2019-02-30 does not: `None`).
pub fn checked_days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// Civil date (year, month 1-12, day 1-31) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2019, 2, 4), 17_931);
        assert_eq!(civil_from_days(17_931), (2019, 2, 4));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(checked_days_from_civil(2019, 2, 30), None);
        assert_eq!(checked_days_from_civil(2020, 2, 29), Some(18_321));
        assert_eq!(checked_days_from_civil(2019, 13, 1), None);
    }

    proptest! {
        #[test]
        fn round_trip(z in -1_000_000i64..3_000_000) {
            let (y, m, d) = civil_from_days(z);
            prop_assert_eq!(days_from_civil(y, m, d), z);
            prop_assert_eq!(checked_days_from_civil(y, m, d), Some(z));
        }
    }
}
