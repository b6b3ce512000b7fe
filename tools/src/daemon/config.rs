//! `mam run --config mam.toml`: the daemon's settings. Every key has a default (an empty file
//! is a valid config); unknown keys are refused with their name, so a typo never silently
//! falls back to a default. The README's "Configuration" section lists every key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use mam_core::engine::{EngineConfig, MAX_ACCOUNTS, MAX_TABLE};
use mam_core::journal::{SyncPolicy, SyncPolicyError};
use mam_core::num::{Money, Qty};
use mam_core::pipeline::engine_stage::Sequencing;
use mam_core::pipeline::{IdleStrategy, ThreadingMode};
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Directory of the journal, checkpoints, FIX stores and latency logs.
    pub state: PathBuf,
    /// Symbol overrides (TOML, see the README); default: the built-in table.
    pub symbols: Option<PathBuf>,
    /// A stats line this often (`5s`, `500ms`, `1m`).
    pub stats_interval: String,
    /// Stop after this long (default: run until SIGINT/SIGTERM).
    pub duration: Option<String>,
    /// Where the accounts come from (first start only: later starts recover them).
    pub accounts: AccountsConfig,
    /// Threads, rings, sequencing.
    pub pipeline: PipelineConfig,
    /// Market data.
    pub feed: FeedConfig,
    /// The manager's FIX session (master orders in): manager 0.
    pub manager: ManagerConfig,
    /// More managers on the same daemon (`[[managers]]`), each with its own session, number
    /// and accounts (the accounts' `manager` column).
    pub managers: Vec<ManagerConfig>,
    /// The LP's FIX session (child orders out, fills in): LP 0.
    pub lp: LpConfig,
    /// More LPs (`[[lps]]`), each with its own session, the symbols routed to it and a
    /// fallback LP for when it is down.
    pub lps: Vec<LpConfig>,
    /// Allocation defaults, checkpoints and pre-trade risk.
    pub engine: EngineSection,
    /// When the journal reaches the disk.
    pub journal: JournalSection,
    /// Latency logs.
    pub latency: LatencyConfig,
    /// The admin API, dashboard and `/metrics` (docs/admin.md).
    pub admin: AdminConfig,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            state: PathBuf::from("mam-state"),
            symbols: None,
            stats_interval: "5s".into(),
            duration: None,
            accounts: AccountsConfig::default(),
            pipeline: PipelineConfig::default(),
            feed: FeedConfig::default(),
            manager: ManagerConfig::default(),
            managers: Vec::new(),
            lp: LpConfig::default(),
            lps: Vec::new(),
            engine: EngineSection::default(),
            journal: JournalSection::default(),
            latency: LatencyConfig::default(),
            admin: AdminConfig::default(),
        }
    }
}

/// `[admin]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Serve the admin API, the dashboard and `/metrics`.
    pub enabled: bool,
    /// Address to listen on (port 0: any free port, printed at start).
    pub listen: String,
    /// Listen on a non-loopback address.
    pub allow_remote: bool,
    /// The bearer token (at least 16 characters); unset: `admin.token` in the state directory,
    /// made on the first start.
    pub token: Option<String>,
    /// How often the engine refreshes the snapshot the API reads (at most; only when the
    /// journal moved). The manager session's position requests read the same snapshot, so
    /// this applies whenever `[manager]` is enabled too, even with the admin API off.
    pub snapshot_interval: String,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: false,
            listen: "127.0.0.1:9880".into(),
            allow_remote: false,
            token: None,
            snapshot_interval: "100ms".into(),
        }
    }
}

/// `[accounts]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// An account store made by `mam accounts init|import`; if unset, `generate` accounts.
    pub file: Option<PathBuf>,
    /// How many accounts to generate (varied balances, leverage, risk) when `file` is unset.
    pub generate: usize,
    /// Seed of the generator.
    pub seed: u64,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            file: None,
            generate: 1_000,
            seed: 42,
        }
    }
}

/// `[pipeline]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// `shared` (one thread runs every stage) or `dedicated` (a thread per stage).
    pub mode: String,
    /// Pin threads to cores.
    pub pin: bool,
    /// Ring capacity (messages) of every stage ring.
    pub ring: usize,
    /// `arrival` or `event_time` (docs/daemon.md).
    pub sequencing: String,
    /// Idle strategies per stage: `busy-spin`, `yield`, `backoff`.
    pub idle: IdleConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            mode: "shared".into(),
            pin: true,
            ring: 4096,
            sequencing: "arrival".into(),
            idle: IdleConfig::default(),
        }
    }
}

/// `[pipeline.idle]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdleConfig {
    /// Feed stage.
    pub feed: String,
    /// Manager stage.
    pub manager: String,
    /// Engine stage.
    pub engine: String,
    /// LP stage.
    pub lp: String,
}

impl Default for IdleConfig {
    fn default() -> Self {
        let b = || "backoff".to_string();
        IdleConfig {
            feed: b(),
            manager: b(),
            engine: b(),
            lp: b(),
        }
    }
}

/// `[feed]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// `soup` (SoupBinTCP from `mam replay --serve`, resumable), `udp` (`mam replay --to`),
    /// or `none`.
    pub source: String,
    /// SoupBinTCP server address.
    pub connect: String,
    /// UDP address to bind.
    pub bind: String,
    /// SoupBinTCP username (at most 6 characters).
    pub username: String,
    /// SoupBinTCP password (at most 10 characters).
    pub password: String,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            source: "soup".into(),
            connect: "127.0.0.1:9100".into(),
            bind: "127.0.0.1:9101".into(),
            username: String::new(),
            password: String::new(),
        }
    }
}

/// `[manager]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagerConfig {
    /// Take master orders over FIX at all.
    pub enabled: bool,
    /// The manager's number (`[manager]`: 0; each `[[managers]]`: 1-63, unique): its tickets
    /// carry it and its masters are split over the accounts whose `manager` is it.
    pub number: u8,
    /// What a deposit or withdrawal from this manager's session does to open positions:
    /// `keep` (they stay) or `rebalance` (its open tickets are re-split by the new equity
    /// weights with delta orders); MamRebalance (5127) on a request overrides it.
    pub on_deposit: String,
    /// Address to listen on.
    pub listen: String,
    /// Our CompID.
    pub comp_id: String,
    /// The manager's CompID.
    pub peer_comp_id: String,
    /// Password the manager's Logon must carry (unset: none required).
    pub password: Option<String>,
    /// Listen on a non-loopback address.
    pub allow_remote: bool,
    /// SendingTime accuracy (FIX 4.4): a manager message stamped further than this from our
    /// clock is rejected (SessionRejectReason 10) and the session logged out; over binary
    /// order entry an Establish so stamped is terminated (ClockSkew); `"0s"` turns the check
    /// off (docs/fix-session.md, docs/binary-order-entry.md).
    pub sending_time_tolerance: String,
    /// The session's protocol: `fix` (FIX 4.4, the CompIDs and password above) or `binary`
    /// (binary order entry for co-located managers, docs/binary-order-entry.md: the session
    /// id below and `sending_time_tolerance`; the CompIDs and password are not used).
    pub protocol: String,
    /// `protocol = "binary"`: the session id the manager's Establish must carry.
    pub session_id: u64,
}

impl ManagerConfig {
    /// [`sending_time_tolerance`](Self::sending_time_tolerance), parsed (`None`: off).
    pub fn sending_time_tolerance(&self) -> anyhow::Result<Option<Duration>> {
        let d = parse_duration(&self.sending_time_tolerance)
            .context("manager.sending_time_tolerance")?;
        Ok((!d.is_zero()).then_some(d))
    }
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            enabled: true,
            number: 0,
            on_deposit: "keep".into(),
            listen: "127.0.0.1:9878".into(),
            comp_id: "MAM".into(),
            peer_comp_id: "MANAGER".into(),
            password: None,
            allow_remote: false,
            sending_time_tolerance: "120s".into(),
            protocol: "fix".into(),
            session_id: 1,
        }
    }
}

/// `[lp]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LpConfig {
    /// The LP's name (`[lp]`: `lp`), in logs, counters, `fallback` and its store directory
    /// (`fix-lp-<name>` for the others).
    pub name: String,
    /// Symbols whose orders go to this LP. `[lp]` takes every symbol no `[[lps]]` names.
    pub symbols: Vec<String>,
    /// The LP that takes this one's symbols while its session is not logged on.
    pub fallback: Option<String>,
    /// The LP's FIX acceptor.
    pub connect: String,
    /// Our CompID.
    pub comp_id: String,
    /// The LP's CompID.
    pub peer_comp_id: String,
    /// Password to send on Logon.
    pub password: Option<String>,
    /// HeartBtInt (s).
    pub heart_bt_int: u32,
    /// Write Account(1) = the account's id (from the account store) on per-account child orders.
    pub account_tag: bool,
    /// Send an AllocationInstruction (35=J) for every finished block order.
    pub allocation_instructions: bool,
    /// FIX version of the session: `4.4` or `4.2`.
    pub fix_version: String,
}

impl LpConfig {
    /// The BeginString of `fix_version`.
    pub fn begin_string(&self) -> anyhow::Result<&'static [u8]> {
        match self.fix_version.as_str() {
            "4.4" => Ok(mam_gateway::fix::BEGIN_FIX44),
            "4.2" => Ok(mam_gateway::fix::BEGIN_FIX42),
            v => bail!("lp.fix_version = \"{v}\": expected \"4.4\" or \"4.2\""),
        }
    }
}

impl Default for LpConfig {
    fn default() -> Self {
        LpConfig {
            name: "lp".into(),
            symbols: Vec::new(),
            fallback: None,
            connect: "127.0.0.1:9879".into(),
            comp_id: "MAM".into(),
            peer_comp_id: "EXECUTOR".into(),
            password: None,
            heart_bt_int: 30,
            account_tag: true,
            allocation_instructions: true,
            fix_version: "4.4".into(),
        }
    }
}

/// `[engine]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// Default allocation model of master orders that name none.
    pub model: String,
    /// Default routing: `block` or `per-account`.
    pub routing: String,
    /// Default min-lot policy: `zero` or `up`.
    pub min_lot_policy: String,
    /// `static` (the model alone) or `adaptive` (the model's quota scaled by the adaptive
    /// layer inside each account's bounds; docs/adaptive.md).
    pub allocation: String,
    /// The adaptive model file `mam train` wrote (none: the untrained model).
    pub adaptive_model: Option<String>,
    /// Checkpoint after this many inputs (0: only at shutdown).
    pub checkpoint_every: u64,
    /// At shutdown, wait this long for the fills of open orders.
    pub drain_timeout: String,
    /// Pre-trade risk limits (first start only: later starts keep the checkpoint's).
    pub risk: RiskSection,
}

impl Default for EngineSection {
    fn default() -> Self {
        EngineSection {
            model: "equity".into(),
            routing: "block".into(),
            min_lot_policy: "zero".into(),
            allocation: "static".into(),
            adaptive_model: None,
            checkpoint_every: 100_000,
            drain_timeout: "2s".into(),
            risk: RiskSection::default(),
        }
    }
}

/// `[engine.risk]`: quantities in base units and money as decimal strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskSection {
    /// Largest child order quantity (base units).
    pub max_order_qty: String,
    /// Largest child order notional (account currency).
    pub max_order_notional: String,
    /// Largest open quantity per account and instrument.
    pub max_account_qty: String,
    /// Largest open notional per account.
    pub max_account_notional: String,
    /// Open orders per account.
    pub max_account_open_orders: u32,
    /// Open orders in all.
    pub max_open_orders: u32,
    /// Price collar around the last quote, basis points (unset: none).
    pub collar_bps: Option<u32>,
    /// Orders per second (throttle).
    pub max_orders_per_sec: u32,
}

impl Default for RiskSection {
    fn default() -> Self {
        let p = EngineConfig::permissive().risk;
        RiskSection {
            max_order_qty: p.max_order_qty.to_string(),
            max_order_notional: p.max_order_notional.to_string(),
            max_account_qty: p.max_account_qty.to_string(),
            max_account_notional: "1000000000000".into(),
            max_account_open_orders: p.max_account_open_orders,
            max_open_orders: p.max_open_orders,
            collar_bps: Some(500),
            max_orders_per_sec: p.max_orders_per_sec,
        }
    }
}

/// `[journal]`: durability of the journal (`mam_core::journal::sync`, docs/storage.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalSection {
    /// `every` (fdatasync once per engine duty cycle, before that cycle's orders leave),
    /// `interval` (orders leave at once; fdatasync at most every `sync_interval`) or
    /// `checkpoint` (only at checkpoints).
    pub sync: String,
    /// The `interval` policy's period (`2ms`, `500us`).
    pub sync_interval: String,
}

impl Default for JournalSection {
    fn default() -> Self {
        JournalSection {
            sync: "every".into(),
            sync_interval: "2ms".into(),
        }
    }
}

/// `[latency]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LatencyConfig {
    /// Directory of the interval logs (`<name>.hlog`) and percentile tables (`<name>.hgrm`);
    /// relative paths are under `state`.
    pub dir: PathBuf,
    /// Interval of the logs.
    pub interval: String,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        LatencyConfig {
            dir: PathBuf::from("latency"),
            interval: "5s".into(),
        }
    }
}

/// The largest `pipeline.ring` (messages per stage ring).
pub const MAX_RING: usize = 1 << 20;

/// A configured admin token is at least 16 printable characters, no spaces (checked with the
/// rest of the config, before anything starts). Here rather than in `admin`: this module
/// depends on nothing else of `mam`, so the config fuzz target compiles it by path.
pub fn check_token(t: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        t.len() >= 16 && t.bytes().all(|b| b.is_ascii_graphic()),
        "admin.token: at least 16 printable characters, no spaces"
    );
    Ok(())
}

/// Parses `30s`, `500ms`, `2m`, `250us` (or `250µs`), with decimals (`0.5s`, `1.5ms`) down to
/// the nanosecond; a bare number is seconds. Negative, malformed, finer than a nanosecond or
/// longer than 2^64 ns (about 584 years) is refused.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let bad = |why: &str| anyhow::anyhow!("duration `{s}`: {why} (e.g. 30s, 0.5s, 500ms, 2m)");
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = (&s[..split], &s[split..]);
    let unit_ns: u64 = match unit {
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" | "" => 1_000_000_000,
        "m" => 60_000_000_000,
        _ if num.is_empty() => return Err(bad("expected a number, then a unit")),
        _ => return Err(bad("unit must be us, ms, s or m")),
    };
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (num, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(bad("expected a number, then a unit"));
    }
    let too_long = || bad("too long (at most 2^64 nanoseconds, about 584 years)");
    let int: u64 = int.parse().map_err(|_| too_long())?;
    let mut ns = int.checked_mul(unit_ns).ok_or_else(too_long)?;
    if let Some(f) = frac {
        // The fraction in nanoseconds: f / 10^len * unit_ns, exact or refused.
        let f = f.trim_end_matches('0');
        if f.len() > 18 {
            return Err(bad("finer than a nanosecond"));
        }
        let scale = 10u128.pow(f.len() as u32);
        let part = u128::from(f.parse::<u64>().unwrap_or(0)) * u128::from(unit_ns);
        if part % scale != 0 {
            return Err(bad("finer than a nanosecond"));
        }
        let part = u64::try_from(part / scale).map_err(|_| too_long())?;
        ns = ns.checked_add(part).ok_or_else(too_long)?;
    }
    Ok(Duration::from_nanos(ns))
}

/// Settings checked and turned into the types the stages take.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Threading mode.
    pub mode: ThreadingMode,
    /// Sequencing.
    pub sequencing: Sequencing,
    /// Idle strategies: feed, manager, engine, lp.
    pub idle: [IdleStrategy; 4],
    /// Stats interval.
    pub stats_interval: Duration,
    /// Latency log interval.
    pub latency_interval: Duration,
    /// Run limit.
    pub duration: Option<Duration>,
    /// Engine drain timeout.
    pub drain_timeout: Duration,
    /// Engine settings for a fresh start.
    pub engine: EngineConfig,
    /// When the engine stage syncs the journal.
    pub sync: SyncPolicy,
    /// Latency directory (absolute or under state).
    pub latency_dir: PathBuf,
    /// The admin server's address and snapshot interval, when enabled.
    pub admin: Option<(SocketAddr, Duration)>,
    /// How often (at most) the engine publishes its snapshot, when anything reads it: the
    /// admin API or the manager session's position requests (`admin.snapshot_interval`).
    pub snapshots: Option<Duration>,
}

fn addr(what: &str, s: &str) -> anyhow::Result<SocketAddr> {
    s.parse()
        .with_context(|| format!("{what} = \"{s}\": expected IP:PORT"))
}

impl DaemonConfig {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config {}", path.display()))
    }

    /// The manager sessions that take orders, manager 0 first.
    pub fn manager_sessions(&self) -> impl Iterator<Item = &ManagerConfig> {
        std::iter::once(&self.manager)
            .chain(&self.managers)
            .filter(|m| m.enabled)
    }

    /// `[manager]` is number 0; each `[[managers]]` has its own number (1-63), listen address
    /// and CompIDs, and needs `[manager]` on (manager 0 is the first clock source).
    fn check_managers(&self) -> anyhow::Result<()> {
        if self.manager.number != 0 {
            bail!(
                "manager.number = {}: [manager] is manager 0 (more managers go in [[managers]])",
                self.manager.number
            );
        }
        if !self.managers.is_empty() && !self.manager.enabled {
            bail!("[[managers]] needs [manager] enabled: it is manager 0");
        }
        for (i, m) in self.manager_sessions().enumerate() {
            let key = if i == 0 {
                "manager".to_string()
            } else {
                format!("managers[{}]", i - 1)
            };
            if !["fix", "binary"].contains(&m.protocol.as_str()) {
                bail!(
                    "{key}.protocol = \"{}\": expected fix or binary",
                    m.protocol
                );
            }
            if !["keep", "rebalance"].contains(&m.on_deposit.as_str()) {
                bail!(
                    "{key}.on_deposit = \"{}\": expected keep or rebalance",
                    m.on_deposit
                );
            }
        }
        let mut seen = vec![(0u8, self.manager.listen.as_str())];
        for (i, m) in self.managers.iter().enumerate() {
            let key = format!("managers[{i}]");
            if m.number == 0 || usize::from(m.number) >= mam_core::account::MAX_MANAGERS {
                bail!(
                    "{key}.number = {}: must be 1 to 63 (0 is [manager])",
                    m.number
                );
            }
            if !m.enabled {
                bail!("{key}.enabled = false: remove the entry instead");
            }
            addr(&format!("{key}.listen"), &m.listen)?;
            m.sending_time_tolerance()
                .with_context(|| format!("{key}.sending_time_tolerance"))?;
            if let Some((n, _)) = seen.iter().find(|(n, _)| *n == m.number) {
                bail!("{key}.number = {n}: used twice");
            }
            if let Some((n, l)) = seen.iter().find(|(_, l)| *l == m.listen) {
                bail!("{key}.listen = \"{l}\": manager {n} listens there already");
            }
            seen.push((m.number, &m.listen));
        }
        Ok(())
    }

    /// Every LP session, `[lp]` first.
    pub fn lp_sessions(&self) -> impl Iterator<Item = &LpConfig> {
        std::iter::once(&self.lp).chain(&self.lps)
    }

    /// Names unique, addresses valid, fallbacks naming another LP, no symbol routed twice.
    fn check_lps(&self) -> anyhow::Result<()> {
        // Sets, not scans: a config with thousands of LPs or symbols is checked in
        // O(n log n), never quadratic time.
        let names: Vec<&str> = self.lp_sessions().map(|l| l.name.as_str()).collect();
        let mut uses: BTreeMap<&str, usize> = BTreeMap::new();
        for n in &names {
            *uses.entry(n).or_default() += 1;
        }
        if !self.lps.is_empty() && !self.lp.symbols.is_empty() {
            bail!("lp.symbols: [lp] takes every symbol no [[lps]] names; list them there");
        }
        // Symbol → the LP it is routed to.
        let mut routed: BTreeMap<&str, &str> = BTreeMap::new();
        for (i, l) in self.lp_sessions().enumerate() {
            let key = if i == 0 {
                "lp".to_string()
            } else {
                format!("lps[{}]", i - 1)
            };
            if l.name.is_empty()
                || !l
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                bail!("{key}.name = \"{}\": letters, digits and `-` only", l.name);
            }
            if uses.get(l.name.as_str()).copied().unwrap_or(0) > 1 {
                bail!("{key}.name = \"{}\": used twice", l.name);
            }
            if i > 0 {
                addr(&format!("{key}.connect"), &l.connect)?;
                l.begin_string().with_context(|| key.clone())?;
            }
            if let Some(f) = &l.fallback {
                if *f == l.name || !uses.contains_key(f.as_str()) {
                    bail!("{key}.fallback = \"{f}\": not the name of another LP ({names:?})");
                }
            }
            for s in &l.symbols {
                if let Some(other) = routed.insert(s, &l.name) {
                    bail!("{key}.symbols: {s} is routed to {other} already");
                }
            }
        }
        Ok(())
    }

    /// Checks every value; errors name the key.
    pub fn check(&self) -> anyhow::Result<Checked> {
        let (mode, sequencing, idle) = self.check_pipeline()?;
        self.check_accounts_and_feed(sequencing)?;
        if self.manager.enabled {
            addr("manager.listen", &self.manager.listen)?;
        }
        self.check_managers()?;
        addr("lp.connect", &self.lp.connect)?;
        self.lp.begin_string()?;
        self.check_lps()?;
        let engine = self.check_risk()?;
        let sync = self.check_journal()?;
        self.manager.sending_time_tolerance()?;
        let (snapshots, admin) = self.check_admin()?;
        let latency_dir = if self.latency.dir.is_absolute() {
            self.latency.dir.clone()
        } else {
            self.state.join(&self.latency.dir)
        };
        Ok(Checked {
            mode,
            sequencing,
            idle,
            stats_interval: parse_duration(&self.stats_interval).context("stats_interval")?,
            latency_interval: parse_duration(&self.latency.interval).context("latency.interval")?,
            duration: self
                .duration
                .as_deref()
                .map(parse_duration)
                .transpose()
                .context("duration")?,
            drain_timeout: parse_duration(&self.engine.drain_timeout)
                .context("engine.drain_timeout")?,
            engine,
            sync,
            latency_dir,
            admin,
            snapshots,
        })
    }

    /// `[pipeline]`: threading mode, sequencing, each stage's idle strategy, ring size.
    fn check_pipeline(&self) -> anyhow::Result<(ThreadingMode, Sequencing, [IdleStrategy; 4])> {
        let p = &self.pipeline;
        let mode = ThreadingMode::from_name(&p.mode).with_context(|| {
            format!(
                "pipeline.mode = \"{}\": expected shared or dedicated",
                p.mode
            )
        })?;
        let sequencing = Sequencing::from_name(&p.sequencing).with_context(|| {
            format!(
                "pipeline.sequencing = \"{}\": expected arrival or event_time",
                p.sequencing
            )
        })?;
        let idle1 = |k: &str, v: &str| {
            IdleStrategy::from_name(v).with_context(|| {
                format!("pipeline.idle.{k} = \"{v}\": expected busy-spin, yield or backoff")
            })
        };
        let idle = [
            idle1("feed", &p.idle.feed)?,
            idle1("manager", &p.idle.manager)?,
            idle1("engine", &p.idle.engine)?,
            idle1("lp", &p.idle.lp)?,
        ];
        if !(2..=MAX_RING).contains(&p.ring) || !p.ring.is_power_of_two() {
            bail!(
                "pipeline.ring = {}: a power of two from 2 to {MAX_RING}",
                p.ring
            );
        }
        Ok((mode, sequencing, idle))
    }

    /// `accounts.generate` and `[feed]`, whose source must suit `sequencing`.
    fn check_accounts_and_feed(&self, sequencing: Sequencing) -> anyhow::Result<()> {
        // Generated accounts are built in memory before the engine counts them: a huge
        // `generate` would exhaust memory (an abort) instead of being refused.
        if self.accounts.generate > MAX_ACCOUNTS {
            bail!(
                "accounts.generate = {}: at most {MAX_ACCOUNTS} (the engine's limit)",
                self.accounts.generate
            );
        }
        match self.feed.source.as_str() {
            "soup" => {
                addr("feed.connect", &self.feed.connect)?;
            }
            "udp" => {
                addr("feed.bind", &self.feed.bind)?;
                if sequencing == Sequencing::EventTime {
                    bail!(
                        "feed.source = \"udp\" with pipeline.sequencing = \"event_time\": UDP loses \
                         what arrives while mam is down; event time needs the resumable `soup` feed"
                    );
                }
            }
            "none" => {
                if sequencing == Sequencing::EventTime {
                    bail!(
                        "feed.source = \"none\" with pipeline.sequencing = \"event_time\": event \
                         time applies an input only once the market data's clock has passed it, \
                         so with no feed a master order would never be applied; use feed.source = \
                         \"soup\" or pipeline.sequencing = \"arrival\""
                    );
                }
            }
            s => bail!("feed.source = \"{s}\": expected soup, udp or none"),
        }
        Ok(())
    }

    /// `[engine.risk]`, as the engine's configuration.
    fn check_risk(&self) -> anyhow::Result<EngineConfig> {
        let r = &self.engine.risk;
        let positive =
            |k: &str, v: &str| anyhow::anyhow!("engine.risk.{k} = \"{v}\": must be more than 0");
        let qty = |k: &str, v: &str| {
            let q = Qty::parse(v).map_err(|e| anyhow::anyhow!("engine.risk.{k} = \"{v}\": {e}"))?;
            if q <= Qty::ZERO {
                return Err(positive(k, v));
            }
            Ok::<_, anyhow::Error>(q)
        };
        let money = |k: &str, v: &str| {
            let m =
                Money::parse(v).map_err(|e| anyhow::anyhow!("engine.risk.{k} = \"{v}\": {e}"))?;
            if m <= Money::ZERO {
                return Err(positive(k, v));
            }
            Ok::<_, anyhow::Error>(m)
        };
        let mut engine = EngineConfig::permissive();
        engine.risk.max_order_qty = qty("max_order_qty", &r.max_order_qty)?;
        engine.risk.max_order_notional = money("max_order_notional", &r.max_order_notional)?;
        engine.risk.max_account_qty = qty("max_account_qty", &r.max_account_qty)?;
        engine.risk.max_account_notional = money("max_account_notional", &r.max_account_notional)?;
        engine.risk.max_account_open_orders = r.max_account_open_orders;
        engine.risk.max_open_orders = r.max_open_orders;
        engine.risk.collar_bps = r.collar_bps;
        engine.risk.max_orders_per_sec = r.max_orders_per_sec;
        // The risk book allocates a throttle slot per order a second and room for every open
        // order up front: the engine refuses more than MAX_TABLE at a first start, but only
        // after the daemon has started; refused here, naming the key.
        if !(1..=MAX_TABLE).contains(&r.max_orders_per_sec) {
            bail!(
                "engine.risk.max_orders_per_sec = {}: must be 1 to {MAX_TABLE}",
                r.max_orders_per_sec
            );
        }
        if r.max_open_orders > MAX_TABLE {
            bail!(
                "engine.risk.max_open_orders = {}: at most {MAX_TABLE}",
                r.max_open_orders
            );
        }
        Ok(engine)
    }

    /// `[journal]`: the sync policy.
    fn check_journal(&self) -> anyhow::Result<SyncPolicy> {
        let j = &self.journal;
        let interval = parse_duration(&j.sync_interval).context("journal.sync_interval")?;
        if interval.is_zero() {
            bail!(
                "journal.sync_interval = \"{}\": must be more than 0",
                j.sync_interval
            );
        }
        let interval_ns = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
        SyncPolicy::parse(&j.sync, interval_ns).map_err(|e| match e {
            SyncPolicyError::UnknownPolicy(_) => anyhow::anyhow!(
                "journal.sync = \"{}\": expected every, interval or checkpoint",
                j.sync
            ),
            SyncPolicyError::ZeroInterval => anyhow::anyhow!(
                "journal.sync_interval = \"{}\": must be more than 0",
                j.sync_interval
            ),
        })
    }

    /// `[admin]`: how often the engine publishes its snapshot (when the admin API or a manager
    /// session reads it), and the admin API's address with that interval (when it is on).
    fn check_admin(&self) -> anyhow::Result<(Option<Duration>, Option<AdminListen>)> {
        let snapshots = if self.admin.enabled || self.manager.enabled {
            let every =
                parse_duration(&self.admin.snapshot_interval).context("admin.snapshot_interval")?;
            if every.is_zero() {
                bail!(
                    "admin.snapshot_interval = \"{}\": must be more than 0",
                    self.admin.snapshot_interval
                );
            }
            Some(every)
        } else {
            None
        };
        let admin = if self.admin.enabled {
            let a = addr("admin.listen", &self.admin.listen)?;
            if !a.ip().is_loopback() && !self.admin.allow_remote {
                bail!(
                    "admin.listen = \"{a}\" is not a loopback address: set admin.allow_remote = \
                     true to serve the admin API beyond this machine"
                );
            }
            if let Some(t) = &self.admin.token {
                check_token(t)?;
            }
            let every = snapshots.unwrap_or_default();
            Some((a, every))
        } else {
            None
        };
        Ok((snapshots, admin))
    }
}

/// The admin API's address and how often the engine publishes the snapshot it serves.
type AdminListen = (SocketAddr, Duration);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        let c: DaemonConfig = toml::from_str("").unwrap();
        let k = c.check().unwrap();
        assert_eq!(k.mode, ThreadingMode::Shared);
        assert_eq!(k.sequencing, Sequencing::Arrival);
        assert_eq!(k.stats_interval, Duration::from_secs(5));
        assert_eq!(c.feed.source, "soup");
        assert_eq!(k.sync, SyncPolicy::Every);
    }

    /// More managers: each with its own number and address; every mistake names its key.
    #[test]
    fn more_managers_are_checked() {
        let two = "[[managers]]\nnumber = 1\nlisten = \"127.0.0.1:9879\"\npeer_comp_id = \"M2\"\n";
        let c: DaemonConfig = toml::from_str(two).unwrap();
        c.check().unwrap();
        let numbers: Vec<u8> = c.manager_sessions().map(|m| m.number).collect();
        assert_eq!(numbers, vec![0, 1]);
        assert!(c.manager_sessions().all(|m| m.protocol == "fix"));
        let c: DaemonConfig =
            toml::from_str(&format!("{two}protocol = \"binary\"\nsession_id = 7\n")).unwrap();
        c.check().unwrap();
        assert_eq!(
            (c.managers[0].protocol.as_str(), c.managers[0].session_id),
            ("binary", 7)
        );
        for (text, want) in [
            (
                two.replace("number = 1", "number = 0"),
                "managers[0].number = 0",
            ),
            (two.replace("number = 1", "number = 64"), "must be 1 to 63"),
            (
                two.replace("9879", "9878"),
                "manager 0 listens there already",
            ),
            (format!("{two}{two}"), "managers[1].number = 1: used twice"),
            (
                format!("[manager]\nnumber = 2\n{two}"),
                "manager.number = 2",
            ),
            (
                format!("[manager]\nenabled = false\n{two}"),
                "needs [manager] enabled",
            ),
            (
                format!("{two}protocol = \"sbe\"\n"),
                "managers[0].protocol = \"sbe\": expected fix or binary",
            ),
        ] {
            let c: DaemonConfig = toml::from_str(&text).unwrap();
            let e = format!("{:#}", c.check().unwrap_err());
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    /// More LPs: names unique, fallbacks naming another LP, no symbol routed twice; checked
    /// with sets, so many LPs and symbols cost no quadratic time.
    #[test]
    fn more_lps_are_checked() {
        let two = "[[lps]]\nname = \"b\"\nsymbols = [\"EURUSD\"]\nfallback = \"lp\"\n\
                   connect = \"127.0.0.1:9890\"\n";
        let c: DaemonConfig = toml::from_str(two).unwrap();
        c.check().unwrap();
        for (text, want) in [
            (
                two.replace("\"b\"", "\"lp\""),
                "lp.name = \"lp\": used twice",
            ),
            (
                two.replace("fallback = \"lp\"", "fallback = \"c\""),
                "lps[0].fallback = \"c\"",
            ),
            (
                format!("{two}{}", two.replace("\"b\"", "\"c\"")),
                "lps[1].symbols: EURUSD is routed to b already",
            ),
        ] {
            let c: DaemonConfig = toml::from_str(&text).unwrap();
            let e = format!("{:#}", c.check().unwrap_err());
            assert!(e.contains(want), "{text}: {e}");
        }
        let many: String = (0..2000)
            .map(|i| format!("[[lps]]\nname = \"l{i}\"\nsymbols = [\"S{i}\"]\n"))
            .collect();
        let c: DaemonConfig = toml::from_str(&many).unwrap();
        c.check().unwrap();
    }

    #[test]
    fn journal_sync_policies() {
        for (text, want) in [
            ("[journal]\nsync = \"every\"\n", SyncPolicy::Every),
            ("[journal]\nsync = \"checkpoint\"\n", SyncPolicy::Checkpoint),
            (
                "[journal]\nsync = \"interval\"\n",
                SyncPolicy::Interval {
                    interval_ns: 2_000_000,
                },
            ),
            (
                "[journal]\nsync = \"interval\"\nsync_interval = \"500us\"\n",
                SyncPolicy::Interval {
                    interval_ns: 500_000,
                },
            ),
            (
                "[journal]\nsync = \"interval\"\nsync_interval = \"1s\"\n",
                SyncPolicy::Interval {
                    interval_ns: 1_000_000_000,
                },
            ),
        ] {
            let c: DaemonConfig = toml::from_str(text).unwrap();
            assert_eq!(c.check().unwrap().sync, want, "{text}");
        }
        let e = toml::from_str::<DaemonConfig>("[journal]\nsynk = \"every\"\n").unwrap_err();
        assert!(e.to_string().contains("synk"), "{e}");
    }

    /// The README's annotated file is exactly the defaults.
    #[test]
    fn readme_file_is_the_defaults() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("```toml\nstate = ")
            .expect("README has the daemon's file");
        let body = &readme[start + 8..];
        let body = &body[..body.find("```").unwrap()];
        let c: DaemonConfig = toml::from_str(body).unwrap();
        let (a, b) = (c.check().unwrap(), DaemonConfig::default().check().unwrap());
        assert_eq!(a.engine, b.engine);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(
            format!("{:?}", c.feed),
            format!("{:?}", DaemonConfig::default().feed)
        );
        assert_eq!(
            format!("{:?}", c.lp),
            format!("{:?}", DaemonConfig::default().lp)
        );
        assert_eq!(
            format!("{:?}", c.manager),
            format!("{:?}", DaemonConfig::default().manager)
        );
        assert_eq!(
            format!("{:?}", c.journal),
            format!("{:?}", DaemonConfig::default().journal)
        );
    }

    #[test]
    fn durations_take_decimals_and_refuse_garbage() {
        for (text, ns) in [
            ("0.5s", 500_000_000u64),
            ("1.5ms", 1_500_000),
            ("2.25m", 135_000_000_000),
            ("250us", 250_000),
            ("0.001us", 1),
            ("30", 30_000_000_000),
            ("1.000s", 1_000_000_000),
        ] {
            assert_eq!(
                parse_duration(text).unwrap(),
                Duration::from_nanos(ns),
                "{text}"
            );
        }
        for bad in [
            "",
            ".",
            ".5s",
            "5.s",
            "1..2s",
            "-1s",
            "s",
            "2 ms",
            "2h",
            "0.0001us",
            "18446744073709551616s",
            "307445734561m",
            "1e3s",
        ] {
            let e = parse_duration(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("duration `{bad}`")), "{bad}: {e}");
        }
        // The config file's durations go through the same parser.
        let c: DaemonConfig =
            toml::from_str("stats_interval = \"0.25s\"\nduration = \"1.5m\"\n").unwrap();
        let k = c.check().unwrap();
        assert_eq!(k.stats_interval, Duration::from_millis(250));
        assert_eq!(k.duration, Some(Duration::from_secs(90)));
    }

    #[test]
    fn unknown_key_is_named() {
        let e = toml::from_str::<DaemonConfig>("[pipeline]\nmodee = \"shared\"\n").unwrap_err();
        assert!(e.to_string().contains("modee"), "{e}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("[pipeline]\nmode = \"fast\"\n", "pipeline.mode"),
            ("[pipeline]\nsequencing = \"x\"\n", "pipeline.sequencing"),
            ("[pipeline.idle]\nlp = \"nap\"\n", "pipeline.idle.lp"),
            ("[pipeline]\nring = 1000\n", "pipeline.ring"),
            ("[journal]\nsync = \"sometimes\"\n", "journal.sync"),
            ("[journal]\nsync = \"\"\n", "journal.sync"),
            (
                "[journal]\nsync_interval = \"0s\"\n",
                "journal.sync_interval",
            ),
            (
                "[journal]\nsync = \"interval\"\nsync_interval = \"0ms\"\n",
                "journal.sync_interval",
            ),
            (
                "[journal]\nsync_interval = \"-1ms\"\n",
                "journal.sync_interval",
            ),
            (
                "[journal]\nsync_interval = \"2 ms\"\n",
                "journal.sync_interval",
            ),
            (
                "[journal]\nsync_interval = \"2h\"\n",
                "journal.sync_interval",
            ),
            ("[feed]\nsource = \"tcp\"\n", "feed.source"),
            ("[lp]\nconnect = \"localhost\"\n", "lp.connect"),
            (
                "[engine.risk]\nmax_order_qty = \"1.0000001\"\n",
                "engine.risk.max_order_qty",
            ),
            (
                "[feed]\nsource = \"udp\"\n[pipeline]\nsequencing = \"event_time\"\n",
                "event_time",
            ),
            (
                "[feed]\nsource = \"none\"\n[pipeline]\nsequencing = \"event_time\"\n",
                "never be applied",
            ),
            ("[pipeline]\nring = 1099511627776\n", "pipeline.ring"),
            ("[pipeline]\nring = 2097152\n", "pipeline.ring"),
            (
                "[engine.risk]\nmax_order_qty = \"-5\"\n",
                "engine.risk.max_order_qty",
            ),
            (
                "[engine.risk]\nmax_order_notional = \"0\"\n",
                "engine.risk.max_order_notional",
            ),
            (
                "[engine.risk]\nmax_account_qty = \"-0.01\"\n",
                "engine.risk.max_account_qty",
            ),
            (
                "[engine.risk]\nmax_account_notional = \"-1\"\n",
                "engine.risk.max_account_notional",
            ),
            ("duration = \"0.5.5s\"\n", "duration"),
            // Sizes the daemon allocates up front: a config error, never an allocation that
            // aborts (found while writing the config fuzz target, issue #10).
            ("[accounts]\ngenerate = 100000000000\n", "accounts.generate"),
            (
                "[engine.risk]\nmax_orders_per_sec = 4294967295\n",
                "engine.risk.max_orders_per_sec",
            ),
            (
                "[engine.risk]\nmax_orders_per_sec = 0\n",
                "engine.risk.max_orders_per_sec",
            ),
            (
                "[engine.risk]\nmax_open_orders = 4294967295\n",
                "engine.risk.max_open_orders",
            ),
        ] {
            let c: DaemonConfig = toml::from_str(text).unwrap();
            let e = format!("{:#}", c.check().unwrap_err());
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
