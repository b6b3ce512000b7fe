//! Account CSV input and output, and loading accounts from either a CSV or a store file.
//!
//! CSV columns (header row required, names case-sensitive, order free, cells trimmed):
//!
//! | column | type | default when the column is absent or the cell empty | rule |
//! |---|---|---|---|
//! | `id` | text, 1-16 printable ASCII, no `,` or `"` | required | unique |
//! | `balance` | money, up to 6 decimals | required | |
//! | `equity` | money | required | |
//! | `margin_used` | money | 0 | >= 0 |
//! | `equity_hwm` | money | the row's equity | |
//! | `leverage` | integer | 100 | >= 1 |
//! | `multiplier` | ratio, up to 6 decimals | 1 | >= 0 |
//! | `percent` | ratio | 0 | 0-100 |
//! | `fixed_lots` | lots, up to 4 decimals | 0 | >= 0 |
//! | `risk_fraction` | ratio | 0 | 0-1 |
//! | `drawdown_tolerance` | ratio | 1 (no limit) | 0-1 |
//! | `min_scale` | ratio | 0 | >= 0 |
//! | `max_scale` | ratio | 1 | >= min_scale |
//! | `cluster` | integer 0-65535 | 0 | |
//! | `flags` | integer: 1 active, 2 close-only | 1 (active) | no other bits |
//! | `active`, `close_only` | boolean (`1/0/true/false/yes/no`) | from `flags` | override that bit |
//!
//! Numbers are parsed exactly (`1.0000001` is refused for money, never rounded). Any other
//! column is ignored with a warning. The whole file is parsed before anything is returned: a bad
//! row is refused with its line number, column and reason, and duplicate ids are refused.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use mam_core::account::store::{is_store_file, AccountStore};
use mam_core::account::{
    encode_id, AccountColumns, AccountRecord, AccountVecs, FLAG_ACTIVE, FLAG_CLOSE_ONLY,
};
use mam_core::num::{Lots, Money, Ratio};

/// Every column this module reads, in the order `export` writes them.
pub const KNOWN_COLUMNS: [&str; 17] = [
    "id",
    "balance",
    "equity",
    "margin_used",
    "equity_hwm",
    "leverage",
    "multiplier",
    "percent",
    "fixed_lots",
    "risk_fraction",
    "drawdown_tolerance",
    "min_scale",
    "max_scale",
    "cluster",
    "flags",
    "active",
    "close_only",
];

/// Number of columns `write_csv` writes (all but the `active`/`close_only` aliases of `flags`).
const EXPORTED: usize = 15;

/// A refused CSV row: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// The column, if the problem is one cell.
    pub column: Option<String>,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column `{c}`: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

impl std::error::Error for RowError {}

/// Loads accounts from `path`: an account store file (recognised by its magic) or a CSV.
pub fn load_accounts(path: &Path) -> anyhow::Result<AccountVecs> {
    let is_store =
        is_store_file(path).with_context(|| format!("cannot read {}", path.display()))?;
    if is_store {
        let store = AccountStore::open_read_only(path)?;
        return Ok(store.to_vecs());
    }
    let rows = read_csv(path)?;
    let mut v = AccountVecs::default();
    for (_, r) in &rows {
        v.push(r);
    }
    Ok(v)
}

/// Parses a whole account CSV file; each record comes with its line number.
pub fn read_csv(path: &Path) -> anyhow::Result<Vec<(u64, AccountRecord)>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    parse_csv(file).with_context(|| format!("{}", path.display()))
}

/// Parses account CSV from any reader (see the module docs for the columns).
pub fn parse_csv<R: std::io::Read>(input: R) -> Result<Vec<(u64, AccountRecord)>, RowError> {
    let mut rd = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(input);
    let headers = rd.headers().map_err(|e| csv_error(1, e))?.clone();
    let mut col: HashMap<&str, usize> = HashMap::new();
    for (i, name) in headers.iter().enumerate() {
        let Some(&known) = KNOWN_COLUMNS.iter().find(|c| **c == name) else {
            tracing::warn!("account CSV: ignoring unknown column `{name}`");
            continue;
        };
        if col.insert(known, i).is_some() {
            return Err(RowError {
                line: 1,
                column: Some(name.to_string()),
                reason: "column appears twice in the header".into(),
            });
        }
    }
    for req in ["id", "balance", "equity"] {
        if !col.contains_key(req) {
            return Err(RowError {
                line: 1,
                column: Some(req.into()),
                reason: "required column missing from the header".into(),
            });
        }
    }
    let mut out = Vec::new();
    let mut seen: HashMap<[u8; 16], u64> = HashMap::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            csv_error(line, e)
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let row = Row {
            rec: &rec,
            col: &col,
            line,
        };
        let r = row.parse()?;
        if let Some(first) = seen.insert(r.id, line) {
            return Err(RowError {
                line,
                column: Some("id".into()),
                reason: format!("duplicate id `{}` (first on line {first})", r.id_str()),
            });
        }
        out.push((line, r));
    }
    Ok(out)
}

fn csv_error(line: u64, e: csv::Error) -> RowError {
    RowError {
        line,
        column: None,
        reason: format!("malformed CSV: {e}"),
    }
}

struct Row<'a> {
    rec: &'a csv::StringRecord,
    col: &'a HashMap<&'static str, usize>,
    line: u64,
}

impl Row<'_> {
    fn err(&self, column: &str, reason: impl Into<String>) -> RowError {
        RowError {
            line: self.line,
            column: Some(column.into()),
            reason: reason.into(),
        }
    }

    /// The cell of `name`, `None` if the column is absent or the cell empty.
    fn cell(&self, name: &str) -> Option<&str> {
        let i = *self.col.get(name)?;
        self.rec.get(i).filter(|s| !s.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, RowError> {
        self.cell(name)
            .ok_or_else(|| self.err(name, "required value is empty"))
    }

    fn num<T>(
        &self,
        name: &str,
        default: T,
        parse: fn(&str) -> Result<T, mam_core::num::NumError>,
    ) -> Result<T, RowError> {
        match self.cell(name) {
            None => Ok(default),
            Some(s) => parse(s).map_err(|e| self.err(name, e.to_string())),
        }
    }

    fn ratio_in(
        &self,
        name: &str,
        default: Ratio,
        lo: i64,
        hi: Option<i64>,
    ) -> Result<Ratio, RowError> {
        let v = self.num(name, default, Ratio::parse)?;
        let (lo_r, hi_r) = (
            Ratio(lo * Ratio::ONE_RAW),
            hi.map(|h| Ratio(h * Ratio::ONE_RAW)),
        );
        if v < lo_r || hi_r.is_some_and(|h| v > h) {
            let range = match hi {
                Some(h) => format!("between {lo} and {h}"),
                None => format!("at least {lo}"),
            };
            return Err(self.err(name, format!("{v} is out of range: must be {range}")));
        }
        Ok(v)
    }

    fn int<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, RowError> {
        match self.cell(name) {
            None => Ok(default),
            Some(s) => s.parse().map_err(|_| {
                self.err(
                    name,
                    format!("`{s}` is not an integer in range for this column"),
                )
            }),
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, RowError> {
        match self.cell(name) {
            None => Ok(None),
            Some(s) => match s.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "y" => Ok(Some(true)),
                "0" | "false" | "no" | "n" => Ok(Some(false)),
                _ => Err(self.err(
                    name,
                    format!("`{s}` is not a boolean (1/0/true/false/yes/no)"),
                )),
            },
        }
    }

    fn parse(&self) -> Result<AccountRecord, RowError> {
        let id_text = self.required("id")?;
        let id = encode_id(id_text).ok_or_else(|| {
            self.err(
                "id",
                format!("`{id_text}` is not 1-16 printable ASCII characters without `,` or `\"`"),
            )
        })?;
        let balance = Money::parse(self.required("balance")?)
            .map_err(|e| self.err("balance", e.to_string()))?;
        let equity = Money::parse(self.required("equity")?)
            .map_err(|e| self.err("equity", e.to_string()))?;
        let margin_used = self.num("margin_used", Money::ZERO, Money::parse)?;
        if margin_used.is_negative() {
            return Err(self.err("margin_used", format!("{margin_used} is negative")));
        }
        let equity_hwm = self.num("equity_hwm", equity, Money::parse)?;
        let leverage: u32 = self.int("leverage", 100)?;
        if leverage == 0 {
            return Err(self.err("leverage", "must be at least 1"));
        }
        let one = Ratio(Ratio::ONE_RAW);
        let multiplier = self.ratio_in("multiplier", one, 0, None)?;
        let percent = self.ratio_in("percent", Ratio::ZERO, 0, Some(100))?;
        let fixed_lots = self.num("fixed_lots", Lots::ZERO, Lots::parse)?;
        if fixed_lots.is_negative() {
            return Err(self.err("fixed_lots", format!("{fixed_lots} is negative")));
        }
        let risk_fraction = self.ratio_in("risk_fraction", Ratio::ZERO, 0, Some(1))?;
        let drawdown_tolerance = self.ratio_in("drawdown_tolerance", one, 0, Some(1))?;
        let min_scale = self.ratio_in("min_scale", Ratio::ZERO, 0, None)?;
        let max_scale = self.ratio_in("max_scale", one, 0, None)?;
        if max_scale < min_scale {
            return Err(self.err(
                "max_scale",
                format!("{max_scale} is below min_scale {min_scale}"),
            ));
        }
        let cluster: u16 = self.int("cluster", 0)?;
        let mut flags: u16 = self.int("flags", FLAG_ACTIVE)?;
        if flags & !(FLAG_ACTIVE | FLAG_CLOSE_ONLY) != 0 {
            return Err(self.err(
                "flags",
                format!("{flags} has unknown bits (1 active, 2 close-only)"),
            ));
        }
        for (name, bit) in [("active", FLAG_ACTIVE), ("close_only", FLAG_CLOSE_ONLY)] {
            match self.boolean(name)? {
                Some(true) => flags |= bit,
                Some(false) => flags &= !bit,
                None => {}
            }
        }
        Ok(AccountRecord {
            id,
            balance,
            equity,
            margin_used,
            equity_hwm,
            multiplier,
            percent,
            fixed_lots,
            risk_fraction,
            drawdown_tolerance,
            min_scale,
            max_scale,
            leverage,
            cluster,
            flags,
        })
    }
}

/// Writes accounts as CSV with every stored field (the first 15 of [`KNOWN_COLUMNS`]), numbers
/// printed exactly, so that reading it back gives the same records.
pub fn write_csv<W: Write>(out: W, cols: &AccountColumns<'_>) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(&KNOWN_COLUMNS[..EXPORTED])?;
    for i in 0..cols.len() {
        let r = cols.record(i);
        w.write_record([
            r.id_str().to_string(),
            r.balance.to_string(),
            r.equity.to_string(),
            r.margin_used.to_string(),
            r.equity_hwm.to_string(),
            r.leverage.to_string(),
            r.multiplier.to_string(),
            r.percent.to_string(),
            r.fixed_lots.to_string(),
            r.risk_fraction.to_string(),
            r.drawdown_tolerance.to_string(),
            r.min_scale.to_string(),
            r.max_scale.to_string(),
            r.cluster.to_string(),
            r.flags.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_exactness() {
        let rows = parse_csv("id,balance,equity\nA1,1000.5,1001\n".as_bytes()).unwrap();
        let r = rows[0].1;
        assert_eq!(rows[0].0, 2);
        assert_eq!(r.id_str(), "A1");
        assert_eq!(r.balance, Money::parse("1000.5").unwrap());
        assert_eq!(r.equity_hwm, r.equity);
        assert_eq!((r.leverage, r.flags), (100, FLAG_ACTIVE));
        assert_eq!(r.multiplier, Ratio(Ratio::ONE_RAW));
        let e = parse_csv("id,balance,equity\nA1,1,1\nA2,1.0000001,1\n".as_bytes()).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (3, Some("balance")));
    }

    #[test]
    fn refusals_name_line_and_column() {
        let cases = [
            ("id,balance,equity\nA1,1,1\nA1,2,2\n", 3, Some("id")),
            (
                "id,balance,equity,percent\nA1,1,1,101\n",
                2,
                Some("percent"),
            ),
            ("id,balance\nA1,1\n", 1, Some("equity")),
            (
                "id,balance,equity,leverage\nA1,1,1,-5\n",
                2,
                Some("leverage"),
            ),
            (
                "id,balance,equity,active\nA1,1,1,maybe\n",
                2,
                Some("active"),
            ),
            ("id,balance,equity\nA1,1,1\nA2,1\n", 3, None),
            ("id,balance,equity\n,1,1\n", 2, Some("id")),
        ];
        for (csv, line, col) in cases {
            let e = parse_csv(csv.as_bytes()).unwrap_err();
            assert_eq!((e.line, e.column.as_deref()), (line, col), "{csv}: {e}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Arbitrary text after a valid header, or arbitrary bytes, never panic the parser.
        #[test]
        fn arbitrary_input_never_panics(body in "\\PC{0,200}", raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let text = format!("id,balance,equity,percent,flags,active,leverage\n{body}");
            let _ = parse_csv(text.as_bytes());
            let _ = parse_csv(raw.as_slice());
        }

        /// Any exact record survives write_csv -> parse_csv unchanged.
        #[test]
        fn any_record_round_trips(bal: i64, eq: i64, mu in 0i64.., hwm: i64, mult in 0i64.., pct in 0i64..=100_000_000, fixed in 0i64.., risk in 0i64..=1_000_000, dd in 0i64..=1_000_000, lo in 0i64..1_000_000, hi in 1_000_000i64.., lev in 1u32.., cluster: u16, flags in 0u16..4) {
            let r = AccountRecord {
                id: encode_id("P1").unwrap(),
                balance: Money(bal), equity: Money(eq), margin_used: Money(mu), equity_hwm: Money(hwm),
                multiplier: Ratio(mult), percent: Ratio(pct), fixed_lots: Lots(fixed),
                risk_fraction: Ratio(risk), drawdown_tolerance: Ratio(dd), min_scale: Ratio(lo),
                max_scale: Ratio(hi), leverage: lev, cluster, flags,
            };
            let mut v = AccountVecs::default();
            v.push(&r);
            let mut out = Vec::new();
            write_csv(&mut out, &v.columns()).unwrap();
            let back = parse_csv(out.as_slice()).unwrap();
            proptest::prop_assert_eq!(back[0].1, r);
        }
    }

    #[test]
    fn csv_round_trip() {
        let text = "id,balance,equity,margin_used,percent,fixed_lots,close_only,cluster,junk\n\
                    A1,-3.000001,7,1.5,33.333333,0.37,yes,4,x\nB2,10,10,0,0,0,0,0,y\n";
        let rows = parse_csv(text.as_bytes()).unwrap();
        let mut v = AccountVecs::default();
        rows.iter().for_each(|(_, r)| v.push(r));
        let mut out = Vec::new();
        write_csv(&mut out, &v.columns()).unwrap();
        let again = parse_csv(out.as_slice()).unwrap();
        assert_eq!(
            rows.iter().map(|x| x.1).collect::<Vec<_>>(),
            again.iter().map(|x| x.1).collect::<Vec<_>>()
        );
        assert_eq!(rows[0].1.flags, FLAG_ACTIVE | FLAG_CLOSE_ONLY);
    }
}
