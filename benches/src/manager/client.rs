//! [`ManagerClient`]: the manager's FIX 4.4 initiator toward mam's manager acceptor.
//!
//! It wraps the gateway's [`Initiator`] over a store in a directory of its own, so sequence
//! numbers and every sent message survive the daemon's restarts (the daemon asks for what it
//! did not journal and the store answers with PossDup resends) and this process's restarts
//! (the store is scanned on open: what was sent is known again, see [`ManagerClient::sent`]).

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mam_core::event::Side;
use mam_core::num::{Money, Price, Qty};
use mam_gateway::fix::decode::{Decoder, Message};
use mam_gateway::fix::encode::MsgWriter;
use mam_gateway::fix::msg::{BusinessMessageReject, ExecutionReport};
use mam_gateway::fix::session::initiator::{now_ns, Initiator, InitiatorOptions};
use mam_gateway::fix::session::{Event, Role, Session, SessionConfig, SessionError};
use mam_gateway::fix::store::Store;
use mam_gateway::fix::tag::{self, Tag};
use mam_gateway::fix::time::parse_utc;
use thiserror::Error;

/// MamModel (custom tag of docs/daemon.md).
pub const MAM_MODEL: Tag = Tag {
    num: 5101,
    eq: b"5101=",
};
/// MamRouting.
pub const MAM_ROUTING: Tag = Tag {
    num: 5102,
    eq: b"5102=",
};
/// MamCloseAll.
pub const MAM_CLOSE_ALL: Tag = Tag {
    num: 5103,
    eq: b"5103=",
};
/// MamMinLotPolicy.
pub const MAM_MIN_LOT_POLICY: Tag = Tag {
    num: 5104,
    eq: b"5104=",
};
/// MamStopDistance.
pub const MAM_STOP_DISTANCE: Tag = Tag {
    num: 5105,
    eq: b"5105=",
};
/// MamReference.
pub const MAM_REFERENCE: Tag = Tag {
    num: 5106,
    eq: b"5106=",
};
/// PositionEffect (77).
pub const POSITION_EFFECT: Tag = Tag {
    num: 77,
    eq: b"77=",
};
/// TradingSessionID (336).
pub const TRADING_SESSION_ID: Tag = Tag {
    num: 336,
    eq: b"336=",
};
/// TradSesStatus (340).
pub const TRAD_SES_STATUS: Tag = Tag {
    num: 340,
    eq: b"340=",
};

/// Why the client could not do what it was asked.
#[derive(Debug, Error)]
pub enum ManagerError {
    /// The FIX session failed (store, encoding, transport).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The store or the poller could not be opened.
    #[error("manager session setup: {0}")]
    Io(#[from] std::io::Error),
    /// The store directory could not be opened.
    #[error(transparent)]
    Store(#[from] mam_gateway::fix::store::StoreError),
    /// A master order's TransactTime below the clock already promised.
    #[error("TransactTime {time_ns} is below the manager clock {clock_ns} already sent")]
    TimeBackwards {
        /// The order's time.
        time_ns: u64,
        /// The clock.
        clock_ns: u64,
    },
    /// A text value that cannot go into a FIX field.
    #[error("{what} `{value}` is empty or holds control characters")]
    BadText {
        /// Which field.
        what: &'static str,
        /// The value.
        value: String,
    },
}

/// Where and as whom the client connects.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// mam's manager acceptor.
    pub addr: SocketAddr,
    /// Our CompID (the daemon's `manager.peer_comp_id`).
    pub sender: String,
    /// mam's CompID (`manager.comp_id`).
    pub target: String,
    /// Session store directory (sequence numbers and sent messages persist there).
    pub store: PathBuf,
    /// Password (554) for the Logon, if the daemon wants one.
    pub password: Option<String>,
    /// HeartBtInt in seconds.
    pub heartbeat_s: u32,
    /// First reconnect delay; kept short because a killed daemon comes back within a second.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
}

impl ClientOptions {
    /// `MANAGER` → `MAM` with the store in `store`, 30 s heartbeats, reconnects every 20-500 ms.
    pub fn new(addr: SocketAddr, store: PathBuf) -> Self {
        ClientOptions {
            addr,
            sender: "MANAGER".into(),
            target: "MAM".into(),
            store,
            password: None,
            heartbeat_s: 30,
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_millis(500),
        }
    }
}

/// Optional per-order settings (docs/daemon.md tags 5101-5106); `None` = the daemon's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderOpts {
    /// MamModel (`equity`, `balance`, `multiplier`, ...).
    pub model: Option<String>,
    /// MamRouting (`block` or `per-account`).
    pub routing: Option<String>,
    /// MamMinLotPolicy (`zero` or `up`).
    pub min_lot_policy: Option<String>,
    /// MamStopDistance (price units) for the `risk` model.
    pub stop_distance: Option<Price>,
    /// MamReference: the master's balance/equity for the ratio models.
    pub reference: Option<Money>,
}

/// An opening master order (ClOrdID = ticket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The master ticket (> 0), also the ClOrdID.
    pub ticket: u64,
    /// Symbol of mam's table.
    pub symbol: String,
    /// Buy or sell.
    pub side: Side,
    /// Base units (a multiple of the symbol's lot step).
    pub units: Qty,
    /// Limit price; `None` sends a market order.
    pub limit: Option<Price>,
    /// Event time (TransactTime), UTC ns.
    pub transact_time_ns: u64,
    /// Model, routing and the rest.
    pub opts: OrderOpts,
}

/// A closing master order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// Its own ClOrdID (unique in the session).
    pub close_id: u64,
    /// The ticket it closes (OrigClOrdID).
    pub ticket: u64,
    /// The ticket's symbol.
    pub symbol: String,
    /// The close's side: the ticket's opposite (mam takes it from the ticket anyway).
    pub side: Side,
    /// Base units to close (still sent and > 0 with `close_all`).
    pub units: Qty,
    /// MamCloseAll=Y: close everything still open on the ticket.
    pub close_all: bool,
    /// Limit price; `None` sends a market order.
    pub limit: Option<Price>,
    /// Event time (TransactTime), UTC ns.
    pub transact_time_ns: u64,
    /// Model, routing and the rest.
    pub opts: OrderOpts,
}

/// What mam answered to one of our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckKind {
    /// ExecutionReport 150=0: accepted onto the engine ring.
    Accepted,
    /// ExecutionReport 150=8: refused at the edge.
    Refused {
        /// OrdRejReason (103).
        reason: Option<u32>,
        /// Text (58).
        text: String,
    },
    /// Any other ExecutionReport (ExecType 150).
    Report {
        /// ExecType.
        exec_type: u8,
    },
    /// Session-level Reject (35=3) of one of our messages.
    SessionReject {
        /// SessionRejectReason (373).
        reason: Option<u32>,
    },
    /// BusinessMessageReject (35=j).
    BusinessReject {
        /// BusinessRejectReason (380).
        reason: u32,
        /// Text (58).
        text: String,
    },
}

/// One answer, with when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The order it answers (ClOrdID, or the order sent under RefSeqNum for a Reject);
    /// `None` when it concerns no order (a Reject of a clock message).
    pub cl_ord_id: Option<u64>,
    /// RefSeqNum of a Reject, or our MsgSeqNum of the order when known.
    pub ref_seq: Option<u64>,
    /// What it says.
    pub kind: AckKind,
    /// Receipt time, UTC ns (system clock).
    pub recv_ns: u64,
    /// The daemon marked it PossDup (resent after a reconnect).
    pub poss_dup: bool,
}

/// The fate of one order as far as the client knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Sent, no answer yet.
    Pending,
    /// Accepted (150=0).
    Accepted,
    /// Refused or rejected.
    Refused,
}

/// A manager: sends master orders and clock watermarks, collects the answers.
#[derive(Debug)]
pub struct ManagerClient {
    ini: Initiator,
    /// Our MsgSeqNum → the ClOrdID sent under it (maps Rejects to orders).
    by_seq: HashMap<u64, u64>,
    /// Every order sent (by any process over this store) and what became of it.
    fates: BTreeMap<u64, Fate>,
    /// Application messages in the store (orders and clock messages).
    app_sent: u64,
    /// The highest TransactTime sent (orders and clocks): later orders may not go below it.
    clock_ns: u64,
    ended: bool,
    /// The daemon's last word was a Logout (cleared by the next Logon).
    peer_logged_out: bool,
    acks: Vec<Ack>,
    /// `<store>/answers`: one line per order's first answer (`ID A` or `ID R`), so a
    /// restarted manager knows the answers the daemon will not send again.
    answers: std::fs::File,
}

fn check_text(what: &'static str, v: &str) -> Result<(), ManagerError> {
    if v.is_empty() || !v.bytes().all(|c| c > b' ' && c < 0x7f) {
        return Err(ManagerError::BadText {
            what,
            value: v.into(),
        });
    }
    Ok(())
}

fn side_char(s: Side) -> u8 {
    match s {
        Side::Buy => b'1',
        Side::Sell => b'2',
    }
}

fn write_opts(w: &mut MsgWriter<'_>, o: &OrderOpts) {
    if let Some(m) = &o.model {
        w.text(MAM_MODEL, m.as_bytes());
    }
    if let Some(r) = &o.routing {
        w.text(MAM_ROUTING, r.as_bytes());
    }
    if let Some(p) = &o.min_lot_policy {
        w.text(MAM_MIN_LOT_POLICY, p.as_bytes());
    }
    if let Some(d) = o.stop_distance {
        w.price(MAM_STOP_DISTANCE, d);
    }
    if let Some(r) = o.reference {
        w.decimal(MAM_REFERENCE, r.raw(), Money::DECIMALS);
    }
}

fn write_price(w: &mut MsgWriter<'_>, limit: Option<Price>) {
    match limit {
        Some(p) => {
            w.char(tag::ORD_TYPE, b'2').price(tag::PRICE, p);
        }
        None => {
            w.char(tag::ORD_TYPE, b'1');
        }
    }
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

impl ManagerClient {
    /// Opens the store (what an earlier process sent is read back from it) and prepares the
    /// initiator; the first [`ManagerClient::poll`] connects.
    pub fn open(o: &ClientOptions) -> Result<Self, ManagerError> {
        check_text("sender CompID", &o.sender)?;
        check_text("target CompID", &o.target)?;
        let mut cfg = SessionConfig::new(Role::Initiator, &o.sender, &o.target);
        cfg.heart_bt_int = o.heartbeat_s.max(1);
        cfg.password = o.password.as_ref().map(|p| p.as_bytes().to_vec());
        let store = Store::open(&o.store)?;
        let answers_path = o.store.join("answers");
        let answers = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&answers_path)?;
        let mut c = ManagerClient {
            ini: Initiator::new(
                Session::new(cfg, store)?,
                InitiatorOptions {
                    backoff_min: o.backoff_min,
                    backoff_max: o.backoff_max,
                    ..InitiatorOptions::new(o.addr)
                },
            )?,
            by_seq: HashMap::new(),
            fates: BTreeMap::new(),
            app_sent: 0,
            clock_ns: 0,
            ended: false,
            peer_logged_out: false,
            acks: Vec::new(),
            answers,
        };
        c.scan_store();
        // Answers an earlier process recorded (lines cut short by a crash are skipped).
        let text = std::fs::read_to_string(&answers_path)?;
        for line in text.lines() {
            let fate = match line.split_once(' ') {
                Some((id, "A")) => id.parse().ok().map(|id| (id, Fate::Accepted)),
                Some((id, "R")) => id.parse().ok().map(|id| (id, Fate::Refused)),
                _ => None,
            };
            if let Some((id, f)) = fate {
                c.fates.insert(id, f);
            }
        }
        Ok(c)
    }

    /// Reads back every application message in the store (a restarted manager must not send
    /// again what the store holds: the daemon gets those by resend).
    fn scan_store(&mut self) {
        let store = self.ini.session().store();
        let mut dec = Decoder::new();
        for seq in 1..store.next_sender_seq() {
            let Some(bytes) = store.get(seq) else {
                continue;
            };
            let Ok(m) = dec.parse(bytes) else { continue };
            match m.msg_type() {
                b"D" => {
                    self.app_sent += 1;
                    if let Some(id) = m.get(tag::CL_ORD_ID.num).and_then(parse_u64) {
                        self.by_seq.insert(seq, id);
                        self.fates.entry(id).or_insert(Fate::Pending);
                    }
                }
                b"h" => {
                    self.app_sent += 1;
                    self.ended = m.get(TRAD_SES_STATUS.num) == Some(b"3");
                }
                _ => continue,
            }
            if let Some(t) = m.get(tag::TRANSACT_TIME.num).and_then(parse_utc) {
                self.clock_ns = self.clock_ns.max(ms(t));
            }
        }
    }

    /// True while logged on (orders and clocks can be sent).
    pub fn is_logged_on(&self) -> bool {
        self.ini.is_logged_on()
    }
    /// Connections made so far (1 + reconnects).
    pub fn connects(&self) -> u64 {
        self.ini.connects()
    }
    /// The session (sequence numbers, counters).
    pub fn session(&self) -> &Session {
        self.ini.session()
    }
    /// Application messages sent over this store, by this process or an earlier one.
    pub fn sent(&self) -> u64 {
        self.app_sent
    }
    /// The manager clock: the highest TransactTime sent.
    pub fn clock_ns(&self) -> u64 {
        self.clock_ns
    }
    /// `end()` was sent (by this process or, per the store, an earlier one) and no clock since.
    pub fn ended(&self) -> bool {
        self.ended
    }
    /// The daemon logged out and has not logged on again since.
    pub fn peer_logged_out(&self) -> bool {
        self.peer_logged_out
    }
    /// Every order sent and what became of it.
    pub fn fates(&self) -> &BTreeMap<u64, Fate> {
        &self.fates
    }
    /// Orders sent and not answered yet.
    pub fn outstanding(&self) -> usize {
        self.fates.values().filter(|f| **f == Fate::Pending).count()
    }

    /// Checks that `t` keeps the clock nondecreasing. FIX UTCTimestamps here carry
    /// milliseconds, so times are compared as the daemon will read them.
    fn advance(&mut self, t: u64) -> Result<(), ManagerError> {
        if ms(t) < self.clock_ns {
            return Err(ManagerError::TimeBackwards {
                time_ns: t,
                clock_ns: self.clock_ns,
            });
        }
        Ok(())
    }

    fn send(
        &mut self,
        msg_type: &[u8],
        id: Option<u64>,
        t: u64,
        body: impl FnOnce(&mut MsgWriter<'_>),
    ) -> Result<u64, ManagerError> {
        let seq = self.ini.send_app(now_ns(), msg_type, body)?;
        self.app_sent += 1;
        self.clock_ns = self.clock_ns.max(ms(t));
        if let Some(id) = id {
            self.by_seq.insert(seq, id);
            self.fates.insert(id, Fate::Pending);
        }
        Ok(seq)
    }

    /// Sends an opening master order; returns its MsgSeqNum. Fails with
    /// [`SessionError::NotLoggedOn`] while the daemon is away (nothing is stored then).
    pub fn open_order(&mut self, o: &Open) -> Result<u64, ManagerError> {
        check_text("symbol", &o.symbol)?;
        self.advance(o.transact_time_ns)?;
        let mut id = [0u8; 20];
        let id = fmt_id(o.ticket, &mut id);
        self.send(b"D", Some(o.ticket), o.transact_time_ns, |w| {
            w.field(tag::CL_ORD_ID, id)
                .char(POSITION_EFFECT, b'O')
                .text(tag::SYMBOL, o.symbol.as_bytes())
                .char(tag::SIDE, side_char(o.side))
                .timestamp(tag::TRANSACT_TIME, o.transact_time_ns)
                .qty(tag::ORDER_QTY, o.units);
            write_price(w, o.limit);
            write_opts(w, &o.opts);
        })
    }

    /// Sends a closing master order; returns its MsgSeqNum.
    pub fn close_order(&mut self, c: &Close) -> Result<u64, ManagerError> {
        check_text("symbol", &c.symbol)?;
        self.advance(c.transact_time_ns)?;
        let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
        let id = fmt_id(c.close_id, &mut a);
        let orig = fmt_id(c.ticket, &mut b);
        self.send(b"D", Some(c.close_id), c.transact_time_ns, |w| {
            w.field(tag::CL_ORD_ID, id)
                .char(POSITION_EFFECT, b'C')
                .field(tag::ORIG_CL_ORD_ID, orig)
                .text(tag::SYMBOL, c.symbol.as_bytes())
                .char(tag::SIDE, side_char(c.side))
                .timestamp(tag::TRANSACT_TIME, c.transact_time_ns)
                .qty(tag::ORDER_QTY, c.units);
            write_price(w, c.limit);
            if c.close_all {
                w.flag(MAM_CLOSE_ALL, true);
            }
            write_opts(w, &c.opts);
        })
    }

    /// Sends the clock watermark (35=h 340=2 60=`watermark_ns`): no later order goes below it.
    pub fn clock(&mut self, watermark_ns: u64) -> Result<u64, ManagerError> {
        self.advance(watermark_ns)?;
        let seq = self.send(b"h", None, watermark_ns, |w| {
            w.field(TRADING_SESSION_ID, b"MAM")
                .char(TRAD_SES_STATUS, b'2')
                .timestamp(tag::TRANSACT_TIME, watermark_ns);
        })?;
        self.ended = false;
        Ok(seq)
    }

    /// Sends the end of the manager's orders (35=h 340=3), stamped with the clock reached.
    pub fn end(&mut self) -> Result<u64, ManagerError> {
        let t = self.clock_ns;
        let seq = self.send(b"h", None, t, |w| {
            w.field(TRADING_SESSION_ID, b"MAM")
                .char(TRAD_SES_STATUS, b'3');
            if t > 0 {
                w.timestamp(tag::TRANSACT_TIME, t);
            }
        })?;
        self.ended = true;
        Ok(seq)
    }

    /// Writes what is queued to the socket.
    pub fn flush(&mut self) -> Result<(), ManagerError> {
        Ok(self.ini.flush()?)
    }

    /// Sends a Logout (the daemon answers and the session ends).
    pub fn logout(&mut self) -> Result<(), ManagerError> {
        Ok(self.ini.logout(now_ns(), None)?)
    }

    /// Drives the session for up to `timeout` (connects, reconnects, answers resend requests,
    /// heartbeats) and returns the answers that arrived, with their receipt time.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<Ack>, ManagerError> {
        let ManagerClient {
            ini,
            by_seq,
            fates,
            acks,
            peer_logged_out,
            answers,
            ..
        } = self;
        let mut io_err = None;
        ini.turn(now_ns(), Some(timeout), &mut |e| {
            match e {
                Event::LoggedOut => *peer_logged_out = true,
                Event::LoggedOn { .. } => *peer_logged_out = false,
                _ => {}
            }
            if let Some(a) = to_ack(&e, by_seq) {
                if let Some(id) = a.cl_ord_id {
                    let fate = match a.kind {
                        AckKind::Accepted => Some(Fate::Accepted),
                        AckKind::Refused { .. }
                        | AckKind::SessionReject { .. }
                        | AckKind::BusinessReject { .. } => Some(Fate::Refused),
                        AckKind::Report { .. } => None,
                    };
                    // The first answer decides: an order resent after a daemon crash may be
                    // acknowledged twice.
                    if let (Some(f), Some(cur)) = (fate, fates.get_mut(&id)) {
                        if *cur == Fate::Pending {
                            *cur = f;
                            let c = if f == Fate::Accepted { 'A' } else { 'R' };
                            if let Err(e) = writeln!(answers, "{id} {c}") {
                                io_err.get_or_insert(e);
                            }
                        }
                    }
                }
                acks.push(a);
            }
        })?;
        if let Some(e) = io_err {
            return Err(e.into());
        }
        Ok(std::mem::take(&mut self.acks))
    }
}

/// `t` truncated to the millisecond (what a FIX UTCTimestamp of this encoder carries).
pub fn ms(t: u64) -> u64 {
    t - t % 1_000_000
}

fn fmt_id(v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

fn text_of(m: &Message<'_>) -> String {
    m.get(tag::TEXT.num)
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .unwrap_or_default()
}

fn to_ack(e: &Event<'_>, by_seq: &HashMap<u64, u64>) -> Option<Ack> {
    let recv_ns = now_ns();
    match e {
        Event::App { msg, poss_dup } if msg.msg_type() == b"8" => {
            let er = ExecutionReport::parse(msg).ok();
            let exec_type = msg.get(tag::EXEC_TYPE.num).and_then(|v| v.first().copied());
            let kind = match exec_type {
                Some(b'0') => AckKind::Accepted,
                Some(b'8') => AckKind::Refused {
                    reason: msg
                        .get(tag::ORD_REJ_REASON.num)
                        .and_then(parse_u64)
                        .map(|r| r as u32),
                    text: text_of(msg),
                },
                Some(x) => AckKind::Report { exec_type: x },
                None => return None,
            };
            let id = er
                .and_then(|r| r.cl_ord_id)
                .or_else(|| msg.get(tag::CL_ORD_ID.num))
                .and_then(parse_u64);
            Some(Ack {
                cl_ord_id: id,
                ref_seq: None,
                kind,
                recv_ns,
                poss_dup: *poss_dup,
            })
        }
        Event::App { msg, poss_dup } if msg.msg_type() == b"j" => {
            let r = BusinessMessageReject::parse(msg).ok();
            let ref_seq = msg.get(tag::REF_SEQ_NUM.num).and_then(parse_u64);
            let id = r
                .and_then(|r| r.ref_id)
                .and_then(parse_u64)
                .or_else(|| ref_seq.and_then(|s| by_seq.get(&s).copied()));
            Some(Ack {
                cl_ord_id: id,
                ref_seq,
                kind: AckKind::BusinessReject {
                    reason: r.map_or(0, |r| r.reason),
                    text: text_of(msg),
                },
                recv_ns,
                poss_dup: *poss_dup,
            })
        }
        Event::RejectReceived { ref_seq, reason } => Some(Ack {
            cl_ord_id: by_seq.get(ref_seq).copied(),
            ref_seq: Some(*ref_seq),
            kind: AckKind::SessionReject { reason: *reason },
            recv_ns,
            poss_dup: false,
        }),
        _ => None,
    }
}
