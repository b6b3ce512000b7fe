//! `mam explain --state DIR --ticket N [--account ID]`: why each account got what it got in an
//! adaptive allocation, read from the journal (kinds 38 and 39), read only.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use mam_core::adaptive::factors::{as_factor, FLAG_CUT_TO_MAX, FLAG_DD_LIMIT, FLAG_LOT_RULES};
use mam_core::adaptive::factors::{FLAG_MARGIN_CUT, FLAG_NO_BOUNDS, FLAG_RAISED_TO_MIN};
use mam_core::adaptive::{AdaptiveAccount, AdaptiveTicket, Regime};
use mam_core::engine::{read_checkpoint, Decision};
use mam_core::journal::JournalReader;

/// Arguments of `mam explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The daemon's (or `mam run --state`'s) state directory, holding `journal/` and
    /// `checkpoints/`.
    #[arg(long)]
    pub state: PathBuf,
    /// Master ticket.
    #[arg(long)]
    pub ticket: u64,
    /// Only this account (its id, as imported).
    #[arg(long)]
    pub account: Option<String>,
    /// One JSON object per allocation instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn flag_names(f: u32) -> String {
    let names = [
        (FLAG_RAISED_TO_MIN, "raised-to-min"),
        (FLAG_CUT_TO_MAX, "cut-to-max"),
        (FLAG_LOT_RULES, "lot-rules"),
        (FLAG_NO_BOUNDS, "no-bounds"),
        (FLAG_MARGIN_CUT, "margin-cut"),
        (FLAG_DD_LIMIT, "drawdown-limit"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|&(_, n)| n)
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

/// Runs `mam explain`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let cp = read_checkpoint(&a.state.join("checkpoints"))
        .with_context(|| format!("reading the checkpoint under {}", a.state.display()))?;
    let ids: Vec<String> = cp
        .accounts
        .id
        .iter()
        .map(|id| {
            let end = id.iter().position(|&b| b == 0).unwrap_or(16);
            String::from_utf8_lossy(&id[..end]).into_owned()
        })
        .collect();
    let only = match &a.account {
        Some(id) => Some(
            ids.iter()
                .position(|x| x == id)
                .with_context(|| format!("no account {id:?} in {}", a.state.display()))?
                as u32,
        ),
        None => None,
    };
    let jdir = a.state.join("journal");
    let reader = JournalReader::open(&jdir)
        .with_context(|| format!("opening the journal {}", jdir.display()))?;
    let mut groups: Vec<(AdaptiveTicket, Vec<AdaptiveAccount>)> = Vec::new();
    for r in reader.records(0) {
        let r = r.with_context(|| format!("reading {}", jdir.display()))?;
        match Decision::decode(r.kind, r.payload) {
            Some(Decision::AdaptiveTicket(t)) if t.ticket == a.ticket => {
                groups.push((t, Vec::new()));
            }
            Some(Decision::AdaptiveAccount(x))
                if x.ticket == a.ticket && only.is_none_or(|o| o == x.account) =>
            {
                if let Some(g) = groups.last_mut() {
                    g.1.push(x);
                }
            }
            _ => {}
        }
    }
    if groups.is_empty() {
        bail!(
            "ticket {} has no adaptive allocation in {} (was it opened with the adaptive \
             layer on?)",
            a.ticket,
            jdir.display()
        );
    }
    // Instruments by the built-in table's ids (what the daemon and the demo run with unless
    // given `symbols` overrides that add symbols).
    let table = mam_core::symbol::SymbolTable::builtin();
    let symbol = |i: u32| {
        table
            .by_id(i)
            .map_or(format!("#{i}"), |s| s.name_str().to_string())
    };
    let id_of = |i: u32| {
        ids.get(i as usize)
            .cloned()
            .unwrap_or_else(|| format!("#{i}"))
    };
    let regime = |r: u8| Regime::from_u8(r).map_or("?", |r| r.name());
    for (t, accts) in &groups {
        if a.json {
            let rows: Vec<_> = accts
                .iter()
                .map(|x| {
                    serde_json::json!({
                        "account": id_of(x.account), "static_steps": x.static_steps,
                        "steps": x.steps, "vol": as_factor(x.vol).to_string(),
                        "liquidity": as_factor(x.liquidity).to_string(),
                        "spread": as_factor(x.spread).to_string(),
                        "margin": as_factor(x.margin).to_string(),
                        "drawdown": as_factor(x.drawdown).to_string(),
                        "legs": as_factor(x.legs).to_string(),
                        "risk": as_factor(x.risk).to_string(),
                        "slippage": as_factor(x.slippage).to_string(),
                        "product": as_factor(x.product).to_string(),
                        "scale": as_factor(x.scale).to_string(),
                        "flags": flag_names(x.flags),
                    })
                })
                .collect();
            let v = serde_json::json!({
                "ticket": t.ticket, "input_seq": t.input_seq, "instrument": symbol(t.instrument),
                "regime": regime(t.regime), "sigma": t.sigma, "sigma_target": t.sigma_target,
                "vol": as_factor(t.vol).to_string(), "sqrt_qv": as_factor(t.sqrt_qv).to_string(),
                "spread": as_factor(t.spread).to_string(), "requested_steps": t.requested,
                "slip_probability_ppb": t.slip_ppb,
                "static_steps": t.static_total, "adaptive_steps": t.adaptive_total,
                "accounts": rows,
            });
            println!("{v}");
            continue;
        }
        println!(
            "ticket {} (input {}): {}, regime {}, sigma {} vs target {} (1e-9 per \
             interval), vol {:.4}, sqrt(Q/V) {:.4}, spread {:.4}; requested {} steps, static {}, \
             adaptive {}",
            t.ticket,
            t.input_seq,
            symbol(t.instrument),
            regime(t.regime),
            t.sigma,
            t.sigma_target,
            as_factor(t.vol),
            as_factor(t.sqrt_qv),
            as_factor(t.spread),
            t.requested,
            t.static_total,
            t.adaptive_total
        );
        println!(
            "{:<16} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}  flags",
            "account",
            "static",
            "vol",
            "liq",
            "spread",
            "margin",
            "dd",
            "legs",
            "risk",
            "slip",
            "product",
            "scale",
            "steps"
        );
        for x in accts {
            println!(
                "{:<16} {:>7} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} \
                 {:>7.4} {:>7.4} {:>7}  {}",
                id_of(x.account),
                x.static_steps,
                as_factor(x.vol),
                as_factor(x.liquidity),
                as_factor(x.spread),
                as_factor(x.margin),
                as_factor(x.drawdown),
                as_factor(x.legs),
                as_factor(x.risk),
                as_factor(x.slippage),
                as_factor(x.product),
                as_factor(x.scale),
                x.steps,
                flag_names(x.flags)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
