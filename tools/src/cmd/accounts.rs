//! `mam accounts init|import|show|export`: the memory-mapped account store from the shell.
//!
//! `import` parses the whole CSV first (see `accounts_io` for the columns and defaults), merges
//! it with the store's accounts (rows whose id exists replace that account, new ids are
//! appended; `--replace` drops the old accounts), and writes the result as a new file that is
//! renamed over the old one. A bad CSV therefore leaves the store byte for byte untouched.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use mam_core::account::store::{AccountStore, DEFAULT_CAPACITY};
use mam_core::account::{
    AccountRecord, AccountVecs, FLAG_ACTIVE, FLAG_CLOSE_ONLY, FLAG_LIMIT_CLOSE_ONLY_SET,
    FLAG_LIMIT_FLATTEN,
};

use crate::accounts_io::{limit_action, read_csv, write_csv};

/// Subcommands of `mam accounts`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an empty store.
    Init {
        /// The store file to create (refused if it exists).
        #[arg(long)]
        store: PathBuf,
        /// Accounts it has room for before it must grow.
        #[arg(long, default_value_t = DEFAULT_CAPACITY)]
        capacity: u64,
    },
    /// Import accounts from CSV: into a store file (creating it if missing), or into a
    /// running daemon through its admin API (new ids added, existing ones' settings changed,
    /// each as journaled engine inputs).
    Import {
        /// The store file.
        #[arg(long, required_unless_present = "daemon", conflicts_with = "daemon")]
        store: Option<PathBuf>,
        /// A running daemon's admin API (`http://127.0.0.1:9880`) instead of a store.
        #[arg(long)]
        daemon: Option<String>,
        /// With --daemon: the file holding the admin token (`STATE/admin.token`); without it,
        /// the `MAM_ADMIN_TOKEN` environment variable.
        #[arg(long, requires = "daemon")]
        token_file: Option<PathBuf>,
        /// The CSV file.
        csv: PathBuf,
        /// Replace every account instead of merging by id (store only).
        #[arg(long, conflicts_with = "daemon")]
        replace: bool,
    },
    /// Print the store header and its accounts.
    Show {
        /// The store file.
        #[arg(long)]
        store: PathBuf,
        /// Only this account.
        #[arg(long)]
        id: Option<String>,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Every account's balance, equity, margin, free margin, margin level, positions (average
    /// price, unrealised and realised P&L, commission, swap) and limit state, recovered from a
    /// stopped daemon's state directory and marked at the last quote it journaled; then Σ
    /// positions per symbol beside mam's net position at the LP.
    Statement {
        /// The daemon's state directory (holding `journal/` and `checkpoints/`).
        #[arg(long)]
        state: PathBuf,
        /// Only this account.
        #[arg(long)]
        id: Option<String>,
        /// The symbol file the daemon ran with, if any.
        #[arg(long)]
        symbols: Option<PathBuf>,
        /// One JSON document on stdout.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// CSV, one row per position.
        #[arg(long)]
        csv: bool,
    },
    /// Write the accounts as CSV (every field; importing it back gives the same store).
    Export {
        /// The store file.
        #[arg(long)]
        store: PathBuf,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs `mam accounts`.
pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Init { store, capacity } => {
            let s = AccountStore::create(&store, capacity)?;
            let bytes = std::fs::metadata(&store).map_or(0, |m| m.len());
            println!(
                "created {}: capacity {} accounts, a sparse file of {:.1} MB (disk is used as \
                 accounts are written)",
                store.display(),
                s.capacity(),
                bytes as f64 / 1e6
            );
            if bytes > 1 << 30 {
                tracing::warn!(
                    "{}: {:.1} GB reserved for {} accounts; a copy or backup that does not \
                     keep holes writes all of it (give a smaller --capacity: the store grows \
                     when full)",
                    store.display(),
                    bytes as f64 / 1e9,
                    s.capacity()
                );
            }
        }
        Command::Import {
            store,
            daemon,
            token_file,
            csv,
            replace,
        } => match (store, daemon) {
            (Some(store), _) => import(&store, &csv, replace)?,
            (None, Some(url)) => {
                let d = super::accounts_daemon::Daemon::new(&url, token_file.as_deref())?;
                super::accounts_daemon::import(&d, &csv)?
            }
            (None, None) => anyhow::bail!("give --store FILE or --daemon URL"),
        },
        Command::Show { store, id, json } => show(&store, id.as_deref(), json)?,
        Command::Statement {
            state,
            id,
            symbols,
            json,
            csv,
        } => {
            use super::statement::{run, Format};
            let f = if json {
                Format::Json
            } else if csv {
                Format::Csv
            } else {
                Format::Text
            };
            return run(&state, symbols.as_deref(), id.as_deref(), f);
        }
        Command::Export { store, out } => {
            let s = AccountStore::open_read_only(&store)?;
            match out {
                Some(p) => {
                    // The store is memory-mapped: truncating it under the map would crash
                    // (SIGBUS) and leave it empty.
                    crate::out_file::refuse_same(&store, "--store", &p)?;
                    let (tmp, f) = crate::out_file::TempOut::create(&p)?;
                    let mut w = std::io::BufWriter::new(f);
                    write_csv(&mut w, &s.columns())
                        .with_context(|| format!("writing {}", p.display()))?;
                    w.into_inner()
                        .map_err(|e| e.into_error())
                        .with_context(|| format!("writing {}", p.display()))?;
                    tmp.commit()?;
                }
                None => write_csv(std::io::stdout().lock(), &s.columns())?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn import(store: &Path, csv: &Path, replace: bool) -> anyhow::Result<()> {
    if crate::out_file::same_file(csv, store) {
        anyhow::bail!(
            "the CSV {} is the same file as --store {}: refusing to read a store as CSV and \
             replace it",
            csv.display(),
            store.display()
        );
    }
    // Everything is parsed and checked before the store is touched.
    let rows = read_csv(csv)?;
    let existing = store.exists();
    let (mut merged, capacity, seq) = if existing {
        let s = AccountStore::open_read_only(store)?;
        let keep = if replace {
            AccountVecs::default()
        } else {
            s.to_vecs()
        };
        (keep, s.capacity() as u64, s.last_applied_seq())
    } else {
        (AccountVecs::default(), DEFAULT_CAPACITY, 0)
    };
    let mut index: std::collections::HashMap<[u8; 16], usize> = merged
        .id
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i))
        .collect();
    let (mut added, mut updated) = (0usize, 0usize);
    for (_, r) in &rows {
        match index.get(&r.id) {
            Some(&i) => {
                merged.set(i, r);
                updated += 1;
            }
            None => {
                index.insert(r.id, merged.id.len());
                merged.push(r);
                added += 1;
            }
        }
    }
    let n = merged.id.len() as u64;
    let capacity = if n > capacity {
        n.next_power_of_two()
    } else {
        capacity
    };
    let s = AccountStore::write_new(store, &merged.columns(), capacity, seq)?;
    println!(
        "imported {} rows from {} ({added} added, {updated} updated) into {}{}: {} accounts, capacity {}",
        rows.len(),
        csv.display(),
        store.display(),
        if existing { "" } else { " (created)" },
        s.len(),
        s.capacity()
    );
    Ok(())
}

fn record_json(r: &AccountRecord) -> serde_json::Value {
    serde_json::json!({
        "id": r.id_str(),
        "balance": r.balance.to_string(),
        "equity": r.equity.to_string(),
        "margin_used": r.margin_used.to_string(),
        "equity_hwm": r.equity_hwm.to_string(),
        "leverage": r.leverage,
        "multiplier": r.multiplier.to_string(),
        "percent": r.percent.to_string(),
        "fixed_lots": r.fixed_lots.to_string(),
        "risk_fraction": r.risk_fraction.to_string(),
        "drawdown_tolerance": r.drawdown_tolerance.to_string(),
        "min_scale": r.min_scale.to_string(),
        "max_scale": r.max_scale.to_string(),
        "cluster": r.cluster,
        "flags": r.flags,
        "active": r.flags & FLAG_ACTIVE != 0,
        "close_only": r.flags & FLAG_CLOSE_ONLY != 0,
        "commission_per_lot": r.commission_per_lot.to_string(),
        "daily_loss_limit": r.daily_loss_limit.to_string(),
        "margin_call_level": r.margin_call_level.to_string(),
        "stop_out_level": r.stop_out_level.to_string(),
        "currency": r.currency_str(),
        "limit_action": limit_action(r.flags),
        "manager": mam_core::account::manager_of(r.flags),
        "limit_close_only_held": r.flags & FLAG_LIMIT_CLOSE_ONLY_SET != 0,
    })
}

fn show(store: &Path, id: Option<&str>, json: bool) -> anyhow::Result<()> {
    let s = AccountStore::open_read_only(store)?;
    let c = s.columns();
    let picked: Vec<AccountRecord> = match id {
        Some(id) => {
            let i = s
                .find(id)
                .with_context(|| format!("no account `{id}` in {}", store.display()))?;
            vec![c.record(i)]
        }
        None => (0..c.len()).map(|i| c.record(i)).collect(),
    };
    let h = s.header();
    if json {
        let v = serde_json::json!({
            "store": store.display().to_string(),
            "version": h.version,
            "capacity": h.capacity,
            "count": h.count,
            "last_applied_seq": h.last_applied_seq,
            "checksum": format!("{:#010x}", h.checksum),
            "accounts": picked.iter().map(record_json).collect::<Vec<_>>(),
        });
        println!("{v}");
        return Ok(());
    }
    println!(
        "{}: layout v{}, {} of {} accounts, last applied seq {}, checksum {:#010x}",
        store.display(),
        h.version,
        h.count,
        h.capacity,
        h.last_applied_seq,
        h.checksum
    );
    // The flag letters are terse; say once what they mean.
    println!(
        "flags: A active, C close-only, F flatten at a loss limit, H held close-only by a limit"
    );
    println!(
        "{:<16} {:>18} {:>18} {:>14} {:>6} {:>8} {:>8} {:>8} {:>7} {:>5} {:>8} {:>14} {:>8} {:>8} {:<4}",
        "id",
        "balance",
        "equity",
        "margin_used",
        "lev",
        "mult",
        "percent",
        "fixed",
        "cluster",
        "flags",
        "comm/lot",
        "daily_loss_lim",
        "mc_level",
        "so_level",
        "ccy"
    );
    for r in &picked {
        println!(
            "{:<16} {:>18} {:>18} {:>14} {:>6} {:>8} {:>8} {:>8} {:>7} {:>5} {:>8} {:>14} {:>8} {:>8} {:<4}",
            r.id_str(),
            r.balance.to_string(),
            r.equity.to_string(),
            r.margin_used.to_string(),
            r.leverage,
            r.multiplier.to_string(),
            r.percent.to_string(),
            r.fixed_lots.to_string(),
            r.cluster,
            flag_letters(r.flags),
            r.commission_per_lot.to_string(),
            r.daily_loss_limit.to_string(),
            r.margin_call_level.to_string(),
            r.stop_out_level.to_string(),
            r.currency_str()
        );
    }
    Ok(())
}

/// The flags as letters for the text table (`-` for none).
fn flag_letters(flags: u16) -> String {
    let letters: String = [
        (FLAG_ACTIVE, 'A'),
        (FLAG_CLOSE_ONLY, 'C'),
        (FLAG_LIMIT_FLATTEN, 'F'),
        (FLAG_LIMIT_CLOSE_ONLY_SET, 'H'),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|&(_, c)| c)
    .collect();
    if letters.is_empty() {
        "-".into()
    } else {
        letters
    }
}
