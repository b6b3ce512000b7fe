//! `mam accounts statement --state DIR`: every account's money and positions as the engine
//! holds them, marked at the last quote the journal holds, and Σ positions per symbol beside
//! mam's net position at the LP.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use mam_core::account::AccountRecord;
use mam_core::engine::Engine;
use mam_core::ledger::Valuation;
use mam_core::num::{Money, Price, Qty};
use mam_core::symbol::SymbolTable;
use serde_json::json;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text.
    Text,
    /// One JSON document.
    Json,
    /// CSV, one row per position (accounts without one get a row with an empty symbol).
    Csv,
}

fn symbols(path: Option<&Path>) -> anyhow::Result<SymbolTable> {
    Ok(match path {
        Some(p) => SymbolTable::with_overrides(
            &std::fs::read_to_string(p).with_context(|| format!("symbols {}", p.display()))?,
        )?,
        None => SymbolTable::builtin(),
    })
}

/// Recovers the engine of a stopped state directory (checkpoint + journal) without changing
/// anything in it: the journal is replayed copy-on-write (`Engine::recover_read_only`).
pub fn recover(state: &Path, symbols_file: Option<&Path>) -> anyhow::Result<Engine> {
    let r = Engine::recover_read_only(
        &state.join("checkpoints"),
        &state.join("journal"),
        mam_core::journal::JournalConfig::default(),
        symbols(symbols_file)?,
    )
    .with_context(|| format!("recovering {}", state.display()))?;
    Ok(r.engine)
}

/// One position line.
struct Line {
    symbol: String,
    qty: Qty,
    avg: Option<Price>,
    unrealised: Money,
    realised: Money,
    commission: Money,
    swap: Money,
}

/// One account's statement: its record, money, limits and positions.
struct Statement {
    rec: AccountRecord,
    v: Valuation,
    /// The limits in force, joined by `+` (`-`: none).
    limits: String,
    lines: Vec<Line>,
}

/// One symbol's total: Σ accounts, unallocated, and mam's net position at the LP.
type Total = (String, Qty, Qty, Qty);

/// Runs the statement.
pub fn run(
    state: &Path,
    symbols_file: Option<&Path>,
    id: Option<&str>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let e = recover(state, symbols_file)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut out_json = Vec::new();
    let mut csv = String::from(
        "account,currency,balance,equity,margin,free_margin,margin_level,limits,symbol,qty,avg_price,unrealised,realised,commission,swap\n",
    );
    for i in account_indices(&e, id, state)? {
        let st = statement(&e, i);
        match format {
            Format::Text => write_text(&mut out, &st)?,
            Format::Json => out_json.push(json_of(&st)),
            Format::Csv => push_csv(&mut csv, &st),
        }
    }
    write_totals(&mut out, format, &totals(&e), out_json, csv)?;
    Ok(ExitCode::SUCCESS)
}

/// The accounts asked for: the one with id `id`, or every one.
fn account_indices(e: &Engine, id: Option<&str>, state: &Path) -> anyhow::Result<Vec<usize>> {
    let acc = e.accounts();
    Ok(match id {
        Some(want) => {
            let i = (0..acc.id.len())
                .find(|&i| acc.columns().record(i).id_str() == want)
                .with_context(|| format!("no account `{want}` in {}", state.display()))?;
            vec![i]
        }
        None => (0..acc.id.len()).collect(),
    })
}

/// Account `i`'s statement as the engine holds it.
fn statement(e: &Engine, i: usize) -> Statement {
    let a = i as u32;
    Statement {
        rec: e.accounts().columns().record(i),
        v: e.valuation(a).expect("account in range"),
        limits: limits_text(e, a),
        lines: position_lines(e, a),
    }
}

/// The limits in force on account `a`, joined by `+` (`-`: none).
fn limits_text(e: &Engine, a: u32) -> String {
    let lf = e.limit_flags(a).expect("account in range");
    let mut limits = Vec::new();
    if lf.margin_call {
        limits.push("margin-call");
    }
    if lf.stop_out_pending {
        limits.push("stop-out");
    }
    if lf.daily_loss {
        limits.push("daily-loss");
    }
    if lf.drawdown {
        limits.push("drawdown");
    }
    if limits.is_empty() {
        "-".to_string()
    } else {
        limits.join("+")
    }
}

/// Account `a`'s positions: every symbol it holds or has booked money on.
fn position_lines(e: &Engine, a: u32) -> Vec<Line> {
    let l = e.ledger();
    (0..l.instruments() as u32)
        .filter_map(|s| {
            let p = l.position(a, s);
            let any = !p.qty.is_zero()
                || !p.realised.is_zero()
                || !p.commission.is_zero()
                || !p.swap.is_zero();
            any.then(|| Line {
                symbol: symbol_name(e, s),
                qty: p.qty,
                avg: p.avg_price(),
                unrealised: l.unrealised(a, s),
                realised: p.realised,
                commission: p.commission,
                swap: p.swap,
            })
        })
        .collect()
}

fn symbol_name(e: &Engine, s: u32) -> String {
    e.symbols()
        .by_id(s)
        .map_or("?".into(), |x| x.name_str().to_string())
}

/// An account's lines of the text statement.
fn write_text(out: &mut impl Write, st: &Statement) -> std::io::Result<()> {
    let (rec, v) = (&st.rec, &st.v);
    let level = v
        .margin_level()
        .map_or("-".to_string(), |r| format!("{r}%"));
    writeln!(
        out,
        "{} {}  balance {}  equity {}  margin {}  free {}  level {}  hwm {}  limits {}",
        rec.id_str(),
        rec.currency_str(),
        v.balance,
        v.equity,
        v.margin,
        v.free_margin(),
        level,
        rec.equity_hwm,
        st.limits
    )?;
    let opt = |p: Option<Price>| p.map_or("-".to_string(), |p| p.to_string());
    for x in &st.lines {
        writeln!(out,
            "    {:<8} qty {:>14}  avg {:>12}  unrealised {:>14}  realised {:>14}  commission {}  swap {}",
            x.symbol,
            x.qty,
            opt(x.avg),
            x.unrealised,
            x.realised,
            x.commission,
            x.swap
        )?;
    }
    Ok(())
}

/// An account in the JSON statement.
fn json_of(st: &Statement) -> serde_json::Value {
    let (rec, v) = (&st.rec, &st.v);
    json!({
        "account": rec.id_str(),
        "currency": rec.currency_str(),
        "balance": v.balance.to_string(),
        "equity": v.equity.to_string(),
        "margin": v.margin.to_string(),
        "free_margin": v.free_margin().to_string(),
        "margin_level": v.margin_level().map(|r| r.to_string()),
        "equity_hwm": rec.equity_hwm.to_string(),
        "limits": st.limits,
        "positions": st.lines.iter().map(|x| json!({
            "symbol": x.symbol,
            "qty": x.qty.to_string(),
            "avg_price": x.avg.map(|p| p.to_string()),
            "unrealised": x.unrealised.to_string(),
            "realised": x.realised.to_string(),
            "commission": x.commission.to_string(),
            "swap": x.swap.to_string(),
        })).collect::<Vec<_>>(),
    })
}

/// An account's CSV rows: one per position, or one with an empty symbol.
fn push_csv(csv: &mut String, st: &Statement) {
    let (rec, v) = (&st.rec, &st.v);
    let head = format!(
        "{},{},{},{},{},{},{},{}",
        rec.id_str(),
        rec.currency_str(),
        v.balance,
        v.equity,
        v.margin,
        v.free_margin(),
        v.margin_level().map_or(String::new(), |r| r.to_string()),
        st.limits
    );
    if st.lines.is_empty() {
        csv.push_str(&format!("{head},,,,,,,\n"));
    }
    for x in &st.lines {
        csv.push_str(&format!(
            "{head},{},{},{},{},{},{},{}\n",
            x.symbol,
            x.qty,
            x.avg.map_or(String::new(), |p| p.to_string()),
            x.unrealised,
            x.realised,
            x.commission,
            x.swap
        ));
    }
}

/// Σ over accounts per symbol beside the LP, for the symbols anyone holds.
fn totals(e: &Engine) -> Vec<Total> {
    let l = e.ledger();
    let mut totals = Vec::new();
    for s in 0..l.instruments() as u32 {
        let sum = l.sum_positions(s);
        let lp = l.lp_net(s);
        if sum == 0 && lp.is_zero() {
            continue;
        }
        let sum = Qty(i64::try_from(sum).unwrap_or(i64::MAX));
        totals.push((symbol_name(e, s), sum, l.unallocated(s), lp));
    }
    totals
}

/// The totals, and the statement's end: the JSON document of `accounts`, or the `csv` rows.
fn write_totals(
    out: &mut impl Write,
    format: Format,
    totals: &[Total],
    accounts: Vec<serde_json::Value>,
    mut csv: String,
) -> std::io::Result<()> {
    match format {
        Format::Text => {
            if totals.is_empty() {
                writeln!(out, "TOTAL every symbol flat: Σ accounts 0 = LP net 0")?;
            }
            for (name, sum, un, lp) in totals {
                let ok = sum.raw().checked_add(un.raw()) == Some(lp.raw());
                writeln!(
                    out,
                    "TOTAL {name:<8} Σ accounts {sum}  unallocated {un}  LP net {lp}  {}",
                    if ok { "balanced" } else { "MISMATCH" }
                )?;
            }
        }
        Format::Json => {
            let doc = json!({
                "accounts": accounts,
                "totals": totals.iter().map(|(n, s, u, lp)| json!({
                    "symbol": n, "accounts": s.to_string(), "unallocated": u.to_string(),
                    "lp_net": lp.to_string(),
                })).collect::<Vec<_>>(),
            });
            writeln!(out, "{doc}")?;
        }
        Format::Csv => {
            for (name, sum, un, lp) in totals {
                csv.push_str(&format!(
                    "TOTAL,,,,,,,,{name},{sum},,,,unallocated={un},lp_net={lp}\n"
                ));
            }
            write!(out, "{csv}")?;
        }
    }
    Ok(())
}
