//! Which UTC hour a `.bi5` file holds, from its name and folder.
//!
//! The hour is the file name's `HH` (`13h_ticks.bi5`). The date is taken from, in order:
//! - the parent folder's name ending in `YYYY-MM-DD` (`EURUSD-2019-02-04/`, months 1-based);
//! - Dukascopy's own download layout `…/YYYY/MM/DD/HHh_ticks.bi5`, whose month is **0-based**
//!   (January = `00`), as in Dukascopy's datafeed URLs.

use std::path::Path;

use super::DukascopyError;

pub use crate::capture::time::days_from_civil;

/// The civil date (year, month 1-12, day) of `ms` since the Unix epoch (inverse of
/// [`days_from_civil`]).
pub fn civil_ymd(ms: i64) -> (i64, u32, u32) {
    crate::capture::time::civil_from_days(ms.div_euclid(86_400_000))
}

/// `ms` since the epoch as ISO 8601 UTC with milliseconds: `2019-02-04T00:00:00.123Z`.
pub fn iso8601_ms(ms: i64) -> String {
    let (y, mo, d) = civil_ymd(ms);
    let t = ms.rem_euclid(86_400_000);
    let (h, mi, s, f) = (t / 3_600_000, t / 60_000 % 60, t / 1000 % 60, t % 1000);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{f:03}Z")
}

fn num(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// A date that exists (30 February does not: it is refused, never read as 2 March).
fn valid(y: u32, m: u32, d: u32) -> bool {
    (1970..=9999).contains(&y)
        && mam_core::calendar::checked_days_from_civil(i64::from(y), m, d).is_some()
}

/// Start of the hour `path` holds, ms since the Unix epoch.
pub fn hour_start_ms(path: &Path) -> Result<i64, DukascopyError> {
    let bad = |why: &str| DukascopyError::Naming {
        path: path.display().to_string(),
        why: why.to_string(),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| bad("no file name"))?;
    let hour = name
        .split_once("h_ticks")
        .and_then(|(h, _)| num(h))
        .filter(|h| *h < 24)
        .ok_or_else(|| bad("file name is not HHh_ticks.bi5 with HH in 00..23"))?;
    let parent = path.parent().ok_or_else(|| bad("no folder"))?;
    let comp = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(str::to_string);
    let folder = comp(parent).unwrap_or_default();
    // `…-YYYY-MM-DD`
    let date = folder
        .len()
        .checked_sub(10)
        .and_then(|i| folder.get(i..))
        .and_then(|t| {
            let (y, m, d) = (num(&t[0..4])?, num(&t[5..7])?, num(&t[8..10])?);
            (t.as_bytes()[4] == b'-' && t.as_bytes()[7] == b'-' && valid(y, m, d))
                .then_some((y, m, d))
        })
        .or_else(|| {
            // `YYYY/MM/DD` with a 0-based month.
            let d = num(&folder)?;
            let mp = parent.parent()?;
            let m = num(&comp(mp)?)? + 1;
            let y = num(&comp(mp.parent()?)?)?;
            valid(y, m, d).then_some((y, m, d))
        })
        .ok_or_else(|| {
            bad("folder is neither …YYYY-MM-DD nor Dukascopy's YYYY/MM(0-based)/DD layout")
        })?;
    let days = days_from_civil(i64::from(date.0), date.1, date.2);
    Ok((days * 24 + i64::from(hour)) * 3_600_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_hours() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        let p = Path::new("/x/BTCUSD-2023-02-20/12h_ticks.bi5");
        assert_eq!(hour_start_ms(p).unwrap(), 1_676_894_400_000);
        let p = Path::new("/x/BTCUSD/2023/01/20/12h_ticks.bi5");
        assert_eq!(hour_start_ms(p).unwrap(), 1_676_894_400_000);
        assert!(hour_start_ms(Path::new("/x/BTCUSD-2023-02-20/24h_ticks.bi5")).is_err());
        assert!(hour_start_ms(Path::new("/x/nodate/01h_ticks.bi5")).is_err());
        assert!(hour_start_ms(Path::new("/x/2023-13-01/01h_ticks.bi5")).is_err());
        assert!(hour_start_ms(Path::new("/x/EURUSD-2019-02-30/01h_ticks.bi5")).is_err());
        // Dukascopy's layout: month 01 is February (0-based).
        assert!(hour_start_ms(Path::new("/x/EURUSD/2019/01/29/01h_ticks.bi5")).is_err());
        assert_eq!(civil_ymd(1_549_238_400_000), (2019, 2, 4));
        assert_eq!(civil_ymd(0), (1970, 1, 1));
        assert_eq!(iso8601_ms(1_676_894_400_084), "2023-02-20T12:00:00.084Z");
    }
}
