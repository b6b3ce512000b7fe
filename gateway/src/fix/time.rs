//! UTC timestamps in FIX's `UTCTimestamp` form (`YYYYMMDD-HH:MM:SS.sss`) from nanoseconds since
//! the Unix epoch, without a date library and without allocation.

use super::num::NumFault;

/// Length of `YYYYMMDD-HH:MM:SS.sss`.
pub const TS_LEN: usize = 21;

use mam_core::calendar::{checked_days_from_civil, civil_from_days};

fn put2(b: &mut [u8], v: u32) {
    b[0] = b'0' + (v / 10) as u8;
    b[1] = b'0' + (v % 10) as u8;
}

/// Formats `ns` (since the epoch, UTC) as `YYYYMMDD-HH:MM:SS.sss`.
pub fn format_utc(ns: u64, out: &mut [u8; TS_LEN]) {
    let secs = ns / 1_000_000_000;
    let ms = ((ns / 1_000_000) % 1000) as u32;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let sod = (secs % 86_400) as u32;
    let y = y.clamp(0, 9999) as u32;
    put2(&mut out[0..2], y / 100);
    put2(&mut out[2..4], y % 100);
    put2(&mut out[4..6], m);
    put2(&mut out[6..8], d);
    out[8] = b'-';
    put2(&mut out[9..11], sod / 3600);
    out[11] = b':';
    put2(&mut out[12..14], (sod / 60) % 60);
    out[14] = b':';
    put2(&mut out[15..17], sod % 60);
    out[17] = b'.';
    out[18] = b'0' + (ms / 100) as u8;
    put2(&mut out[19..21], ms % 100);
}

/// A formatter that reformats only the milliseconds while the second stays the same.
#[derive(Debug, Clone)]
pub struct TimeCache {
    sec: u64,
    text: [u8; TS_LEN],
}

impl Default for TimeCache {
    fn default() -> Self {
        let mut text = [0; TS_LEN];
        format_utc(0, &mut text);
        TimeCache { sec: 0, text }
    }
}

impl TimeCache {
    /// The text of `ns`, reusing the date and time of day when the second has not changed.
    #[inline]
    pub fn format(&mut self, ns: u64) -> &[u8; TS_LEN] {
        let sec = ns / 1_000_000_000;
        if sec != self.sec {
            format_utc(ns, &mut self.text);
            self.sec = sec;
        } else {
            let ms = ((ns / 1_000_000) % 1000) as u32;
            self.text[18] = b'0' + (ms / 100) as u8;
            put2(&mut self.text[19..21], ms % 100);
        }
        &self.text
    }
}

/// Parses `YYYYMMDD-HH:MM:SS[.sss[sss[sss]]]` into nanoseconds since the epoch; `None` if the
/// text is not a valid UTC timestamp or lies outside what a `u64` of nanoseconds holds
/// (1970 to 2554).
pub fn parse_utc(b: &[u8]) -> Option<u64> {
    parse_utc_checked(b).ok()
}

/// [`parse_utc`] telling why: [`NumFault::Format`] for text that is not a UTC timestamp,
/// [`NumFault::Range`] for a valid one the nanosecond clock cannot hold (before 1970 or after
/// 2554, e.g. `99991231-23:59:59.999`, which must never wrap into some other instant).
pub fn parse_utc_checked(b: &[u8]) -> Result<u64, NumFault> {
    let dig = |i: usize, n: usize| -> Result<u64, NumFault> {
        let s = b.get(i..i + n).ok_or(NumFault::Format)?;
        s.iter().try_fold(0u64, |a, &c| {
            let d = c.wrapping_sub(b'0');
            if d <= 9 {
                Ok(a * 10 + u64::from(d))
            } else {
                Err(NumFault::Format)
            }
        })
    };
    if b.len() < 17 || b[8] != b'-' || b[11] != b':' || b[14] != b':' {
        return Err(NumFault::Format);
    }
    let (y, mo, d) = (dig(0, 4)?, dig(4, 2)?, dig(6, 2)?);
    let (h, mi, s) = (dig(9, 2)?, dig(12, 2)?, dig(15, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(NumFault::Format);
    }
    let frac_ns = match b.len() {
        17 => 0,
        21 | 24 | 27 if b[17] == b'.' => {
            let n = b.len() - 18;
            dig(18, n)? * 10u64.pow(9 - n as u32)
        }
        _ => return Err(NumFault::Format),
    };
    // A date that does not exist (30 February) is a format fault, never the next month.
    let days = checked_days_from_civil(y as i64, mo as u32, d as u32).ok_or(NumFault::Format)?;
    if days < 0 {
        return Err(NumFault::Range);
    }
    // Checked: a year past 2554 overflows u64 nanoseconds.
    (days as u64)
        .checked_mul(86_400)
        .and_then(|x| x.checked_add(h * 3600 + mi * 60 + s))
        .and_then(|x| x.checked_mul(1_000_000_000))
        .and_then(|x| x.checked_add(frac_ns))
        .ok_or(NumFault::Range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_that_does_not_exist_is_refused() {
        assert_eq!(
            parse_utc_checked(b"20190230-10:00:00"),
            Err(NumFault::Format)
        );
        assert_eq!(
            parse_utc_checked(b"20190229-10:00:00"),
            Err(NumFault::Format)
        );
        assert!(parse_utc_checked(b"20200229-10:00:00").is_ok());
    }

    #[test]
    fn known_instants() {
        let mut b = [0; TS_LEN];
        format_utc(0, &mut b);
        assert_eq!(&b, b"19700101-00:00:00.000");
        // 2012-11-05 14:25:30.123 UTC
        let ns = 1_352_125_530_123_000_000;
        format_utc(ns, &mut b);
        assert_eq!(&b, b"20121105-14:25:30.123");
        assert_eq!(parse_utc(&b), Some(ns));
        assert_eq!(
            parse_utc(b"20121105-14:25:30"),
            Some(1_352_125_530_000_000_000)
        );
        assert_eq!(parse_utc(b"20121305-14:25:30"), None);
        // Past what u64 nanoseconds hold: refused as out of range, never wrapped.
        assert_eq!(
            parse_utc_checked(b"99991231-23:59:59.999"),
            Err(NumFault::Range)
        );
        assert_eq!(
            parse_utc_checked(b"9999123x-23:59:59"),
            Err(NumFault::Format)
        );
        let mut c = TimeCache::default();
        assert_eq!(c.format(ns), b"20121105-14:25:30.123");
        assert_eq!(c.format(ns + 500_000_000), b"20121105-14:25:30.623");
        assert_eq!(c.format(ns + 1_000_000_000), b"20121105-14:25:31.123");
    }
}
