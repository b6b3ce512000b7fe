//! An LP that keeps orders working: QuickFIX's `ordermatch` example (Debian
//! `libquickfix-doc`), a real order book over FIX 4.2 that fills only against crossing orders
//! and accepts OrderCancelRequest. mam's LP stage speaks FIX 4.2 to it; a second client of
//! the book (a trader, mam's own FIX initiator on its own session) sends the crossing orders.
//!
//! Checked: a child rests (acknowledged, nothing filled); a crossing sell fills part of it (the
//! FIX 4.2 partial-fill report, ExecType 1, reaches the engine as a fill); the engine's cancel
//! request goes out as 35=F and the book's Canceled report ends the child with what filled;
//! a second child filled completely by a crossing order ends Filled, and a cancel sent after
//! that changes nothing. The engine side applies fills by the engine stage's own rule and
//! fails on a fill counted twice (`lp_util.rs`).
//!
//! Needs QuickFIX (`apt-get install -y libquickfix17 libquickfix-doc`); fails saying so.

mod lp_util;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use lp_util::{eurusd, lp_opts, rig};
use mam_core::event::{ChildOrder, ExecStatus};
use mam_core::num::{Price, Qty};
use mam_gateway::fix::session::initiator::{now_ns, Initiator, InitiatorOptions};
use mam_gateway::fix::session::{Role, Session, SessionConfig};
use mam_gateway::fix::store::Store;
use mam_gateway::fix::BEGIN_FIX42;
use mam_tests::quickfix::free_port;

const ORDERMATCH_GZ: &str =
    "/usr/share/doc/libquickfix-doc/examples/ordermatch/.libs/ordermatch.gz";

/// The ordermatch process: killed on drop. Its stdin stays open (it reads commands there and
/// would spin on end of file).
struct OrderMatch {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
}

impl OrderMatch {
    fn start(dir: &Path, clients: &[&str]) -> OrderMatch {
        assert!(
            Path::new(ORDERMATCH_GZ).is_file(),
            "{ORDERMATCH_GZ} missing: install QuickFIX's examples with `apt-get install -y \
             libquickfix17 libquickfix-doc` (.ci/test does)"
        );
        std::fs::create_dir_all(dir).unwrap();
        let bin = dir.join("ordermatch");
        let out = Command::new("gzip")
            .arg("-dc")
            .arg(ORDERMATCH_GZ)
            .output()
            .unwrap();
        assert!(out.status.success(), "gzip -dc {ORDERMATCH_GZ}");
        std::fs::write(&bin, &out.stdout).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let port = free_port().unwrap();
        let mut cfg = format!(
            "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort={port}\n\
             SocketAcceptAddress=127.0.0.1\nSocketReuseAddress=Y\nSocketNodelay=Y\n\
             FileStorePath={d}/store\nFileLogPath={d}/log\nStartTime=00:00:00\n\
             EndTime=00:00:00\nUseDataDictionary=N\nScreenLogShowIncoming=Y\n\
             ScreenLogShowOutgoing=Y\nScreenLogShowEvents=Y\n",
            d = dir.display()
        );
        for c in clients {
            cfg.push_str(&format!(
                "\n[SESSION]\nBeginString=FIX.4.2\nSenderCompID=ORDERMATCH\nTargetCompID={c}\n\
                 HeartBtInt=30\n"
            ));
        }
        let cfg_path = dir.join("ordermatch.cfg");
        std::fs::write(&cfg_path, cfg).unwrap();
        let log = std::fs::File::create(dir.join("ordermatch.out")).unwrap();
        let mut child = None;
        for _ in 0..100 {
            // ETXTBSY while another thread's fork still holds the fresh binary open.
            match Command::new(&bin)
                .arg(&cfg_path)
                .current_dir(dir)
                .stdin(Stdio::piped())
                .stdout(log.try_clone().unwrap())
                .stderr(log.try_clone().unwrap())
                .spawn()
            {
                Err(e) if e.raw_os_error() == Some(26) => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                r => {
                    child = Some(r.expect("start ordermatch (it needs libquickfix.so.17)"));
                    break;
                }
            }
        }
        let mut child = child.expect("ordermatch started");
        let stdin = child.stdin.take().unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let t0 = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30) && matches!(child.try_wait(), Ok(None)),
                "ordermatch did not listen: {}",
                std::fs::read_to_string(dir.join("ordermatch.out")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        OrderMatch {
            child,
            _stdin: stdin,
            port,
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for OrderMatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The other side of the book: a FIX 4.2 client that sends crossing orders.
struct Trader {
    ini: Initiator,
    next: u64,
}

impl Trader {
    fn connect(addr: SocketAddr, store: PathBuf) -> Trader {
        let mut cfg = SessionConfig::new(Role::Initiator, "TRADER", "ORDERMATCH");
        cfg.begin_string = BEGIN_FIX42.to_vec();
        let session = Session::new(cfg, Store::open(&store).unwrap()).unwrap();
        let mut t = Trader {
            ini: Initiator::new(session, InitiatorOptions::new(addr)).unwrap(),
            next: 1,
        };
        let t0 = Instant::now();
        while !t.ini.is_logged_on() {
            assert!(t0.elapsed() < Duration::from_secs(30), "trader Logon");
            t.turn();
        }
        t
    }

    fn turn(&mut self) {
        self.ini
            .turn(now_ns(), Some(Duration::from_millis(2)), &mut |_| {})
            .unwrap();
    }

    /// A limit sell of `qty` at `px`.
    fn sell(&mut self, qty: &str, px: &str) {
        let id = format!("T{}", self.next);
        self.next += 1;
        self.ini
            .send_app(now_ns(), b"D", |w| {
                for (t, v) in [
                    (11, id.as_str()),
                    (21, "1"),
                    (55, "EURUSD"),
                    (54, "2"),
                    (38, qty),
                    (40, "2"),
                    (44, px),
                ] {
                    w.field_num(t, v.as_bytes());
                }
                w.field_num(60, b"20190204-14:00:00");
            })
            .unwrap();
        self.ini.flush().unwrap();
    }
}

fn buy(id: u64, qty: i64, px: &str) -> ChildOrder {
    ChildOrder {
        cl_ord_id: id,
        account: 3,
        instrument: eurusd(),
        qty: Qty::from_int(qty).unwrap(),
        price: Price::parse(px).unwrap(),
        side: 1,
        ord_type: 2,
        ts_ns: 1_549_288_800_000_000_000,
        ..Default::default()
    }
}

#[test]
fn resting_children_fill_partly_and_cancel_at_a_real_order_book() {
    let dir = tempfile::tempdir().unwrap();
    let om = OrderMatch::start(&dir.path().join("om"), &["MAM", "TRADER"]);
    let mut opts = lp_opts(om.addr(), "ORDERMATCH", &dir.path().join("mam"));
    opts.begin_string = BEGIN_FIX42.to_vec();
    opts.allocation_instructions = false;
    let mut a = rig(opts, None);
    let mut trader = Trader::connect(om.addr(), dir.path().join("trader"));

    // Child 1 rests: acknowledged, nothing filled.
    a.push_order(buy(1, 3000, "1.1"));
    a.until("child 1 acknowledged", |r| {
        r.stage.stats().snapshot().acks == 1
    });
    // A crossing sell of 1,000: a partial fill at 1.1.
    trader.sell("1000", "1.1");
    a.until("child 1 partly filled", |r| {
        r.held(1).cum == Qty::from_int(1000).unwrap()
    });
    // The engine cancels the rest: the book cancels it, the child ends with its 1,000.
    a.push_cancel(1);
    a.until("child 1 ended", |r| !r.held(1).open);
    let last = a.engine.applied[&1].last().copied().unwrap();
    assert_eq!(last.status, ExecStatus::Canceled as u8, "{last:?}");
    assert_eq!(a.held(1).cum, Qty::from_int(1000).unwrap());

    // Child 2 fills completely against a larger sell; a cancel after that changes nothing.
    a.push_order(buy(2, 2000, "1.1"));
    a.until("child 2 acknowledged", |r| {
        r.stage.stats().snapshot().acks == 2
    });
    trader.sell("5000", "1.1");
    a.until("child 2 filled", |r| r.filled(2));
    a.push_cancel(2);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(500) {
        a.cycle();
        trader.turn();
    }
    assert_eq!(a.held(2).cum, Qty::from_int(2000).unwrap());
    assert!(!a.held(2).open);
    let st = a.stage.stats().snapshot();
    assert_eq!((st.orders_sent, st.cancels_sent), (2, 2), "{st:?}");
    let log = std::fs::read_to_string(dir.path().join("om").join("ordermatch.out")).unwrap();
    assert!(
        log.contains("\u{1}35=F\u{1}"),
        "the book received the cancel requests"
    );
    let _ = std::io::stdout().flush();
    a.stop();
}
