//! Symbol specifications: contract size, lot limits and price scale per instrument.
//!
//! Built-in defaults cover the common FX majors, metals and BTCUSD (the values a typical
//! MetaTrader 5 retail server uses); a TOML file overrides or adds symbols:
//!
//! ```toml
//! [symbols.EURUSD]
//! contract_size = "100000"   # base units per lot
//! min_lot = "0.01"
//! lot_step = "0.01"
//! max_lot = "100"
//! price_decimals = 5
//! pip = "0.0001"
//! base_currency = "EUR"      # derived from a six-letter name when absent
//! quote_currency = "USD"     # P&L is in this currency, converted to the account's
//! margin_rate = "1"          # margin = notional ÷ leverage × margin_rate
//! ```
//!
//! P&L and margin are converted from the quote currency to an account's currency through the
//! live quotes of the symbol that joins the two (see [`SymbolTable::conversion`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use thiserror::Error;

pub use crate::account::encode_currency;
use crate::num::{Lots, NumError, Price, Qty, Ratio};

/// A symbol's trading specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolSpec {
    /// Name, ASCII, at most 15 bytes, NUL-padded.
    pub name: [u8; 16],
    /// Base units per lot (FX: 100,000; XAUUSD: 100 oz; BTCUSD: 1 BTC).
    pub contract_size: Qty,
    /// Smallest tradable size.
    pub min_lot: Lots,
    /// Sizes are whole multiples of this step.
    pub lot_step: Lots,
    /// Largest size of one order.
    pub max_lot: Lots,
    /// Decimals the venue quotes prices in (EURUSD 5, USDJPY 3, BTCUSD 1 or 2).
    pub price_decimals: u32,
    /// One pip (stop-loss distances in `--sl-pips` are in pips).
    pub pip: Price,
    /// Base currency (what one unit of the contract is), ASCII, NUL-padded; all zeros when
    /// unknown. Derived from a six-letter name (`EURUSD` → `EUR`), or set in the symbol file.
    pub base: [u8; 8],
    /// Quote currency (what prices and P&L are in), ASCII, NUL-padded; all zeros when unknown.
    pub quote: [u8; 8],
    /// Margin as a fraction of `notional ÷ leverage` (1 = the account's leverage applies as
    /// is; 2 = twice the margin, as brokers set for metals or crypto).
    pub margin_rate: Ratio,
}

/// A symbol specification that does not hold together, or a file that cannot be read.
#[derive(Debug, Error, PartialEq)]
pub enum SymbolError {
    /// A value is not a valid decimal for its field.
    #[error("symbol {symbol}: field `{field}`: {source}")]
    Number {
        /// Symbol.
        symbol: String,
        /// Field.
        field: &'static str,
        /// Why.
        source: NumError,
    },
    /// The values contradict each other.
    #[error("symbol {symbol}: {why}")]
    Invalid {
        /// Symbol.
        symbol: String,
        /// Why.
        why: String,
    },
    /// The TOML does not parse.
    #[error("symbol file: {0}")]
    Toml(String),
    /// The symbol is not known.
    #[error("unknown symbol `{0}` (not built in and not in the symbol file)")]
    Unknown(String),
}

impl SymbolSpec {
    /// Builds and checks a specification from decimal strings.
    pub fn new(
        name: &str,
        contract_size: &str,
        min_lot: &str,
        lot_step: &str,
        max_lot: &str,
        price_decimals: u32,
        pip: &str,
    ) -> Result<Self, SymbolError> {
        fn num<T>(
            name: &str,
            field: &'static str,
            r: Result<T, NumError>,
        ) -> Result<T, SymbolError> {
            r.map_err(|source| SymbolError::Number {
                symbol: name.to_string(),
                field,
                source,
            })
        }
        let spec = SymbolSpec {
            name: encode_name(name).ok_or_else(|| SymbolError::Invalid {
                symbol: name.to_string(),
                why: "name must be 1-15 ASCII letters, digits, '.', '_' or '-'".into(),
            })?,
            contract_size: num(name, "contract_size", Qty::parse(contract_size))?,
            min_lot: num(name, "min_lot", Lots::parse(min_lot))?,
            lot_step: num(name, "lot_step", Lots::parse(lot_step))?,
            max_lot: num(name, "max_lot", Lots::parse(max_lot))?,
            price_decimals,
            pip: num(name, "pip", Price::parse(pip))?,
            base: [0; 8],
            quote: [0; 8],
            margin_rate: Ratio(Ratio::ONE_RAW),
        };
        let spec = spec.with_currencies_from_name();
        spec.validate()?;
        Ok(spec)
    }

    /// Base and quote currencies from a six-letter name (`EURUSD`, `XAUUSD`, `BTCUSD`); left
    /// unknown otherwise.
    fn with_currencies_from_name(mut self) -> Self {
        let name = self.name;
        let n = &name[..name.iter().position(|&b| b == 0).unwrap_or(16)];
        if n.len() == 6 && n.iter().all(|b| b.is_ascii_uppercase()) {
            self.base[..3].copy_from_slice(&n[..3]);
            self.quote[..3].copy_from_slice(&n[3..]);
        }
        self
    }

    /// The base currency as text (empty when unknown).
    pub fn base_str(&self) -> &str {
        currency_str(&self.base)
    }

    /// The quote currency as text (empty when unknown).
    pub fn quote_str(&self) -> &str {
        currency_str(&self.quote)
    }

    /// Checks that the lot limits and scale hold together.
    pub fn validate(&self) -> Result<(), SymbolError> {
        let bad = |why: &str| {
            Err(SymbolError::Invalid {
                symbol: self.name_str().to_string(),
                why: why.to_string(),
            })
        };
        if self.contract_size.raw() <= 0 {
            return bad("contract_size must be positive");
        }
        if self.lot_step.raw() <= 0 {
            return bad("lot_step must be positive");
        }
        if self.min_lot.raw() <= 0 || self.min_lot.raw() % self.lot_step.raw() != 0 {
            return bad("min_lot must be a positive multiple of lot_step");
        }
        if self.max_lot < self.min_lot || self.max_lot.raw() % self.lot_step.raw() != 0 {
            return bad("max_lot must be a multiple of lot_step and at least min_lot");
        }
        if self.price_decimals > Price::DECIMALS {
            return bad("price_decimals must be at most 8");
        }
        if self.pip.raw() <= 0 {
            return bad("pip must be positive");
        }
        if self.margin_rate.raw() <= 0 {
            return bad("margin_rate must be positive");
        }
        Ok(())
    }

    /// The name as text.
    pub fn name_str(&self) -> &str {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(16);
        core::str::from_utf8(&self.name[..end]).unwrap_or("?")
    }

    /// Lot step, min lot and max lot as counts of lot steps.
    pub fn step_limits(&self) -> (i64, i64) {
        (
            self.min_lot.raw() / self.lot_step.raw(),
            self.max_lot.raw() / self.lot_step.raw(),
        )
    }

    /// Converts a size in lots to base units (exact: lots have 4 decimals, units 6).
    pub fn lots_to_qty(&self, lots: Lots) -> Result<Qty, NumError> {
        self.contract_size
            .mul_div(lots.raw(), Lots::ONE_RAW, crate::num::Rounding::TowardZero)
    }
}

/// A NUL-padded currency code as text.
pub fn currency_str(code: &[u8; 8]) -> &str {
    let end = code.iter().position(|&b| b == 0).unwrap_or(8);
    core::str::from_utf8(&code[..end]).unwrap_or("?")
}

/// Packs a symbol name into 16 NUL-padded bytes; `None` if it is not a valid name.
pub fn encode_name(name: &str) -> Option<[u8; 16]> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if !ok {
        return None;
    }
    let mut out = [0u8; 16];
    out[..name.len()].copy_from_slice(name.as_bytes());
    Some(out)
}

/// Built-in specifications: (name, contract size, min lot, lot step, max lot, price decimals, pip).
const BUILTIN: &[(&str, &str, &str, &str, &str, u32, &str)] = &[
    ("EURUSD", "100000", "0.01", "0.01", "100", 5, "0.0001"),
    ("GBPUSD", "100000", "0.01", "0.01", "100", 5, "0.0001"),
    ("AUDUSD", "100000", "0.01", "0.01", "100", 5, "0.0001"),
    ("NZDUSD", "100000", "0.01", "0.01", "100", 5, "0.0001"),
    ("USDCHF", "100000", "0.01", "0.01", "100", 5, "0.0001"),
    ("USDCAD", "100000", "0.01", "0.01", "100", 5, "0.0001"),
    ("USDJPY", "100000", "0.01", "0.01", "100", 3, "0.01"),
    ("EURJPY", "100000", "0.01", "0.01", "100", 3, "0.01"),
    ("GBPJPY", "100000", "0.01", "0.01", "100", 3, "0.01"),
    ("EURGBP", "100000", "0.01", "0.01", "100", 5, "0.0001"),
    ("XAUUSD", "100", "0.01", "0.01", "50", 2, "0.1"),
    ("XAGUSD", "5000", "0.01", "0.01", "50", 3, "0.01"),
    ("BTCUSD", "1", "0.01", "0.01", "20", 1, "1"),
];

/// The table of known symbols; the index of a symbol is its instrument id in events.
#[derive(Debug, Clone)]
pub struct SymbolTable {
    specs: Vec<SymbolSpec>,
}

#[derive(Deserialize)]
struct SymbolFile {
    #[serde(default)]
    symbols: BTreeMap<String, SymbolEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SymbolEntry {
    contract_size: Option<String>,
    min_lot: Option<String>,
    lot_step: Option<String>,
    max_lot: Option<String>,
    price_decimals: Option<u32>,
    pip: Option<String>,
    base_currency: Option<String>,
    quote_currency: Option<String>,
    margin_rate: Option<String>,
}

impl Default for SymbolTable {
    fn default() -> Self {
        Self::builtin()
    }
}

impl SymbolTable {
    /// The built-in defaults.
    pub fn builtin() -> Self {
        let specs = BUILTIN
            .iter()
            .map(|&(n, c, mi, st, ma, d, p)| {
                SymbolSpec::new(n, c, mi, st, ma, d, p).expect("built-in symbol table is valid")
            })
            .collect();
        SymbolTable { specs }
    }

    /// The built-in defaults overridden (field by field) and extended by a TOML document.
    /// A new symbol must give every field.
    pub fn with_overrides(toml_text: &str) -> Result<Self, SymbolError> {
        let file: SymbolFile =
            toml::from_str(toml_text).map_err(|e| SymbolError::Toml(e.to_string()))?;
        let mut table = Self::builtin();
        for (name, e) in file.symbols {
            let base = table.get(&name).copied();
            let pick = |v: &Option<String>, field: &'static str, old: Option<String>| {
                v.clone().or(old).ok_or_else(|| SymbolError::Invalid {
                    symbol: name.clone(),
                    why: format!("new symbol needs `{field}`"),
                })
            };
            let spec = SymbolSpec::new(
                &name,
                &pick(
                    &e.contract_size,
                    "contract_size",
                    base.map(|b| b.contract_size.to_string()),
                )?,
                &pick(&e.min_lot, "min_lot", base.map(|b| b.min_lot.to_string()))?,
                &pick(
                    &e.lot_step,
                    "lot_step",
                    base.map(|b| b.lot_step.to_string()),
                )?,
                &pick(&e.max_lot, "max_lot", base.map(|b| b.max_lot.to_string()))?,
                e.price_decimals
                    .or(base.map(|b| b.price_decimals))
                    .ok_or_else(|| SymbolError::Invalid {
                        symbol: name.clone(),
                        why: "new symbol needs `price_decimals`".into(),
                    })?,
                &pick(&e.pip, "pip", base.map(|b| b.pip.to_string()))?,
            )?;
            let mut spec = spec;
            if let Some(b) = base {
                // Keep what the built-in said unless the file says otherwise.
                (spec.base, spec.quote, spec.margin_rate) = (b.base, b.quote, b.margin_rate);
            }
            let ccy = |v: &Option<String>, field: &'static str, old: [u8; 8]| match v {
                None => Ok(old),
                Some(c) => encode_currency(c).ok_or_else(|| SymbolError::Invalid {
                    symbol: name.clone(),
                    why: format!(
                        "`{field}` = `{c}`: a currency is 3-7 upper-case letters or digits"
                    ),
                }),
            };
            spec.base = ccy(&e.base_currency, "base_currency", spec.base)?;
            spec.quote = ccy(&e.quote_currency, "quote_currency", spec.quote)?;
            if let Some(m) = &e.margin_rate {
                spec.margin_rate = Ratio::parse(m).map_err(|source| SymbolError::Number {
                    symbol: name.clone(),
                    field: "margin_rate",
                    source,
                })?;
            }
            spec.validate()?;
            match table.id_of(&name) {
                Some(id) => table.specs[id as usize] = spec,
                None => table.specs.push(spec),
            }
        }
        Ok(table)
    }

    /// The spec of `name`, if known.
    pub fn get(&self, name: &str) -> Option<&SymbolSpec> {
        self.id_of(name).map(|i| &self.specs[i as usize])
    }

    /// The spec of `name`, or an error naming it.
    pub fn require(&self, name: &str) -> Result<&SymbolSpec, SymbolError> {
        self.get(name)
            .ok_or_else(|| SymbolError::Unknown(name.to_string()))
    }

    /// Instrument id of `name`.
    pub fn id_of(&self, name: &str) -> Option<u32> {
        self.specs
            .iter()
            .position(|s| s.name_str() == name)
            .map(|i| i as u32)
    }

    /// The spec of instrument `id`.
    pub fn by_id(&self, id: u32) -> Option<&SymbolSpec> {
        self.specs.get(id as usize)
    }

    /// Every spec, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &SymbolSpec> {
        self.specs.iter()
    }

    /// How an amount in `instrument`'s quote currency becomes an amount in `account` currency:
    /// the same currency needs nothing; otherwise the symbol that joins the two converts, at
    /// the mid of its latest quote — multiplying when it is `QUOTE/ACCOUNT` (EURGBP's GBP on a
    /// USD account: × GBPUSD), dividing when it is `ACCOUNT/QUOTE` (USDJPY's JPY on a USD
    /// account: ÷ USDJPY, the position's own symbol). The first such symbol in id order wins.
    pub fn conversion(
        &self,
        instrument: u32,
        account: &[u8; 8],
    ) -> Result<Conversion, SymbolError> {
        let spec = self
            .by_id(instrument)
            .ok_or_else(|| SymbolError::Unknown(format!("instrument {instrument}")))?;
        if spec.quote == [0; 8] {
            return Err(SymbolError::Invalid {
                symbol: spec.name_str().to_string(),
                why: "quote currency unknown: set `quote_currency` in the symbol file".into(),
            });
        }
        if &spec.quote == account {
            return Ok(Conversion::Identity);
        }
        for (i, s) in self.specs.iter().enumerate() {
            if s.base == spec.quote && &s.quote == account {
                return Ok(Conversion::Multiply(i as u32));
            }
            if &s.base == account && s.quote == spec.quote {
                return Ok(Conversion::Divide(i as u32));
            }
        }
        Err(SymbolError::Invalid {
            symbol: spec.name_str().to_string(),
            why: format!(
                "no symbol converts its quote currency {} to the account currency {}: add {}{} \
                 or {}{} to the symbol file",
                spec.quote_str(),
                currency_str(account),
                spec.quote_str(),
                currency_str(account),
                currency_str(account),
                spec.quote_str()
            ),
        })
    }
}

/// How an amount in a symbol's quote currency is converted to an account currency (see
/// [`SymbolTable::conversion`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Same currency.
    Identity,
    /// Multiply by the mid of this instrument (`QUOTE/ACCOUNT`).
    Multiply(u32),
    /// Divide by the mid of this instrument (`ACCOUNT/QUOTE`).
    Divide(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_valid() {
        let t = SymbolTable::builtin();
        let e = t.require("EURUSD").unwrap();
        assert_eq!(e.step_limits(), (1, 10_000));
        assert_eq!(
            e.lots_to_qty(Lots::parse("1.37").unwrap()).unwrap(),
            Qty::parse("137000").unwrap()
        );
        assert!(t.require("NOPE").is_err());
    }

    #[test]
    fn conversions_through_the_joining_symbol() {
        let t = SymbolTable::builtin();
        let usd = encode_currency("USD").unwrap();
        let id = |n| t.id_of(n).unwrap();
        assert_eq!(t.conversion(id("EURUSD"), &usd), Ok(Conversion::Identity));
        assert_eq!(
            t.conversion(id("USDJPY"), &usd),
            Ok(Conversion::Divide(id("USDJPY")))
        );
        assert_eq!(
            t.conversion(id("EURGBP"), &usd),
            Ok(Conversion::Multiply(id("GBPUSD")))
        );
        let eur = encode_currency("EUR").unwrap();
        assert_eq!(
            t.conversion(id("GBPUSD"), &eur),
            Ok(Conversion::Divide(id("EURUSD")))
        );
        let chf = encode_currency("CHF").unwrap();
        assert_eq!(
            t.conversion(id("EURUSD"), &chf),
            Ok(Conversion::Multiply(id("USDCHF")))
        );
        let xyz = encode_currency("XYZ").unwrap();
        let e = t.conversion(id("EURUSD"), &xyz).unwrap_err().to_string();
        assert!(e.contains("USDXYZ"), "{e}");
        assert_eq!(t.require("XAUUSD").unwrap().base_str(), "XAU");
    }

    #[test]
    fn overrides_field_by_field() {
        let t = SymbolTable::with_overrides(
            "[symbols.EURUSD]\nmin_lot = \"0.1\"\n[symbols.ETHUSD]\ncontract_size=\"1\"\nmin_lot=\"0.1\"\nlot_step=\"0.1\"\nmax_lot=\"100\"\nprice_decimals=2\npip=\"0.01\"\n",
        )
        .unwrap();
        assert_eq!(t.require("EURUSD").unwrap().min_lot.to_string(), "0.1");
        assert_eq!(t.require("EURUSD").unwrap().lot_step.to_string(), "0.01");
        assert!(t.get("ETHUSD").is_some());
        let bad = SymbolTable::with_overrides("[symbols.X]\nmin_lot=\"0.1\"\n").unwrap_err();
        assert!(bad.to_string().contains("contract_size"), "{bad}");
        let bad = SymbolTable::with_overrides("[symbols.EURUSD]\nmin_lot=\"0.015\"\n").unwrap_err();
        assert!(bad.to_string().contains("multiple of lot_step"), "{bad}");
    }
}
