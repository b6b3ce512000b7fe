//! `mam accounts statement --state DIR`: every account's money and positions as the engine
//! holds them, marked at the last quote the journal holds, and Σ positions per symbol beside
//! mam's net position at the LP.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use mam_core::engine::Engine;
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

/// Runs the statement.
pub fn run(
    state: &Path,
    symbols_file: Option<&Path>,
    id: Option<&str>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let e = recover(state, symbols_file)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let acc = e.accounts();
    let l = e.ledger();
    let ids: Vec<usize> = match id {
        Some(want) => {
            let i = (0..acc.id.len())
                .find(|&i| acc.columns().record(i).id_str() == want)
                .with_context(|| format!("no account `{want}` in {}", state.display()))?;
            vec![i]
        }
        None => (0..acc.id.len()).collect(),
    };
    let ni = l.instruments() as u32;
    let mut out_json = Vec::new();
    let mut csv = String::from(
        "account,currency,balance,equity,margin,free_margin,margin_level,limits,symbol,qty,avg_price,unrealised,realised,commission,swap\n",
    );
    for &i in &ids {
        let a = i as u32;
        let rec = acc.columns().record(i);
        let v = e.valuation(a).expect("account in range");
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
        let limits = if limits.is_empty() {
            "-".to_string()
        } else {
            limits.join("+")
        };
        let level = v
            .margin_level()
            .map_or("-".to_string(), |r| format!("{r}%"));
        let lines: Vec<Line> = (0..ni)
            .filter_map(|s| {
                let p = l.position(a, s);
                let any = !p.qty.is_zero()
                    || !p.realised.is_zero()
                    || !p.commission.is_zero()
                    || !p.swap.is_zero();
                any.then(|| Line {
                    symbol: e
                        .symbols()
                        .by_id(s)
                        .map_or("?".into(), |x| x.name_str().to_string()),
                    qty: p.qty,
                    avg: p.avg_price(),
                    unrealised: l.unrealised(a, s),
                    realised: p.realised,
                    commission: p.commission,
                    swap: p.swap,
                })
            })
            .collect();
        let opt = |p: Option<Price>| p.map_or("-".to_string(), |p| p.to_string());
        match format {
            Format::Text => {
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
                    limits
                )?;
                for x in &lines {
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
            }
            Format::Json => out_json.push(json!({
                "account": rec.id_str(),
                "currency": rec.currency_str(),
                "balance": v.balance.to_string(),
                "equity": v.equity.to_string(),
                "margin": v.margin.to_string(),
                "free_margin": v.free_margin().to_string(),
                "margin_level": v.margin_level().map(|r| r.to_string()),
                "equity_hwm": rec.equity_hwm.to_string(),
                "limits": limits,
                "positions": lines.iter().map(|x| json!({
                    "symbol": x.symbol,
                    "qty": x.qty.to_string(),
                    "avg_price": x.avg.map(|p| p.to_string()),
                    "unrealised": x.unrealised.to_string(),
                    "realised": x.realised.to_string(),
                    "commission": x.commission.to_string(),
                    "swap": x.swap.to_string(),
                })).collect::<Vec<_>>(),
            })),
            Format::Csv => {
                let head = format!(
                    "{},{},{},{},{},{},{},{}",
                    rec.id_str(),
                    rec.currency_str(),
                    v.balance,
                    v.equity,
                    v.margin,
                    v.free_margin(),
                    v.margin_level().map_or(String::new(), |r| r.to_string()),
                    limits
                );
                if lines.is_empty() {
                    csv.push_str(&format!("{head},,,,,,,\n"));
                }
                for x in &lines {
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
        }
    }
    // Σ over accounts per symbol beside the LP.
    let mut totals = Vec::new();
    for s in 0..ni {
        let sum = l.sum_positions(s);
        let lp = l.lp_net(s);
        if sum == 0 && lp.is_zero() {
            continue;
        }
        let name = e
            .symbols()
            .by_id(s)
            .map_or("?".into(), |x| x.name_str().to_string());
        let sum = Qty(i64::try_from(sum).unwrap_or(i64::MAX));
        totals.push((name, sum, l.unallocated(s), lp));
    }
    match format {
        Format::Text => {
            if totals.is_empty() {
                writeln!(out, "TOTAL every symbol flat: Σ accounts 0 = LP net 0")?;
            }
            for (name, sum, un, lp) in &totals {
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
                "accounts": out_json,
                "totals": totals.iter().map(|(n, s, u, lp)| json!({
                    "symbol": n, "accounts": s.to_string(), "unallocated": u.to_string(),
                    "lp_net": lp.to_string(),
                })).collect::<Vec<_>>(),
            });
            writeln!(out, "{doc}")?;
        }
        Format::Csv => {
            for (name, sum, un, lp) in &totals {
                csv.push_str(&format!(
                    "TOTAL,,,,,,,,{name},{sum},,,,unallocated={un},lp_net={lp}\n"
                ));
            }
            write!(out, "{csv}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
