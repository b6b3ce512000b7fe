//! `mam allocate`: split one master order across accounts with a static model and print the
//! result as a table or as one JSON object (the contract in `docs/allocation.md`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::ValueEnum;
use mam_core::alloc::model::{allocate, can_open, Basis, Order, StaticModel, Workspace};
use mam_core::alloc::{LotLimits, MinLotPolicy, Mode};
use mam_core::num::{Lots, Money, Price, Ratio};
use mam_core::symbol::{SymbolSpec, SymbolTable};
use serde::Serialize;

/// Arguments of `mam allocate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Accounts: a CSV file (`id,balance,equity,...`) or an account store file.
    #[arg(long)]
    pub accounts: PathBuf,
    /// Symbol (built in, or defined in `--symbols`).
    #[arg(long)]
    pub symbol: String,
    /// Side of the master order.
    #[arg(long, value_enum)]
    pub side: SideArg,
    /// Master size in lots (a multiple of the symbol's lot step), e.g. 1.37.
    #[arg(long)]
    pub lots: String,
    /// Allocation model.
    #[arg(long, value_enum)]
    pub model: ModelArg,
    /// Print exactly one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Stop-loss distance in pips (required by `--model risk`), e.g. 25 or 12.5.
    #[arg(long)]
    pub sl_pips: Option<String>,
    /// TOML file overriding or adding symbol specifications.
    #[arg(long)]
    pub symbols: Option<PathBuf>,
    /// What a size under the min lot becomes.
    #[arg(long, value_enum, default_value = "zero")]
    pub min_lot_policy: PolicyArg,
    /// Block (Σ children = master) or per-account (limits' effect reported as unallocated).
    #[arg(long, value_enum, default_value = "block")]
    pub mode: ModeArg,
    /// `risk`: value of one unit of the quote currency in the account currency. Defaults to 1
    /// for symbols quoted in USD (accounts are assumed to be in USD); required otherwise.
    #[arg(long)]
    pub quote_rate: Option<String>,
    /// `balance-ratio` / `equity-ratio`: the master account's balance or equity.
    #[arg(long)]
    pub reference: Option<String>,
    /// Tie-break rotation cursor (the engine advances it by the leftover steps of each order).
    #[arg(long, default_value_t = 0)]
    pub rotation: u64,
}

/// Side of the master order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SideArg {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

/// Allocation models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// In proportion to equity.
    Equity,
    /// In proportion to balance.
    Balance,
    /// In proportion to free margin (equity − margin used).
    FreeMargin,
    /// Master lots × each account's multiplier.
    Multiplier,
    /// Each account's percent (0-100) of the master; the rest is unallocated.
    Percent,
    /// Each account's fixed lots.
    Fixed,
    /// Lots such that the stop-loss risks each account's risk fraction of equity.
    Risk,
    /// Master lots × multiplier × balance / --reference.
    BalanceRatio,
    /// Master lots × multiplier × equity / --reference.
    EquityRatio,
}

/// Min-lot policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    /// Sizes under the min lot become 0.
    Zero,
    /// Sizes under the min lot become the min lot.
    RoundUp,
}

/// Routing mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// One block order: Σ children = master.
    Block,
    /// One child order per account.
    PerAccount,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    symbol: &'a str,
    side: &'a str,
    model: &'a str,
    requested_lots: String,
    allocated_lots: String,
    unallocated_lots: String,
    allocations: Vec<JsonAlloc<'a>>,
}

#[derive(Serialize)]
struct JsonAlloc<'a> {
    account: &'a str,
    lots: String,
}

/// Runs `mam allocate`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let table = match &args.symbols {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read symbol file {}", p.display()))?;
            SymbolTable::with_overrides(&text)
                .with_context(|| format!("symbol file {}", p.display()))?
        }
        None => SymbolTable::builtin(),
    };
    let spec = *table.require(&args.symbol)?;
    let limits = LotLimits::of(&spec);
    let lots = Lots::parse(&args.lots).with_context(|| format!("--lots {}", args.lots))?;
    if lots.raw() <= 0 {
        bail!("--lots must be positive, got {}", args.lots);
    }
    limits
        .steps_of(lots)
        .with_context(|| format!("--lots for {}", args.symbol))?;
    let model = build_model(&args, &spec)?;
    let accounts = crate::accounts_io::load_accounts(&args.accounts)
        .with_context(|| format!("--accounts {}", args.accounts.display()))?;
    let cols = accounts.columns();
    let order = Order {
        lots,
        model,
        policy: match args.min_lot_policy {
            PolicyArg::Zero => MinLotPolicy::Zero,
            PolicyArg::RoundUp => MinLotPolicy::RoundUp,
        },
        mode: match args.mode {
            ModeArg::Block => Mode::Block,
            ModeArg::PerAccount => Mode::PerAccount,
        },
        rotation: args.rotation,
    };
    let mut out = vec![0u64; cols.len()];
    let mut ws = Workspace::with_capacity(cols.len());
    let a = allocate(&cols, limits, &order, &mut out, &mut ws).with_context(|| {
        format!(
            "allocating {} {} lots by {}",
            args.symbol,
            lots,
            model.name()
        )
    })?;
    if a.oversubscribed {
        eprintln!(
            "mam: warning: the eligible accounts' percents sum past 100 %; the master is shared \
             in their ratio"
        );
    }
    let dec = limits.decimals();
    let show = |steps: u64| -> anyhow::Result<String> {
        Ok(limits.lots_of(steps)?.display_with(dec).to_string())
    };
    let requested = show(a.requested)?;
    let allocated = show(a.allocated)?;
    let unallocated = limits
        .lots_of_signed(a.unallocated)?
        .display_with(dec)
        .to_string();
    let side = match args.side {
        SideArg::Buy => "buy",
        SideArg::Sell => "sell",
    };
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    if args.json {
        let mut allocations = Vec::with_capacity(cols.len());
        for (i, &s) in out.iter().enumerate() {
            allocations.push(JsonAlloc {
                account: id_str(&cols.id[i]),
                lots: show(s)?,
            });
        }
        let j = JsonOut {
            symbol: &args.symbol,
            side,
            model: model.name(),
            requested_lots: requested,
            allocated_lots: allocated,
            unallocated_lots: unallocated,
            allocations,
        };
        serde_json::to_writer(&mut w, &j)?;
        writeln!(w)?;
    } else {
        let eligible = cols.flags.iter().filter(|&&f| can_open(f)).count();
        writeln!(
            w,
            "{} {} {} lots, model {}, {} mode, min-lot policy {}",
            args.symbol,
            side,
            requested,
            model.name(),
            match order.mode {
                Mode::Block => "block",
                Mode::PerAccount => "per-account",
            },
            match order.policy {
                MinLotPolicy::Zero => "zero",
                MinLotPolicy::RoundUp => "round-up",
            }
        )?;
        writeln!(
            w,
            "accounts {} (eligible for opens {}), requested {requested}, allocated {allocated}, \
             unallocated {unallocated}",
            cols.len(),
            eligible
        )?;
        if !model.is_proportional() {
            writeln!(
                w,
                "model demand {} (Σ of the per-account sizes before the min/max lot limits)",
                show(a.demand)?
            )?;
        }
        writeln!(w, "{:<16} {:>12}", "account", "lots")?;
        let mut zero = 0usize;
        for (i, &s) in out.iter().enumerate() {
            if s == 0 {
                zero += 1;
                continue;
            }
            writeln!(w, "{:<16} {:>12}", id_str(&cols.id[i]), show(s)?)?;
        }
        if zero > 0 {
            writeln!(w, "({zero} account(s) with {} not shown)", show(0)?)?;
        }
    }
    w.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn id_str(id: &[u8; 16]) -> &str {
    let end = id.iter().position(|&b| b == 0).unwrap_or(16);
    std::str::from_utf8(&id[..end]).unwrap_or("?")
}

/// The core model for the arguments, with its extra parameters checked.
fn build_model(args: &Args, spec: &SymbolSpec) -> anyhow::Result<StaticModel> {
    let reference = || -> anyhow::Result<Money> {
        let text = args
            .reference
            .as_deref()
            .context("this model needs --reference (the master account's balance or equity)")?;
        let m = Money::parse(text).with_context(|| format!("--reference {text}"))?;
        if m.raw() <= 0 {
            bail!("--reference must be positive, got {text}");
        }
        Ok(m)
    };
    Ok(match args.model {
        ModelArg::Equity => StaticModel::Equity,
        ModelArg::Balance => StaticModel::Balance,
        ModelArg::FreeMargin => StaticModel::FreeMargin,
        ModelArg::Multiplier => StaticModel::Multiplier,
        ModelArg::Percent => StaticModel::Percent,
        ModelArg::Fixed => StaticModel::Fixed,
        ModelArg::BalanceRatio => StaticModel::Ratio {
            basis: Basis::Balance,
            reference: reference()?,
        },
        ModelArg::EquityRatio => StaticModel::Ratio {
            basis: Basis::Equity,
            reference: reference()?,
        },
        ModelArg::Risk => {
            let Some(sl) = args.sl_pips.as_deref() else {
                bail!("--model risk needs a stop-loss: --sl-pips N");
            };
            let pips = Ratio::parse(sl).with_context(|| format!("--sl-pips {sl}"))?;
            if pips.raw() <= 0 {
                bail!("--sl-pips must be positive, got {sl}");
            }
            // distance = pips × pip, exact or refused.
            let num = i128::from(pips.raw()) * i128::from(spec.pip.raw());
            let one = i128::from(Ratio::ONE_RAW);
            if num % one != 0 {
                bail!(
                    "--sl-pips {sl} × pip {} is finer than the price scale",
                    spec.pip
                );
            }
            let sl_distance = Price(
                i64::try_from(num / one)
                    .map_err(|_| anyhow::anyhow!("--sl-pips {sl} too large"))?,
            );
            let quote_to_account = match args.quote_rate.as_deref() {
                Some(t) => {
                    let p = Price::parse(t).with_context(|| format!("--quote-rate {t}"))?;
                    if p.raw() <= 0 {
                        bail!("--quote-rate must be positive, got {t}");
                    }
                    p
                }
                None if spec.name_str().ends_with("USD") => Price::from_int(1)?,
                None => bail!(
                    "--model risk on {} needs --quote-rate: the value of one unit of its quote \
                     currency in the account currency (accounts are assumed to be in USD)",
                    spec.name_str()
                ),
            };
            StaticModel::Risk {
                sl_distance,
                quote_to_account,
                contract_size: spec.contract_size,
            }
        }
    })
}
