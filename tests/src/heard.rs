//! A money manager on mam's `ManagerClient` and what it heard: reports on its orders, position
//! answers and account answers, with a RequestForPositions that waits for its whole answer.

use std::collections::BTreeMap;
use std::time::Duration;

use mam_core::event::Side;
use mam_core::num::{Price, Qty};
use mam_gateway::fix::time::parse_utc;
use mam_gateway::manager::client::msg::{AckKind, Open, OrderOpts, PositionReport, PositionsAck};
use mam_gateway::manager::client::{ClientOptions, ManagerClient};

use crate::daemon::{wait_until, Proc};

/// One report on an order: ClOrdID, OrdStatus, CumQty, MamJournalSeq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heard {
    /// The order's ClOrdID.
    pub cl_ord_id: u64,
    /// OrdStatus (39).
    pub ord_status: u8,
    /// CumQty (14).
    pub cum_qty: Qty,
    /// MamJournalSeq (5120).
    pub journal_seq: u64,
}

/// A manager session and everything it heard.
#[derive(Debug)]
pub struct Listener {
    /// The session.
    pub c: ManagerClient,
    /// Every report on an order, in arrival order.
    pub reports: Vec<Heard>,
    /// RequestForPositionsAcks.
    pub acks: Vec<PositionsAck>,
    /// PositionReports.
    pub positions: Vec<PositionReport>,
    /// MamAccountAcks by MamAccountReqID: (Account, applied, Text). One each, or it panics.
    pub account_acks: BTreeMap<u64, (String, bool, String)>,
}

impl Listener {
    /// A session to `addr` as `sender`, its store in `store`.
    pub fn connect(addr: &str, sender: &str, store: std::path::PathBuf) -> Listener {
        let mut o = ClientOptions::new(addr.parse().expect("HOST:PORT"), store);
        o.sender = sender.into();
        Listener {
            c: ManagerClient::open(&o).expect("manager client"),
            reports: Vec::new(),
            acks: Vec::new(),
            positions: Vec::new(),
            account_acks: BTreeMap::new(),
        }
    }

    /// Takes what arrived (a refused order panics: these tests send only valid ones).
    pub fn poll(&mut self) {
        for a in self
            .c
            .poll(Duration::from_millis(5))
            .expect("manager session")
        {
            match a.kind {
                AckKind::Report {
                    ord_status: Some(s),
                    cum_qty: Some(q),
                    journal_seq,
                    ..
                } => self.reports.push(Heard {
                    cl_ord_id: a.cl_ord_id.unwrap_or(0),
                    ord_status: s,
                    cum_qty: q,
                    journal_seq: journal_seq.unwrap_or(0),
                }),
                AckKind::Refused { text, .. } => panic!("order refused: {text}"),
                AckKind::PositionsAck(p) => self.acks.push(p),
                AckKind::Position(p) => self.positions.push(p),
                AckKind::AccountAck {
                    req_id,
                    account,
                    applied,
                    text,
                    ..
                } => {
                    let dup = self.account_acks.insert(req_id, (account, applied, text));
                    assert!(dup.is_none(), "request {req_id} answered twice");
                }
                _ => {}
            }
        }
    }

    /// The CumQty of order `id`'s last report with an OrdStatus that ends it (filled, done for
    /// day, canceled, rejected), if one came.
    pub fn ended(&self, id: u64) -> Option<Qty> {
        self.reports
            .iter()
            .rfind(|r| r.cl_ord_id == id && matches!(r.ord_status, b'2' | b'3' | b'4' | b'8'))
            .map(|r| r.cum_qty)
    }

    /// The CumQty of order `id`'s last Filled report, if one came.
    pub fn filled(&self, id: u64) -> Option<Qty> {
        self.reports
            .iter()
            .rfind(|r| r.cl_ord_id == id && r.ord_status == b'2')
            .map(|r| r.cum_qty)
    }

    /// The highest journal sequence of a report heard.
    pub fn last_report_seq(&self) -> u64 {
        self.reports
            .iter()
            .map(|r| r.journal_seq)
            .max()
            .unwrap_or(0)
    }

    /// Sends a RequestForPositions and waits for its ack and every report it announces (the
    /// daemon must stay up meanwhile).
    pub fn ask(
        &mut self,
        daemon: &mut Proc,
        req_id: &str,
        account: &str,
        symbol: Option<&str>,
    ) -> (PositionsAck, Vec<PositionReport>) {
        self.c
            .request_positions(req_id, account, symbol)
            .expect("RequestForPositions sent");
        self.c.flush().expect("flush");
        let mut out = None;
        wait_until(&format!("the answer to {req_id}"), || {
            self.poll();
            assert!(
                daemon.try_wait().is_none(),
                "daemon died:\n{}",
                daemon.output()
            );
            let Some(ack) = self.acks.iter().find(|a| a.req_id == req_id) else {
                return false;
            };
            let reports: Vec<PositionReport> = self
                .positions
                .iter()
                .filter(|p| p.req_id == req_id)
                .cloned()
                .collect();
            if (reports.len() as u64) < ack.total {
                return false;
            }
            out = Some((ack.clone(), reports));
            true
        });
        out.expect("answered")
    }
}

/// A UTC time stamp (`YYYYMMDD-HH:MM:SS`) in nanoseconds since the epoch.
pub fn at(s: &str) -> u64 {
    parse_utc(s.as_bytes()).expect("a UTC timestamp")
}

/// Master `ticket`: buy `units` EURUSD, limit 1.14600, at `t`, split per account by equity
/// (a price the shared EURUSD day's hour 14 trades through at once).
pub fn buy_eurusd(ticket: u64, units: &str, t: &str) -> Open {
    Open {
        ticket,
        symbol: "EURUSD".into(),
        side: Side::Buy,
        units: Qty::parse(units).unwrap(),
        limit: Some(Price::parse("1.14600").unwrap()),
        transact_time_ns: at(t),
        opts: OrderOpts {
            routing: Some("per-account".into()),
            model: Some("equity".into()),
            ..OrderOpts::default()
        },
    }
}
