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
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use thiserror::Error;

use crate::num::{Lots, NumError, Price, Qty};

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
        };
        spec.validate()?;
        Ok(spec)
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
