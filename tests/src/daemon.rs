//! Real processes for the daemon's end-to-end tests: the `mam` binary (`mam replay --serve
//! soup://`, `mam run --config`, `mam manager`, `mam journal`), QuickFIX's executor as the LP,
//! each with its output in a file of the test's directory.
//!
//! **The `mam` binary.** `env!("CARGO_BIN_EXE_mam")` exists only in mam-tools' own tests, so
//! [`mam_bin`] looks for `mam` in the profile directory that holds the test executable
//! (`target/<profile>/deps/<test>` → `target/<profile>/mam`): `cargo test --workspace` builds
//! it there before running any test. If it is missing (`cargo test -p mam-tests` alone does
//! not build other packages' binaries) it is built once with `cargo build -p mam-tools` into
//! `target/mam-tests-bin`, a target directory of its own: the `cargo test` that runs us may
//! still hold the lock of the main one, and waiting on it would hang. `MAM_BIN=/path/to/mam`
//! overrides both.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::quickfix::{free_port, Executor};
use mam_core::journal::format::{decode_at, parse_segment_file_name, SEGMENT_HEADER_LEN};
use mam_core::journal::JournalReader;
use mam_core::num::Qty;

/// How long any single wait may take before the test fails saying what it waited for (a
/// hang guard, not a timing assertion: the machine is slow and shared).
pub const PATIENCE: Duration = Duration::from_secs(300);

/// The `mam` binary (see the module docs for where it comes from).
pub fn mam_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("MAM_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("the test executable's path");
        // target/<profile>/deps/<test>-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable under target/<profile>/deps");
        let beside = profile_dir.join("mam");
        if beside.is_file() {
            return beside;
        }
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let target = profile_dir
            .parent()
            .expect("target directory")
            .join("mam-tests-bin");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "mam-tools", "--bin", "mam"])
            .arg("--target-dir")
            .arg(&target)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("running cargo build -p mam-tools");
        assert!(st.success(), "cargo build -p mam-tools failed");
        target
            .join(if release { "release" } else { "debug" })
            .join("mam")
    })
    .clone()
}

/// Runs `mam ARGS` to completion; panics with its output unless it exits 0.
pub fn mam(args: &[&str]) -> String {
    let out = Command::new(mam_bin())
        .args(args)
        .output()
        .expect("running mam");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "mam {args:?} failed ({}):\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// A child process whose stdout and stderr go to a file; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Option<Child>,
    out: PathBuf,
}

impl Proc {
    /// Starts `mam ARGS` with its output appended to `out`.
    pub fn mam(name: &str, args: &[String], out: &Path) -> Proc {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .expect("open the output file");
        let _ = writeln!(f, "=== {name}: mam {}", args.join(" "));
        let child = Command::new(mam_bin())
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup output"))
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Proc {
            name: name.into(),
            child: Some(child),
            out: out.to_path_buf(),
        }
    }

    /// Everything the process (and earlier ones sharing the file) printed.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// The process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its exit status if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Waits until a line of the output after byte `from` satisfies `pred`, returning it;
    /// panics with the output if the process exits first or [`PATIENCE`] runs out.
    pub fn wait_line(&mut self, from: usize, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        loop {
            let out = self.output();
            if let Some(l) = out.get(from..).unwrap_or("").lines().find(|l| pred(l)) {
                return l.to_string();
            }
            if let Some(st) = self.try_wait() {
                panic!("{} exited ({st}) before {what}:\n{out}", self.name);
            }
            assert!(
                t0.elapsed() < PATIENCE,
                "{}: gave up waiting for {what}:\n{out}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the exit (panics after [`PATIENCE`]).
    pub fn wait(&mut self) -> ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.try_wait() {
                self.child = None;
                return st;
            }
            assert!(
                t0.elapsed() < PATIENCE,
                "{} did not exit:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (`-TERM`, `-KILL`) to the process.
    pub fn signal(&self, signal: &str) {
        if let Some(pid) = self.id() {
            let _ = Command::new("kill")
                .arg(signal)
                .arg(pid.to_string())
                .status();
        }
    }

    /// SIGKILL and reap: what a crash looks like.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A converted capture.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The pcap file.
    pub path: PathBuf,
    /// Quotes in it (each one market record in the daemon's journal).
    pub quotes: u64,
}

/// `csv` (the account CSV `mam accounts import` reads) written to `dir/accounts.csv` and
/// imported into `dir/accounts.mams`, whose path is returned (for
/// [`DaemonSetup::use_account_store`]).
pub fn account_store(dir: &Path, csv: &str) -> PathBuf {
    let path = dir.join("accounts.csv");
    std::fs::write(&path, csv).expect("write accounts.csv");
    let store = dir.join("accounts.mams");
    let (s, c) = (store.display().to_string(), path.display().to_string());
    mam(&["accounts", "import", "--store", &s, &c]);
    store
}

/// Eight accounts, A0..A3 following manager 0 and B0..B3 manager 1, balances 10,000 to 40,000.
pub fn two_manager_accounts() -> String {
    let mut text = String::from("id,balance,equity,manager\n");
    for i in 0..4 {
        text += &format!("A{i},{b},{b},0\nB{i},{b},{b},1\n", b = 10_000 * (i + 1));
    }
    text
}

/// Converts hours `hours` of the shared Dukascopy EURUSD day 2019-02-04 into a pcap of mam
/// SBE quotes in `dir` (with `mam capture convert`).
pub fn convert_eurusd(dir: &Path, hours: std::ops::Range<u32>) -> Capture {
    let src = crate::shared_data().join("dukascopy/EURUSD-2019-02-04");
    assert!(
        src.is_dir(),
        "{} missing: the daemon tests replay this Dukascopy day",
        src.display()
    );
    // The converter dates hours by their folder's name, so the chosen hours get one too.
    let day = dir.join("EURUSD-2019-02-04");
    std::fs::create_dir_all(&day).expect("create the hours folder");
    for h in hours {
        let name = format!("{h:02}h_ticks.bi5");
        let from = src.join(&name);
        assert!(from.is_file(), "{} missing", from.display());
        std::fs::copy(&from, day.join(&name)).expect("copy an hour file");
    }
    let path = dir.join("eurusd.pcap");
    let out = mam(&[
        "capture",
        "convert",
        "--from",
        "dukascopy",
        day.to_str().expect("utf-8 path"),
        "--symbol",
        "EURUSD",
        "--out",
        path.to_str().expect("utf-8 path"),
        "--json",
    ]);
    let quotes = json_u64(&out, "quotes").expect("convert's summary has quotes");
    Capture { path, quotes }
}

/// The first unsigned integer value of `"key":` in a JSON text (enough for our own tools'
/// flat summaries, without a JSON dependency in this library).
pub fn json_u64(text: &str, key: &str) -> Option<u64> {
    let at = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = text[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `mam replay CAPTURE --serve soup://127.0.0.1:0 --speed max`, serving every client that
/// comes (each from the sequence number it asks for) until dropped.
#[derive(Debug)]
pub struct Replay {
    /// The process.
    pub proc: Proc,
    /// Its SoupBinTCP address.
    pub addr: String,
}

impl Replay {
    /// Starts the server and waits for its address.
    pub fn start(capture: &Path, out: &Path) -> Replay {
        Replay::start_at(capture, out, "max")
    }

    /// Starts the server at `speed` (`max`, or a factor of the capture's pace such as `300x`:
    /// each client is paced from the first message it asks for) and waits for its address.
    pub fn start_at(capture: &Path, out: &Path, speed: &str) -> Replay {
        let args = vec![
            "replay".to_string(),
            capture.display().to_string(),
            "--serve".into(),
            "soup://127.0.0.1:0".into(),
            "--speed".into(),
            speed.into(),
        ];
        let mut proc = Proc::mam("replay", &args, out);
        let line = proc.wait_line(0, "the serving line", |l| l.starts_with("serving "));
        let addr = line
            .split("soup://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .map(|s| s.trim_end_matches([',', ')']).to_string())
            .expect("address in the serving line");
        Replay { proc, addr }
    }
}

/// QuickFIX's executor as the LP, printing every message it receives to `executor.out`.
pub fn start_lp(dir: &Path) -> Executor {
    Executor::start_with(dir, 0, "EXECUTOR", "MAM", true).unwrap_or_else(|e| panic!("{e}"))
}

/// `[admin]` on, on any free loopback port, with snapshots every 20 ms (config text to append).
pub const ADMIN_ON: &str =
    "[admin]\nenabled = true\nlisten = \"127.0.0.1:0\"\nsnapshot_interval = \"20ms\"\n";

/// The usual stage of a daemon test: hour 14 of the shared EURUSD day replayed over
/// SoupBinTCP, QuickFIX's executor as the LP (in `DIR/executor`), and `DIR/mam.toml` for
/// `accounts` generated accounts with `extra` appended. The daemon is not started: a test may
/// change the config first.
#[derive(Debug)]
pub struct EurusdRig {
    /// The converted capture.
    pub capture: Capture,
    /// The feed server.
    pub replay: Replay,
    /// The LP.
    pub lp: Executor,
    /// The daemon's config and state directory.
    pub setup: DaemonSetup,
}

impl EurusdRig {
    /// Sets it up in `dir`.
    pub fn new(dir: &Path, accounts: usize, extra: &str) -> EurusdRig {
        let capture = convert_eurusd(dir, 14..15);
        let replay = Replay::start(&capture.path, &out_file(dir, "replay"));
        let lp = start_lp(&dir.join("executor"));
        let setup = DaemonSetup::write(dir, &replay.addr, &lp.addr().to_string(), accounts);
        if !extra.is_empty() {
            setup.append_config(extra);
        }
        EurusdRig {
            capture,
            replay,
            lp,
            setup,
        }
    }
}

/// One daemon setup: its config file and state directory.
#[derive(Debug, Clone)]
pub struct DaemonSetup {
    /// The config file.
    pub config: PathBuf,
    /// The state directory.
    pub state: PathBuf,
    /// The manager acceptor's address.
    pub manager: String,
}

impl DaemonSetup {
    /// Writes `dir/mam.toml`: event-time sequencing, `accounts` generated accounts, the soup
    /// feed at `feed`, the LP at `lp`, the manager session on a free loopback port, shared
    /// mode without pinning (two cores, other processes).
    pub fn write(dir: &Path, feed: &str, lp: &str, accounts: usize) -> DaemonSetup {
        let state = dir.join("state");
        let port = free_port().expect("a free port");
        let manager = format!("127.0.0.1:{port}");
        let config = dir.join("mam.toml");
        let text = format!(
            "state = \"{state}\"\nstats_interval = \"1s\"\n\
             [accounts]\ngenerate = {accounts}\nseed = 42\n\
             [pipeline]\nmode = \"shared\"\npin = false\nsequencing = \"event_time\"\n\
             [feed]\nsource = \"soup\"\nconnect = \"{feed}\"\n\
             [manager]\nlisten = \"{manager}\"\n\
             [lp]\nconnect = \"{lp}\"\ncomp_id = \"MAM\"\npeer_comp_id = \"EXECUTOR\"\n",
            state = state.display(),
        );
        std::fs::write(&config, text).expect("write mam.toml");
        DaemonSetup {
            config,
            state,
            manager,
        }
    }

    /// Starts `mam run --config` (output appended to `out`) and waits until its stages run.
    pub fn start(&self, out: &Path) -> Proc {
        let from = std::fs::metadata(out).map_or(0, |m| m.len() as usize);
        let args = vec![
            "run".to_string(),
            "--config".into(),
            self.config.display().to_string(),
        ];
        let mut p = Proc::mam("daemon", &args, out);
        p.wait_line(from, "the daemon's stages running", |l| {
            l.contains("stages [") && l.contains("running")
        });
        p
    }

    /// Points `[accounts]` at an account store (`mam accounts import --store`) instead of
    /// generated accounts.
    pub fn use_account_store(&self, store: &Path) {
        let text = std::fs::read_to_string(&self.config).expect("read mam.toml");
        let at = text.find("[accounts]\n").expect("an [accounts] section");
        let end = text[at..]
            .find("[pipeline]")
            .expect("[pipeline] after [accounts]")
            + at;
        let text = format!(
            "{}[accounts]\nfile = \"{}\"\n{}",
            &text[..at],
            store.display(),
            &text[end..]
        );
        std::fs::write(&self.config, text).expect("write mam.toml");
    }

    /// Appends `toml` (whole sections) to the config file.
    pub fn append_config(&self, toml: &str) {
        let mut f = OpenOptions::new()
            .append(true)
            .open(&self.config)
            .expect("open mam.toml");
        f.write_all(toml.as_bytes()).expect("append to mam.toml");
    }

    /// `mam accounts statement --state DIR --json` of the stopped daemon's directory: every
    /// account's balance, equity, margin and positions, and the totals per symbol.
    pub fn statement(&self) -> String {
        mam(&[
            "accounts",
            "statement",
            "--state",
            self.state.to_str().expect("utf-8 path"),
            "--json",
        ])
    }

    /// Every record of the stopped daemon's journal: (seq, kind, payload).
    pub fn journal_records(&self) -> Vec<(u64, u16, Vec<u8>)> {
        let dir = self.state.join("journal");
        let r =
            JournalReader::open(&dir).unwrap_or_else(|e| panic!("opening {}: {e}", dir.display()));
        assert!(
            r.report().corruption.is_none(),
            "journal corrupt: {:?}",
            r.report().corruption
        );
        r.records(0)
            .map(|rec| {
                let rec = rec.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
                (rec.seq, rec.kind, rec.payload.to_vec())
            })
            .collect()
    }

    /// Market records in the (live or stopped) journal: read-only `mam journal verify`.
    /// 0 while there is no journal to read yet.
    pub fn market_records(&self) -> u64 {
        let out = Command::new(mam_bin())
            .args(["journal", "verify", "--json"])
            .arg(self.state.join("journal"))
            .output()
            .expect("running mam journal verify");
        let out = String::from_utf8_lossy(&out.stdout);
        // Kind 5 is `market` (mam_core::engine::input::KIND_MARKET).
        let kinds = out.split("\"kinds\":").nth(1).unwrap_or("");
        let kinds = &kinds[..kinds.find('}').unwrap_or(kinds.len())];
        json_u64(kinds, &mam_core::engine::input::KIND_MARKET.to_string()).unwrap_or(0)
    }

    /// `mam journal state` of the stopped daemon's directory: the digest and the bytes.
    pub fn final_state(&self) -> (String, Vec<u8>) {
        let out = self.state.with_extension("bin");
        let text = mam(&[
            "journal",
            "state",
            self.state.to_str().expect("utf-8 path"),
            "--out",
            out.to_str().expect("utf-8 path"),
        ]);
        // "state digest XXXXXXXXXXXXXXXX: journal seq ...": the digest alone (how long the
        // journal is depends on how the run went, the state must not).
        let digest = text
            .split("state digest ")
            .nth(1)
            .and_then(|s| s.split(':').next())
            .unwrap_or_else(|| panic!("no state digest in:\n{text}"))
            .to_string();
        (digest, std::fs::read(&out).expect("the state bytes"))
    }

    /// `mam journal dump` of the journal, one line per record, with every `recv_ns: N` (a
    /// market record's arrival stamp) shown as `recv_ns: -` when `mask_recv` is set.
    pub fn journal_dump(&self, mask_recv: bool) -> Vec<String> {
        let out = mam(&[
            "journal",
            "dump",
            self.state.join("journal").to_str().expect("utf-8 path"),
        ]);
        out.lines()
            .map(|l| {
                if !mask_recv {
                    return l.to_string();
                }
                let mut s = String::with_capacity(l.len());
                let mut rest = l;
                while let Some(i) = rest.find("recv_ns: ") {
                    s.push_str(&rest[..i + 9]);
                    s.push('-');
                    rest = rest[i + 9..].trim_start_matches(|c: char| c.is_ascii_digit());
                }
                s.push_str(rest);
                s
            })
            .collect()
    }

    /// The journal's segment files, by name, with their bytes.
    pub fn journal_files(&self) -> BTreeMap<String, Vec<u8>> {
        let dir = self.state.join("journal");
        std::fs::read_dir(&dir)
            .expect("the journal directory")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.is_file())
            .map(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy().into();
                (name, std::fs::read(&p).expect("a journal file"))
            })
            .collect()
    }
}

/// Arguments of `mam manager` toward `setup`.
pub fn manager_args(
    setup: &DaemonSetup,
    capture: &Path,
    store: &Path,
    trades: usize,
    pace: &str,
) -> Vec<String> {
    [
        "manager",
        "--connect",
        &setup.manager,
        "--capture",
        capture.to_str().expect("utf-8 path"),
        "--trades",
        &trades.to_string(),
        "--seed",
        "2019",
        "--store",
        store.to_str().expect("utf-8 path"),
        "--pace",
        pace,
        "--clock-every-ms",
        "5000",
        "--models",
        "equity,balance,multiplier",
        "--routings",
        "block,per-account",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Header and session fields, not part of what an order *is*; and TransactTime (60), which
/// the LP stage stamps from the wall clock as the order leaves (a FIX resend keeps it, so it
/// still tells a resend from a second send: see [`LpOrder::seqs`]).
const SESSION_TAGS: [u32; 12] = [8, 9, 10, 34, 43, 49, 52, 56, 60, 97, 122, 369];

/// One NewOrderSingle the LP received.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LpOrder {
    /// The MsgSeqNums it arrived under (a FIX resend repeats one; a second send adds one).
    pub seqs: BTreeSet<u64>,
    /// Its fields, header and trailer removed, `tag=value` in wire order.
    pub fields: Vec<String>,
}

/// Every NewOrderSingle in the executor's screen log (`executor.out`, incoming messages), by
/// ClOrdID.
pub fn lp_orders(executor_dir: &Path) -> BTreeMap<String, LpOrder> {
    let text = std::fs::read(executor_dir.join("executor.out")).expect("executor.out");
    let text = String::from_utf8_lossy(&text);
    let mut out: BTreeMap<String, LpOrder> = BTreeMap::new();
    for line in text.lines() {
        let Some(at) = line.find("8=FIX") else {
            continue;
        };
        let msg = line[at..].trim_end().trim_end_matches(')');
        let fields: Vec<(u32, &str)> = msg
            .split('\x01')
            .filter_map(|f| {
                let (t, v) = f.split_once('=')?;
                Some((t.parse().ok()?, v))
            })
            .collect();
        let get = |tag: u32| fields.iter().find(|f| f.0 == tag).map(|f| f.1);
        if get(35) != Some("D") {
            continue;
        }
        let (Some(id), Some(seq)) = (get(11), get(34).and_then(|s| s.parse().ok())) else {
            continue;
        };
        let body: Vec<String> = fields
            .iter()
            .filter(|f| !SESSION_TAGS.contains(&f.0))
            .map(|(t, v)| format!("{t}={v}"))
            .collect();
        let e = out.entry(id.to_string()).or_insert_with(|| LpOrder {
            seqs: BTreeSet::new(),
            fields: body.clone(),
        });
        assert_eq!(
            e.fields, body,
            "ClOrdID {id} arrived twice with different fields"
        );
        e.seqs.insert(seq);
    }
    out
}

/// Waits until `cond` holds, checking every 50 ms; panics saying `what` after [`PATIENCE`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A file in `dir` for a process's output.
pub fn out_file(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(format!("{name}.out"));
    let _ = File::create(&p);
    p
}

/// SplitMix64, seeded: a test's kill delays are the same on every run.
pub use mam_core::rand::SplitMix64 as Rng;

/// mam's net position at the LP per symbol, from the orders the LP received: QuickFIX's
/// executor fills every limit order in full at its price (and the daemon sends only limit
/// orders while a price collar is set), so each NewOrderSingle is a fill of ±OrderQty.
pub fn lp_net_from_orders(lp: &BTreeMap<String, LpOrder>) -> BTreeMap<String, Qty> {
    let mut net: BTreeMap<String, Qty> = BTreeMap::new();
    for (id, o) in lp {
        let get = |tag: &str| {
            o.fields
                .iter()
                .find_map(|f| f.strip_prefix(tag).and_then(|v| v.strip_prefix('=')))
                .unwrap_or_else(|| panic!("ClOrdID {id}: no tag {tag} in {:?}", o.fields))
        };
        assert_eq!(get("40"), "2", "ClOrdID {id} is not a limit order");
        let qty = Qty::parse(get("38")).unwrap_or_else(|e| panic!("ClOrdID {id}: 38: {e}"));
        let signed = match get("54") {
            "1" => qty.raw(),
            "2" => -qty.raw(),
            s => panic!("ClOrdID {id}: side {s}"),
        };
        let e = net.entry(get("55").to_string()).or_insert(Qty::ZERO);
        *e = Qty(e.raw() + signed);
    }
    net.retain(|_, q| !q.is_zero());
    net
}

/// Checks a `mam accounts statement --json` document: per symbol, the totals' `accounts` is
/// the Σ of the accounts' positions listed above it, `accounts + unallocated = lp_net`, and
/// `lp_net` is what the LP's orders add up to ([`lp_net_from_orders`]); a symbol without a
/// totals line is flat everywhere. Panics saying what differs.
pub fn check_statement_totals(json: &str, lp: &BTreeMap<String, LpOrder>) {
    let doc: serde_json::Value = serde_json::from_str(json.trim())
        .unwrap_or_else(|e| panic!("statement is not JSON ({e}):\n{json}"));
    let qty = |v: &serde_json::Value, what: &str| {
        let s = v
            .as_str()
            .unwrap_or_else(|| panic!("statement: {what} is not a string: {v}"));
        Qty::parse(s).unwrap_or_else(|e| panic!("statement: {what} `{s}`: {e}"))
    };
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for a in doc["accounts"].as_array().expect("statement: accounts[]") {
        for p in a["positions"].as_array().expect("statement: positions[]") {
            let sym = p["symbol"].as_str().expect("statement: symbol").to_string();
            *sums.entry(sym).or_insert(0) += qty(&p["qty"], "qty").raw();
        }
    }
    sums.retain(|_, q| *q != 0);
    let want_lp = lp_net_from_orders(lp);
    let mut seen = BTreeSet::new();
    for t in doc["totals"].as_array().expect("statement: totals[]") {
        let sym = t["symbol"]
            .as_str()
            .expect("statement: totals symbol")
            .to_string();
        let (acc, un, net) = (
            qty(&t["accounts"], "totals accounts"),
            qty(&t["unallocated"], "unallocated"),
            qty(&t["lp_net"], "lp_net"),
        );
        assert_eq!(
            acc.raw(),
            sums.get(&sym).copied().unwrap_or(0),
            "{sym}: the totals' Σ accounts is not the Σ of the accounts' positions"
        );
        assert_eq!(
            acc.raw() + un.raw(),
            net.raw(),
            "{sym}: Σ accounts {acc} + unallocated {un} != LP net {net}"
        );
        assert_eq!(
            net,
            want_lp.get(&sym).copied().unwrap_or(Qty::ZERO),
            "{sym}: the statement's LP net is not what the LP's orders add up to"
        );
        seen.insert(sym);
    }
    for (sym, q) in &sums {
        assert!(
            seen.contains(sym),
            "{sym}: accounts hold {q} but no totals line"
        );
    }
    for (sym, q) in &want_lp {
        assert!(
            seen.contains(sym),
            "{sym}: the LP's orders net {q} but no totals line"
        );
    }
}

/// Counts a live journal's records by kind, reading only what was appended since the last
/// [`JournalWatch::poll`] (where `mam journal verify` scans every segment, 64 MiB each): cheap
/// enough to poll every half millisecond and aim a kill within a few records. Only whole records
/// with a valid CRC count; a torn tail is read again once the restarted daemon has replaced
/// it.
#[derive(Debug)]
pub struct JournalWatch {
    dir: PathBuf,
    /// Segment index being read, its byte offset, and the sequence number expected there.
    segment: u64,
    offset: usize,
    next_seq: Option<u64>,
    kinds: BTreeMap<u16, u64>,
    buf: Vec<u8>,
}

impl JournalWatch {
    /// Watches `state/journal`.
    pub fn new(state: &Path) -> JournalWatch {
        JournalWatch {
            dir: state.join("journal"),
            segment: 0,
            offset: SEGMENT_HEADER_LEN,
            next_seq: None,
            kinds: BTreeMap::new(),
            buf: Vec::new(),
        }
    }

    fn segments(&self) -> Vec<u64> {
        let mut v: Vec<u64> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| parse_segment_file_name(e.ok()?.file_name().to_str()?))
                    .collect()
            })
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    /// Reads what was appended; returns the records so far by kind.
    pub fn poll(&mut self) -> &BTreeMap<u16, u64> {
        use std::os::unix::fs::FileExt as _;
        loop {
            let segs = self.segments();
            if self.segment == 0 {
                match segs.first() {
                    Some(&s) => self.segment = s,
                    None => return &self.kinds,
                }
            }
            let name = mam_core::journal::format::segment_file_name(self.segment);
            let Ok(f) = File::open(self.dir.join(name)) else {
                return &self.kinds;
            };
            let mut end_of_data = false;
            loop {
                self.buf.resize(1 << 20, 0);
                let n = f.read_at(&mut self.buf, self.offset as u64).unwrap_or(0);
                self.buf.truncate(n);
                let mut at = 0;
                loop {
                    // The first record names its own sequence number.
                    let expected = self.next_seq.unwrap_or_else(|| {
                        self.buf
                            .get(at + 8..at + 16)
                            .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
                    });
                    match decode_at(&self.buf, at, expected) {
                        Ok(Some(r)) => {
                            *self.kinds.entry(r.kind).or_insert(0) += 1;
                            self.next_seq = Some(r.seq + 1);
                            at += mam_core::journal::format::record_size(r.payload.len());
                        }
                        Ok(None) => {
                            end_of_data = true;
                            break;
                        }
                        // Cut by the chunk's end, or still being written.
                        Err(_) => break,
                    }
                }
                self.offset += at;
                if at == 0 || n < (1 << 20) || end_of_data {
                    break;
                }
            }
            // At the end of this segment's data: a later segment continues the journal.
            match segs.iter().find(|&&s| s > self.segment) {
                Some(&next) if end_of_data => {
                    self.segment = next;
                    self.offset = SEGMENT_HEADER_LEN;
                }
                _ => return &self.kinds,
            }
        }
    }

    /// Records of `kind` so far.
    pub fn count(&mut self, kind: u16) -> u64 {
        self.poll().get(&kind).copied().unwrap_or(0)
    }
}
