//! [`ManagerClient`]: the manager's FIX 4.4 initiator toward mam's manager acceptor.
//!
//! It wraps the gateway's [`Initiator`] over a store in a directory of its own, so sequence
//! numbers and every sent message survive the daemon's restarts (the daemon asks for what it
//! did not journal and the store answers with PossDup resends) and this process's restarts
//! (the store is scanned on open: what was sent is known again, see [`ManagerClient::sent`]).

pub mod msg;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::fix::decode::Decoder;
use crate::fix::encode::MsgWriter;
use crate::fix::session::initiator::{now_ns, Initiator, InitiatorOptions};
use crate::fix::session::{Event, Role, Session, SessionConfig, SessionError};
use crate::fix::store::Store;
use crate::fix::tag;
use crate::fix::time::parse_utc;
use thiserror::Error;

use msg::{
    fmt_id, ms, parse_u64, side_char, to_ack, write_opts, write_price, Ack, AckKind, Cancel, Close,
    Fate, Open, MAM_CLOSE_ALL, POSITION_EFFECT, TRADING_SESSION_ID, TRAD_SES_STATUS,
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
    Store(#[from] crate::fix::store::StoreError),
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
        let mut session = Session::new(cfg, store)?;
        // Answers to RequestForPositions.
        session.accept_app_type(b"AO");
        session.accept_app_type(b"AP");
        session.accept_app_type(b"UB");
        let answers_path = o.store.join("answers");
        let answers = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&answers_path)?;
        let mut c = ManagerClient {
            ini: Initiator::new(
                session,
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

    /// Sends a cancel of a master order (35=F); returns its MsgSeqNum. The request is accepted
    /// when the daemon answers PendingCancel or Canceled for its ClOrdID.
    pub fn cancel_order(&mut self, c: &Cancel) -> Result<u64, ManagerError> {
        check_text("symbol", &c.symbol)?;
        self.advance(c.transact_time_ns)?;
        let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
        let id = fmt_id(c.cancel_id, &mut a);
        let orig = fmt_id(c.order_id, &mut b);
        self.send(b"F", Some(c.cancel_id), c.transact_time_ns, |w| {
            w.field(tag::CL_ORD_ID, id)
                .field(tag::ORIG_CL_ORD_ID, orig)
                .text(tag::SYMBOL, c.symbol.as_bytes())
                .char(tag::SIDE, side_char(c.side))
                .timestamp(tag::TRANSACT_TIME, c.transact_time_ns);
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

    /// Sends a RequestForPositions (35=AN, PosReqType 0, a snapshot) with PosReqID `req_id`
    /// for `account` (an account id, or `*` for every account) and, if given, one `symbol`;
    /// returns its MsgSeqNum. mam answers with a RequestForPositionsAck
    /// ([`AckKind::PositionsAck`]) and one PositionReport per position
    /// ([`AckKind::Position`]), collected by [`ManagerClient::poll`]. Not a master order: the
    /// clock does not move.
    pub fn request_positions(
        &mut self,
        req_id: &str,
        account: &str,
        symbol: Option<&str>,
    ) -> Result<u64, ManagerError> {
        check_text("PosReqID", req_id)?;
        check_text("account", account)?;
        if let Some(s) = symbol {
            check_text("symbol", s)?;
        }
        let now = now_ns();
        let mut date = [0u8; crate::fix::time::TS_LEN];
        crate::fix::time::format_utc(now, &mut date);
        let seq = self.ini.send_app(now, b"AN", |w| {
            w.text(tag::POS_REQ_ID, req_id.as_bytes())
                .char(tag::POS_REQ_TYPE, b'0')
                .char(tag::SUBSCRIPTION_REQUEST_TYPE, b'0')
                .text(tag::ACCOUNT, account.as_bytes())
                .char(tag::ACCOUNT_TYPE, b'1');
            if let Some(s) = symbol {
                w.text(tag::SYMBOL, s.as_bytes());
            }
            w.field(tag::CLEARING_BUSINESS_DATE, &date[..8])
                .timestamp(tag::TRANSACT_TIME, now);
        })?;
        Ok(seq)
    }

    /// Sends a MamAccountRequest (35=UA) with MamAccountReqID `req_id` for `account` (one of
    /// this manager's accounts, by id), stamped `transact_time_ns` (the manager's clock; it
    /// must not go below it); returns its MsgSeqNum. mam answers with a MamAccountAck
    /// ([`AckKind::AccountAck`]). `rebalance` sets MamRebalance on a deposit or withdrawal
    /// (`None`: the session's `on_deposit` decides).
    pub fn account_request(
        &mut self,
        req_id: u64,
        account: &str,
        action: &msg::AccountAction,
        transact_time_ns: u64,
        rebalance: Option<bool>,
    ) -> Result<u64, ManagerError> {
        check_text("account", account)?;
        let mut currency = None;
        let (code, amount, change) = match action {
            msg::AccountAction::Add {
                balance,
                currency: c,
            } => {
                if let Some(c) = c {
                    check_text("currency", c)?;
                }
                currency = c.as_deref();
                (b'A', Some(*balance), None)
            }
            msg::AccountAction::Deposit(a) => (b'D', Some(*a), None),
            msg::AccountAction::Withdraw(a) => (b'W', Some(*a), None),
            msg::AccountAction::Change { field, value } => {
                check_text("field", field)?;
                check_text("value", value)?;
                (b'C', None, Some((field.as_str(), value.as_str())))
            }
        };
        let seq = self.ini.send_app(now_ns(), b"UA", |w| {
            w.u64(tag::MAM_ACCOUNT_REQ_ID, req_id)
                .text(tag::ACCOUNT, account.as_bytes())
                .char(tag::MAM_ACCOUNT_ACTION, code);
            if let Some(a) = amount {
                w.field(tag::MAM_AMOUNT, a.to_string().as_bytes());
                if let Some(r) = rebalance {
                    w.char(tag::MAM_REBALANCE, if r { b'Y' } else { b'N' });
                }
            }
            if let Some((f, v)) = change {
                w.text(tag::MAM_ACCOUNT_FIELD, f.as_bytes())
                    .text(tag::MAM_ACCOUNT_VALUE, v.as_bytes());
            }
            if let Some(c) = currency {
                w.text(tag::CURRENCY, c.as_bytes());
            }
            w.timestamp(tag::TRANSACT_TIME, transact_time_ns);
        })?;
        Ok(seq)
    }

    /// Writes what is queued to the socket.
    pub fn flush(&mut self) -> Result<(), ManagerError> {
        Ok(self.ini.flush()?)
    }

    /// Drops the connection at once, no Logout: what the daemon sees when the manager crashes.
    pub fn drop_connection(&mut self) {
        self.ini.close(now_ns());
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
                    let fate = first_answer(&a.kind);
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

/// What an answer says of a pending order, if it answers it: see [`Fate`].
fn first_answer(kind: &AckKind) -> Option<Fate> {
    match kind {
        AckKind::Accepted => Some(Fate::Accepted),
        // A cancel or replace request's first answer: its ClOrdID on a PendingCancel,
        // Canceled or Replaced report. DoneForDay alone answers an order the engine took
        // and ended at once, with nothing to send (a close of a ticket with nothing open or
        // only residuals: docs/daemon.md, "Order lifecycle"); without it such an order
        // stayed pending for ever.
        AckKind::Report {
            exec_type: b'3' | b'4' | b'5' | b'6',
            ..
        } => Some(Fate::Accepted),
        AckKind::Refused { .. }
        | AckKind::SessionReject { .. }
        | AckKind::BusinessReject { .. } => Some(Fate::Refused),
        AckKind::Report { .. }
        | AckKind::PositionsAck(_)
        | AckKind::Position(_)
        | AckKind::AccountAck { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(exec_type: u8) -> AckKind {
        AckKind::Report {
            exec_type,
            ord_status: Some(exec_type),
            cum_qty: None,
            journal_seq: Some(1),
        }
    }

    /// Found by the kill test in arrival order: a close whose ticket had nothing open is
    /// answered with DoneForDay alone, and the manager waited for its answer for ever.
    #[test]
    fn done_for_day_alone_answers_an_order() {
        assert_eq!(first_answer(&report(b'3')), Some(Fate::Accepted));
        assert_eq!(first_answer(&AckKind::Accepted), Some(Fate::Accepted));
        for t in [b'4', b'5', b'6'] {
            assert_eq!(first_answer(&report(t)), Some(Fate::Accepted));
        }
        // A fill or a restatement follows an answer; it is not one.
        assert_eq!(first_answer(&report(b'F')), None);
        assert_eq!(first_answer(&report(b'D')), None);
        let refused = AckKind::Refused {
            reason: None,
            text: String::new(),
        };
        assert_eq!(first_answer(&refused), Some(Fate::Refused));
    }
}
