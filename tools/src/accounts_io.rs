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
//! | `flags` | integer: 1 active, 2 close-only, 4 flatten at a loss limit | 1 (active) | no other bits |
//! | `commission_per_lot` | money | 0 | >= 0 |
//! | `daily_loss_limit` | money | 0 (no limit) | >= 0 |
//! | `margin_call_level` | ratio, percent | 0 (engine default, 100) | >= 0 |
//! | `stop_out_level` | ratio, percent | 0 (engine default, 50) | >= 0; not above `margin_call_level` when both are set |
//! | `currency` | 3-7 ASCII uppercase letters or digits | `USD` | |
//! | `limit_action` | `close-only` or `flatten` | from `flags` | overrides the flatten bit (4) |
//! | `manager` | integer 0-63: the manager (MAM group) whose masters the account follows | 0 | |
//! | `active`, `close_only` | boolean (`1/0/true/false/yes/no`) | from `flags` | override that bit |
//!
//! Flag 8 ([`FLAG_LIMIT_CLOSE_ONLY_SET`]) is the engine's own mark that a loss limit holds the
//! account close-only: it is state, not a setting, so `flags` refuses it and [`write_csv`]
//! leaves it out (an export stays importable).
//!
//! Numbers are parsed exactly (`1.0000001` is refused for money, never rounded). Any other
//! column is ignored with a warning. The whole file is parsed before anything is returned: a bad
//! row is refused with its line number, column and reason, and duplicate ids are refused.
//! A file is read up to 1 GiB in all and 1 MiB per line ([`MAX_CSV_BYTES`], [`MAX_CSV_LINE`]);
//! past either it is refused with its name and the limit (a pipe or a device such as
//! `/dev/zero` too).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use mam_core::account::store::{is_store_file, AccountStore};
use mam_core::account::{
    encode_currency, encode_id, manager_of, with_manager, AccountColumns, AccountRecord,
    AccountVecs, FLAG_ACTIVE, FLAG_CLOSE_ONLY, FLAG_LIMIT_CLOSE_ONLY_SET, FLAG_LIMIT_FLATTEN,
    FLAG_MANAGER_MASK, MAX_MANAGERS, USD,
};
use mam_core::num::{Lots, Money, Ratio};

/// Every column this module reads, in the order `export` writes them.
pub const KNOWN_COLUMNS: [&str; 24] = [
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
    "commission_per_lot",
    "daily_loss_limit",
    "margin_call_level",
    "stop_out_level",
    "currency",
    "limit_action",
    "manager",
    "active",
    "close_only",
];

/// Number of columns `write_csv` writes: every stored field, plus `limit_action` (the flatten
/// bit of `flags` spelled out for a reader) and `manager` (the flags' manager bits), but not
/// the `active`/`close_only` aliases.
const EXPORTED: usize = 22;

/// Flag bits a CSV may set (the engine's [`FLAG_LIMIT_CLOSE_ONLY_SET`] is not one of them).
const IMPORTABLE_FLAGS: u16 = FLAG_ACTIVE | FLAG_CLOSE_ONLY | FLAG_LIMIT_FLATTEN;

/// The `limit_action` text for these flags.
pub fn limit_action(flags: u16) -> &'static str {
    if flags & FLAG_LIMIT_FLATTEN != 0 {
        "flatten"
    } else {
        "close-only"
    }
}

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

/// The most an account CSV may hold ([`read_csv`] refuses a larger file).
pub const MAX_CSV_BYTES: u64 = 1 << 30;
/// The longest line an account CSV may hold.
pub const MAX_CSV_LINE: u64 = 1 << 20;

/// The limit a [`Capped`] reader hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cap {
    Size,
    Line,
}

/// A reader that stops with an error past [`MAX_CSV_BYTES`] in all or [`MAX_CSV_LINE`] in one
/// line, and remembers which limit it hit.
struct Capped<R> {
    inner: R,
    total: u64,
    line: u64,
    hit: std::rc::Rc<std::cell::Cell<Option<Cap>>>,
}

impl<R: std::io::Read> std::io::Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.line = 0;
            } else {
                self.line += 1;
                if self.line > MAX_CSV_LINE {
                    self.hit.set(Some(Cap::Line));
                }
            }
        }
        if self.total > MAX_CSV_BYTES {
            self.hit.set(Some(Cap::Size));
        }
        match self.hit.get() {
            Some(_) => Err(std::io::Error::other("account CSV limit exceeded")),
            None => Ok(n),
        }
    }
}

/// Parses a whole account CSV file; each record comes with its line number. A file larger than
/// [`MAX_CSV_BYTES`] (1 GiB) or with a line longer than [`MAX_CSV_LINE`] (1 MiB) is refused;
/// a pipe or device is read through the same limits.
pub fn read_csv(path: &Path) -> anyhow::Result<Vec<(u64, AccountRecord)>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let too_big = || {
        anyhow::anyhow!(
            "{}: larger than the account CSV limit of {MAX_CSV_BYTES} bytes (1 GiB); refused",
            path.display()
        )
    };
    if let Ok(m) = file.metadata() {
        if m.is_file() && m.len() > MAX_CSV_BYTES {
            return Err(too_big());
        }
    }
    let hit = std::rc::Rc::new(std::cell::Cell::new(None));
    let capped = Capped {
        inner: file,
        total: 0,
        line: 0,
        hit: hit.clone(),
    };
    let parsed = parse_csv(capped);
    match hit.get() {
        Some(Cap::Size) => Err(too_big()),
        Some(Cap::Line) => Err(anyhow::anyhow!(
            "{}: a line longer than the account CSV limit of {MAX_CSV_LINE} bytes (1 MiB); refused",
            path.display()
        )),
        None => parsed.with_context(|| format!("{}", path.display())),
    }
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
        if flags & FLAG_LIMIT_CLOSE_ONLY_SET != 0 {
            return Err(self.err(
                "flags",
                format!(
                    "{flags} has bit {FLAG_LIMIT_CLOSE_ONLY_SET} (held close-only by a loss \
                     limit), which only the engine sets"
                ),
            ));
        }
        if flags & !IMPORTABLE_FLAGS != 0 {
            return Err(self.err(
                "flags",
                format!("{flags} has unknown bits (1 active, 2 close-only, 4 flatten at a limit)"),
            ));
        }
        for (name, bit) in [("active", FLAG_ACTIVE), ("close_only", FLAG_CLOSE_ONLY)] {
            match self.boolean(name)? {
                Some(true) => flags |= bit,
                Some(false) => flags &= !bit,
                None => {}
            }
        }
        match self
            .cell("limit_action")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => {}
            Some("close-only") => flags &= !FLAG_LIMIT_FLATTEN,
            Some("flatten") => flags |= FLAG_LIMIT_FLATTEN,
            Some(_) => {
                let s = self.cell("limit_action").unwrap_or_default();
                return Err(self.err(
                    "limit_action",
                    format!("`{s}` is not a limit action (`close-only` or `flatten`)"),
                ));
            }
        }
        let manager: u8 = self.int("manager", 0)?;
        if usize::from(manager) >= MAX_MANAGERS {
            return Err(self.err(
                "manager",
                format!(
                    "{manager} is not a manager number (0 to {})",
                    MAX_MANAGERS - 1
                ),
            ));
        }
        let flags = with_manager(flags, manager);
        let commission_per_lot = self.non_negative_money("commission_per_lot")?;
        let daily_loss_limit = self.non_negative_money("daily_loss_limit")?;
        let margin_call_level = self.ratio_in("margin_call_level", Ratio::ZERO, 0, None)?;
        let stop_out_level = self.ratio_in("stop_out_level", Ratio::ZERO, 0, None)?;
        // 0 means "the engine default" for either, so only two explicit levels can disagree.
        if !margin_call_level.is_zero()
            && !stop_out_level.is_zero()
            && stop_out_level > margin_call_level
        {
            return Err(self.err(
                "stop_out_level",
                format!(
                    "{stop_out_level} is above margin_call_level {margin_call_level}: positions \
                     would be closed before the margin call is raised"
                ),
            ));
        }
        let currency = match self.cell("currency") {
            None => USD,
            Some(s) => encode_currency(s).ok_or_else(|| {
                self.err(
                    "currency",
                    format!(
                        "`{s}` is not a currency code: 3 to 7 ASCII uppercase letters or digits \
                         (USD, EUR, JPY, USDT)"
                    ),
                )
            })?,
        };
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
            commission_per_lot,
            daily_loss_limit,
            margin_call_level,
            stop_out_level,
            currency,
        })
    }

    /// A money cell that defaults to 0 and may not be negative.
    fn non_negative_money(&self, name: &str) -> Result<Money, RowError> {
        let v = self.num(name, Money::ZERO, Money::parse)?;
        if v.is_negative() {
            return Err(self.err(name, format!("{v} is negative")));
        }
        Ok(v)
    }
}

/// Writes accounts as CSV with every stored field (the first 22 of [`KNOWN_COLUMNS`]), numbers
/// printed exactly, so that reading it back gives the same records. The one exception is the
/// engine's [`FLAG_LIMIT_CLOSE_ONLY_SET`], left out of `flags` (see the module docs).
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
            (r.flags & !(FLAG_LIMIT_CLOSE_ONLY_SET | FLAG_MANAGER_MASK)).to_string(),
            r.commission_per_lot.to_string(),
            r.daily_loss_limit.to_string(),
            r.margin_call_level.to_string(),
            r.stop_out_level.to_string(),
            r.currency_str().to_string(),
            limit_action(r.flags).to_string(),
            manager_of(r.flags).to_string(),
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
        assert_eq!(
            (
                r.commission_per_lot,
                r.daily_loss_limit,
                r.margin_call_level,
                r.stop_out_level,
                r.currency_str()
            ),
            (Money::ZERO, Money::ZERO, Ratio::ZERO, Ratio::ZERO, "USD")
        );
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

    #[test]
    fn new_columns_parse() {
        let text = "id,balance,equity,commission_per_lot,daily_loss_limit,margin_call_level,\
                    stop_out_level,currency,limit_action,flags\n\
                    A1,1,1,3.5,250.000001,120,60,EUR,flatten,\n\
                    A2,1,1,,,0,150,USDT,,5\n\
                    A3,1,1,0,0,80,80,JPY,close-only,5\n\
                    A4,1,1,0.000001,0,,,,FLATTEN,3\n";
        let rows = parse_csv(text.as_bytes()).unwrap();
        let r = rows[0].1;
        assert_eq!(r.commission_per_lot, Money::parse("3.5").unwrap());
        assert_eq!(r.daily_loss_limit, Money(250_000_001));
        assert_eq!(r.margin_call_level, Ratio::parse("120").unwrap());
        assert_eq!(r.stop_out_level, Ratio::parse("60").unwrap());
        assert_eq!(r.currency_str(), "EUR");
        assert_eq!(r.flags, FLAG_ACTIVE | FLAG_LIMIT_FLATTEN);
        // A stop-out above the default margin call is the engine's business: 0 is not a level.
        let r = rows[1].1;
        assert_eq!(
            (r.stop_out_level, r.currency_str()),
            (Ratio::parse("150").unwrap(), "USDT")
        );
        assert_eq!(
            r.flags,
            FLAG_ACTIVE | FLAG_LIMIT_FLATTEN,
            "flags 5 keeps flatten"
        );
        assert_eq!(rows[2].1.flags, FLAG_ACTIVE, "limit_action overrides flags");
        assert_eq!(rows[2].1.currency_str(), "JPY");
        assert_eq!(rows[3].1.flags, 3 | FLAG_LIMIT_FLATTEN);
        assert_eq!(rows[3].1.commission_per_lot, Money(1));
    }

    /// Each refusal of the new columns names the line, the column and why.
    #[test]
    fn new_column_refusals_name_line_column_and_reason() {
        let head = "id,balance,equity,commission_per_lot,daily_loss_limit,margin_call_level,\
                    stop_out_level,currency,limit_action,flags\n\
                    OK,1,1,1,1,100,50,USD,flatten,1\n";
        let cases = [
            ("X,1,1,0.0000001,,,,,,", "commission_per_lot", "decimal"),
            ("X,1,1,-0.5,,,,,,", "commission_per_lot", "negative"),
            ("X,1,1,,1.1234567,,,,,", "daily_loss_limit", "decimal"),
            ("X,1,1,,-1,,,,,", "daily_loss_limit", "negative"),
            ("X,1,1,,,100.0000001,,,,", "margin_call_level", "decimal"),
            ("X,1,1,,,-1,,,,", "margin_call_level", "at least 0"),
            ("X,1,1,,,,-50,,,", "stop_out_level", "at least 0"),
            ("X,1,1,,,,1.00000001,,,", "stop_out_level", "decimal"),
            (
                "X,1,1,,,100,100.5,,,",
                "stop_out_level",
                "above margin_call_level 100",
            ),
            ("X,1,1,,,,,usd,,", "currency", "not a currency code"),
            ("X,1,1,,,,,US,,", "currency", "3 to 7"),
            ("X,1,1,,,,,USDOLLAR,,", "currency", "3 to 7"),
            ("X,1,1,,,,,U$D,,", "currency", "not a currency code"),
            (
                "X,1,1,,,,,,close,",
                "limit_action",
                "`close-only` or `flatten`",
            ),
            ("X,1,1,,,,,,,9", "flags", "only the engine sets"),
            ("X,1,1,,,,,,,16", "flags", "unknown bits"),
        ];
        for (row, col, why) in cases {
            let text = format!("{head}{row}\n");
            let e = parse_csv(text.as_bytes()).unwrap_err();
            assert_eq!((e.line, e.column.as_deref()), (3, Some(col)), "{row}: {e}");
            assert!(e.reason.contains(why), "{row}: {e}");
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("line 3, column `{col}`: ")),
                "{shown}"
            );
        }
    }

    #[test]
    fn export_leaves_out_the_engine_hold() {
        let r = AccountRecord {
            id: encode_id("H1").unwrap(),
            leverage: 100,
            flags: FLAG_ACTIVE | FLAG_LIMIT_FLATTEN | FLAG_LIMIT_CLOSE_ONLY_SET,
            ..AccountRecord::default()
        };
        let mut v = AccountVecs::default();
        v.push(&r);
        let mut out = Vec::new();
        write_csv(&mut out, &v.columns()).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(text.lines().next().unwrap().split(',').count(), EXPORTED);
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .ends_with(",5,0.0,0.0,0.0,0.0,USD,flatten,0"),
            "{text}"
        );
        let back = parse_csv(out.as_slice()).unwrap();
        assert_eq!(back[0].1.flags, FLAG_ACTIVE | FLAG_LIMIT_FLATTEN);
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
        fn any_record_round_trips(bal: i64, eq: i64, mu in 0i64.., hwm: i64, mult in 0i64.., pct in 0i64..=100_000_000, fixed in 0i64.., risk in 0i64..=1_000_000, dd in 0i64..=1_000_000, lo in 0i64..1_000_000, hi in 1_000_000i64.., lev in 1u32.., cluster: u16, flags in 0u16..8, manager in 0u8..64, comm in 0i64.., loss in 0i64.., so in 0i64..1_000_000_000, mc_over in 0i64..1_000_000_000, ccy in "[A-Z0-9]{3,7}") {
            let r = AccountRecord {
                id: encode_id("P1").unwrap(),
                balance: Money(bal), equity: Money(eq), margin_used: Money(mu), equity_hwm: Money(hwm),
                multiplier: Ratio(mult), percent: Ratio(pct), fixed_lots: Lots(fixed),
                risk_fraction: Ratio(risk), drawdown_tolerance: Ratio(dd), min_scale: Ratio(lo),
                max_scale: Ratio(hi), leverage: lev, cluster, flags: with_manager(flags, manager),
                commission_per_lot: Money(comm), daily_loss_limit: Money(loss),
                margin_call_level: Ratio(so + mc_over), stop_out_level: Ratio(so),
                currency: encode_currency(&ccy).unwrap(),
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
