//! The manager's end of binary order entry: a TCP initiator with its own session store (so it
//! resumes its sequence numbers and retransmits what mam's journal lacks after a restart of
//! either side), sending master orders, cancels, replaces and its clock, and collecting mam's
//! MasterReports and MasterRejects. `mam manager --protocol binary`, the daemon's tests and
//! `mam bench pipeline` drive it.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::binary::codec::AppMessage;
use crate::binary::framed::Framed;
use crate::binary::master_msg::{
    ManagerClock, MasterCancel, MasterOrder, MasterReject, MasterReplace, MasterReport,
    CLOCK_CLOSED, CLOCK_OPEN,
};
use crate::binary::session::{Role, Session, SessionConfig, SessionError, SessionStats, State};
use crate::binary::store::{SeqStore, StoreError};
use crate::fix::session::initiator::now_ns;
use crate::manager::client::msg::{Cancel, Close, Open, OrderOpts};
use crate::transport::tcp::{TcpOptions, TcpTransport};

/// Why the client failed.
#[derive(Debug, Error)]
pub enum BinaryClientError {
    /// Connecting.
    #[error("connecting to {addr}: {source}")]
    Connect {
        /// Address.
        addr: SocketAddr,
        /// Error.
        source: std::io::Error,
    },
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The session.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// mam ended the session (a TerminationCode).
    #[error("mam terminated the session (code {0})")]
    Terminated(u8),
    /// No EstablishAck in time.
    #[error("no EstablishAck from {0} in time")]
    Timeout(SocketAddr),
}

/// A manager's binary order-entry session.
#[derive(Debug)]
pub struct BinaryManagerClient {
    session: Session<Framed<TcpTransport>>,
    /// MasterReports received, in order (take them with `std::mem::take`).
    pub reports: Vec<MasterReport>,
    /// MasterRejects received, in order.
    pub rejects: Vec<MasterReject>,
}

impl BinaryManagerClient {
    /// Connects to `addr`, opens (or creates) the store at `store`, establishes session
    /// `session_id` and waits up to `timeout` for mam's EstablishAck.
    pub fn connect(
        addr: SocketAddr,
        session_id: u64,
        store: &Path,
        timeout: Duration,
    ) -> Result<Self, BinaryClientError> {
        let seq = SeqStore::open(store, session_id, super::STORE_CAPACITY)?;
        let t = TcpTransport::connect(addr, timeout, TcpOptions::default())
            .map_err(|source| BinaryClientError::Connect { addr, source })?;
        let cfg = SessionConfig {
            sending_time_tolerance_ns: None,
            session_id,
            keepalive_ms: 1_000,
            role: Role::Initiator,
        };
        let mut c = BinaryManagerClient {
            session: Session::new(Framed::new(t), seq, cfg),
            reports: Vec::new(),
            rejects: Vec::new(),
        };
        c.session.establish(now_ns())?;
        let until = Instant::now() + timeout;
        while c.session.state() != State::Established {
            c.poll()?;
            if Instant::now() >= until {
                return Err(BinaryClientError::Timeout(addr));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(c)
    }

    /// True while the session is established.
    pub fn is_established(&self) -> bool {
        self.session.state() == State::Established
    }

    /// Session counters.
    pub fn stats(&self) -> SessionStats {
        self.session.stats()
    }

    /// Receives what mam sent (reports, rejects) and answers the session's needs (heartbeats,
    /// retransmissions). Returns the application messages received.
    pub fn poll(&mut self) -> Result<u64, BinaryClientError> {
        let (reports, rejects) = (&mut self.reports, &mut self.rejects);
        let n = self
            .session
            .poll(now_ns(), &mut |v| match v.to_owned_message() {
                AppMessage::MasterReport(r) => reports.push(r),
                AppMessage::MasterReject(r) => rejects.push(r),
                _ => {}
            });
        if let State::Terminated(code) = self.session.state() {
            return Err(BinaryClientError::Terminated(code));
        }
        Ok(n?)
    }

    /// Sends `m` (stored for retransmission), polling through back-pressure; returns its
    /// seqNo.
    pub fn send(&mut self, m: &AppMessage) -> Result<u64, BinaryClientError> {
        loop {
            match self.session.send(m, now_ns()) {
                Ok(seq) => return Ok(seq),
                Err(e) if e.is_retryable() => {
                    self.session.flush()?;
                    self.poll()?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A master order (open or close).
    pub fn order(&mut self, o: &MasterOrder) -> Result<u64, BinaryClientError> {
        self.send(&AppMessage::MasterOrder(*o))
    }

    /// A cancel.
    pub fn cancel(&mut self, c: &MasterCancel) -> Result<u64, BinaryClientError> {
        self.send(&AppMessage::MasterCancel(*c))
    }

    /// A replace.
    pub fn replace(&mut self, r: &MasterReplace) -> Result<u64, BinaryClientError> {
        self.send(&AppMessage::MasterReplace(*r))
    }

    /// The manager's clock: no later order will carry an earlier TransactTime.
    pub fn clock(&mut self, transact_time_ns: u64) -> Result<u64, BinaryClientError> {
        self.send(&AppMessage::ManagerClock(ManagerClock {
            transact_time_ns,
            status: CLOCK_OPEN,
        }))
    }

    /// The manager has ended (until its next clock): it no longer holds the merge back.
    pub fn end(&mut self) -> Result<u64, BinaryClientError> {
        self.send(&AppMessage::ManagerClock(ManagerClock {
            transact_time_ns: 0,
            status: CLOCK_CLOSED,
        }))
    }

    /// Pushes what was sent to the socket.
    pub fn flush(&mut self) -> Result<(), BinaryClientError> {
        self.session.flush()?;
        Ok(())
    }

    /// Ends the session (Terminate, Finished).
    pub fn terminate(mut self) -> Result<(), BinaryClientError> {
        self.session.terminate(now_ns())?;
        Ok(())
    }
}

/// The binary code of a model, routing or min-lot policy name as the FIX session takes it
/// (`None`: not given; an unknown name gives a code mam refuses, naming the field).
fn code(name: Option<&str>, of: impl Fn(&[u8]) -> Option<u8>, unknown: u8) -> u8 {
    name.map_or(crate::binary::master_msg::DEFAULT, |n| {
        of(n.as_bytes()).unwrap_or(unknown)
    })
}

fn opts_into(o: &OrderOpts, m: &mut MasterOrder) {
    use crate::binary::master_msg as msg;
    use crate::manager::convert::{model_from_name, policy_from_name, routing_from_name};
    m.model = code(o.model.as_deref(), model_from_name, u8::MAX);
    m.routing = code(
        o.routing.as_deref(),
        |n| {
            routing_from_name(n).map(|r| {
                if r == mam_core::engine::input::MODE_PER_ACCOUNT {
                    msg::ROUTING_PER_ACCOUNT
                } else {
                    msg::ROUTING_BLOCK
                }
            })
        },
        u8::MAX,
    );
    m.min_lot_policy = code(
        o.min_lot_policy.as_deref(),
        |n| policy_from_name(n).map(|p| p + 1),
        u8::MAX,
    );
    m.stop_distance = o.stop_distance;
    m.reference = o.reference;
    m.stop_loss = o.stop_loss;
    m.take_profit = o.take_profit;
    m.hold = if o.hold { b'Y' } else { msg::DEFAULT };
}

/// The FIX client's open (`mam manager`'s plans, the tests) as a binary MasterOrder.
pub fn order_of_open(o: &Open) -> MasterOrder {
    let mut m = MasterOrder {
        cl_ord_id: o.ticket,
        transact_time_ns: o.transact_time_ns,
        qty: o.units,
        price: o.limit,
        symbol: crate::binary::master_msg::symbol_field(&o.symbol),
        side: o.side as u8,
        ord_type: if o.limit.is_some() { 2 } else { 1 },
        position_effect: crate::binary::master_msg::OPEN,
        ..MasterOrder::default()
    };
    opts_into(&o.opts, &mut m);
    m
}

/// The FIX client's close as a binary MasterOrder.
pub fn order_of_close(c: &Close) -> MasterOrder {
    let mut m = MasterOrder {
        cl_ord_id: c.close_id,
        orig_cl_ord_id: c.ticket,
        transact_time_ns: c.transact_time_ns,
        qty: c.units,
        price: c.limit,
        symbol: crate::binary::master_msg::symbol_field(&c.symbol),
        side: c.side as u8,
        ord_type: if c.limit.is_some() { 2 } else { 1 },
        position_effect: crate::binary::master_msg::CLOSE,
        close_all: if c.close_all { b'Y' } else { 0 },
        ..MasterOrder::default()
    };
    opts_into(&c.opts, &mut m);
    m
}

/// The FIX client's cancel as a binary MasterCancel.
pub fn cancel_of(c: &Cancel) -> MasterCancel {
    MasterCancel {
        cl_ord_id: c.cancel_id,
        orig_cl_ord_id: c.order_id,
        transact_time_ns: c.transact_time_ns,
    }
}
