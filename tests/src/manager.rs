//! A money manager's FIX session for the daemon tests: mam's own FIX 4.4 initiator, collecting
//! every application message the daemon sends.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mam_gateway::fix::session::initiator::{now_ns, Initiator, InitiatorOptions};
use mam_gateway::fix::session::{Event, Role, Session, SessionConfig};
use mam_gateway::fix::store::Store;

/// What the manager received: MsgType and fields.
#[derive(Debug, Clone)]
pub struct Got {
    /// MsgType (35).
    pub msg_type: String,
    /// Body fields in wire order.
    pub fields: Vec<(u32, String)>,
    /// A FIX resend of a message received before (PossDupFlag Y).
    pub poss_dup: bool,
}

impl Got {
    /// The first value of `tag` (empty if absent).
    pub fn get(&self, tag: u32) -> &str {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A money manager's FIX 4.4 session (mam's own initiator) toward the daemon's acceptor.
#[derive(Debug)]
pub struct Manager {
    /// The session.
    pub ini: Initiator,
    /// Every application message received, in order.
    pub got: Vec<Got>,
}

impl Manager {
    /// Logs on to `addr` (CompIDs MANAGER → MAM), its store in `dir`.
    pub fn connect(addr: SocketAddr, dir: &std::path::Path) -> Manager {
        let cfg = SessionConfig::new(Role::Initiator, "MANAGER", "MAM");
        let mut session = Session::new(cfg, Store::open(dir).unwrap()).unwrap();
        // Answers to RequestForPositions.
        session.accept_app_type(b"AO");
        session.accept_app_type(b"AP");
        let mut m = Manager {
            ini: Initiator::new(session, InitiatorOptions::new(addr)).unwrap(),
            got: Vec::new(),
        };
        let t0 = Instant::now();
        while !m.ini.is_logged_on() {
            assert!(t0.elapsed() < Duration::from_secs(60), "manager Logon");
            m.turn();
        }
        m
    }

    /// Runs the session for up to 5 ms, collecting what arrives.
    pub fn turn(&mut self) {
        let got = &mut self.got;
        self.ini
            .turn(now_ns(), Some(Duration::from_millis(5)), &mut |e| {
                if let Event::App { msg, poss_dup } = e {
                    got.push(Got {
                        poss_dup,
                        msg_type: String::from_utf8_lossy(msg.msg_type()).into_owned(),
                        fields: msg
                            .fields()
                            .map(|f| (f.tag, String::from_utf8_lossy(f.value).into_owned()))
                            .collect(),
                    });
                }
            })
            .unwrap();
    }

    /// Opens the manager's clock (TradingSessionStatus 340=2) at `time` of the EURUSD day the
    /// daemon tests replay (`20190204-14:00:00`).
    pub fn open_clock(&mut self, time: &str) {
        self.send(b"h", &[(336, "MAM"), (340, "2"), (60, time)]);
    }

    /// A one-lot EURUSD buy limit at 1.14600, above the 14:00 market of the shared day (about
    /// 1.1440), so QuickFIX's executor fills it at that price: ClOrdID (the ticket) `id`,
    /// TransactTime 14:00:`second`, MamRouting `per-account` when `per_account`, otherwise the
    /// daemon's default.
    pub fn buy_one_lot(&mut self, id: &str, second: u32, per_account: bool) {
        let t = format!("20190204-14:00:{second:02}");
        let mut f = vec![
            (11, id),
            (55, "EURUSD"),
            (54, "1"),
            (38, "100000"),
            (40, "2"),
            (44, "1.14600"),
            (60, t.as_str()),
        ];
        if per_account {
            f.push((5102, "per-account"));
        }
        self.send(b"D", &f);
    }

    /// Sends one application message and runs the session once.
    pub fn send(&mut self, msg_type: &[u8], fields: &[(u32, &str)]) {
        self.ini
            .send_app(now_ns(), msg_type, |w| {
                for (t, v) in fields {
                    w.field_num(*t, v.as_bytes());
                }
            })
            .unwrap();
        self.ini.flush().unwrap();
        self.turn();
    }
}
