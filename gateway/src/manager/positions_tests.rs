//! RequestForPositions against a hand-made snapshot: the ack and every PositionReport field by
//! field, each refusal with its PosReqResult, and every message mam writes (and the request a
//! manager sends) through the FIX 4.4 dictionary.

use mam_core::engine::snapshot::{AccountView, EngineSnapshot, PositionView};
use mam_core::num::{Money, Price, Qty};
use mam_core::symbol::SymbolTable;

use super::positions::{answer, PosReqResult};
use super::reply::Outbox;
use crate::fix::decode::{checksum, Decoder};
use crate::fix::dict::validate;
use crate::fix::encode::HeaderTemplate;

fn id(s: &str) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..s.len()].copy_from_slice(s.as_bytes());
    a
}

fn px(s: &str) -> Price {
    Price::parse(s).unwrap()
}

/// Three accounts: INV1 long 1.5 lots EURUSD and long 2 lots USDJPY (never quoted), INV2 short
/// 0.5 lots EURUSD, INV3 flat; EURUSD quoted 1.10100 / 1.10120; journal sequence 777.
fn snapshot() -> EngineSnapshot {
    let t = SymbolTable::builtin();
    let (eur, jpy) = (t.id_of("EURUSD").unwrap(), t.id_of("USDJPY").unwrap());
    let mut quotes = vec![None; t.iter().count()];
    quotes[eur as usize] = Some((px("1.101"), px("1.1012")));
    let pos = |account, instrument, qty: &str, avg: &str, u: &str| PositionView {
        account,
        instrument,
        qty: Qty::parse(qty).unwrap(),
        avg_price: Some(px(avg)),
        unrealised: Money::parse(u).unwrap(),
    };
    let acc = |index, name: &str, positions| AccountView {
        index,
        id: id(name),
        positions,
        ..AccountView::default()
    };
    EngineSnapshot {
        seq: 777,
        version: 3,
        accounts: vec![
            acc(0, "INV1", (0, 2)),
            acc(1, "INV2", (2, 3)),
            acc(2, "INV3", (3, 3)),
        ],
        positions: vec![
            pos(0, eur, "150000", "1.1", "151.5"),
            pos(0, jpy, "200000", "109.125", "0"),
            pos(1, eur, "-50000", "1.10345", "112.5"),
        ],
        quotes,
        ..EngineSnapshot::default()
    }
}

/// A RequestForPositions with every field the dictionary requires, plus `extra`.
fn request(account: &str, extra: &str) -> Vec<u8> {
    wire(&format!(
        "710=R1\x01724=0\x011={account}\x01581=1\x01715=20260101\x0160=20260101-00:00:00.000\x01\
         {extra}"
    ))
}

/// A RequestForPositions of body fields `fields` (the header added here).
fn wire(fields: &str) -> Vec<u8> {
    crate::fix::decode::fix44_message(&format!(
        "35=AN\x0149=MANAGER\x0156=MAM\x0134=9\x0152=20260101-00:00:00.000\x01{fields}"
    ))
}

/// The messages mam answers `req` with, each checked against the dictionary: (MsgType, body
/// fields after the standard header).
fn run(req: &[u8], snap: Option<&EngineSnapshot>) -> Vec<(String, Vec<(u32, String)>)> {
    let symbols = SymbolTable::builtin();
    let mut d = Decoder::new();
    let m = d.decode(req).expect("request decodes");
    assert_eq!(validate(&m), Ok(()), "the request passes the dictionary");
    let a = answer(&m, snap, &symbols, 0);
    let mut out = Outbox::default();
    let replies = out.positions(&m, b"R1", &a, &symbols, b"20260102");
    let mut hdr = HeaderTemplate::new(b"FIX.4.4", b"MAM", b"MANAGER").unwrap();
    let mut got = Vec::new();
    for (n, r) in replies.iter().enumerate() {
        let mut buf = vec![0u8; 4096];
        let mut w = hdr.begin(
            &mut buf,
            r.msg_type,
            10 + n as u64,
            1_767_225_600_000_000_000,
        );
        out.write(r, &mut w);
        let range = w.finish().expect("message fits");
        let mut d = Decoder::new();
        let m = d.decode(&buf[range]).expect("mam's message decodes");
        assert_eq!(
            validate(&m),
            Ok(()),
            "{} passes the dictionary",
            String::from_utf8_lossy(m.msg_type())
        );
        let fields = m
            .fields()
            .filter(|f| ![8, 9, 35, 49, 56, 34, 52, 10].contains(&f.tag))
            .map(|f| (f.tag, String::from_utf8_lossy(f.value).into_owned()))
            .collect();
        got.push((String::from_utf8_lossy(m.msg_type()).into_owned(), fields));
    }
    got
}

fn fields(v: &[(u32, &str)]) -> Vec<(u32, String)> {
    v.iter().map(|(t, s)| (*t, s.to_string())).collect()
}

#[test]
fn every_account_gets_one_report_per_position() {
    let snap = snapshot();
    let got = run(&request("*", ""), Some(&snap));
    let types: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["AO", "AP", "AP", "AP"]);
    assert_eq!(
        got[0].1,
        fields(&[
            (721, "R1.0"),
            (710, "R1"),
            (727, "3"),
            (728, "0"),
            (729, "0"),
            (1, "*"),
            (581, "1"),
            (58, "3 positions as of journal sequence 777"),
            (5120, "777"),
        ])
    );
    let report = |n: &str,
                  acc: &str,
                  sym: &str,
                  settl: &str,
                  prior: &str,
                  long: &str,
                  short: &str,
                  amt: &str| {
        fields(&[
            (721, n),
            (710, "R1"),
            (724, "0"),
            (727, "3"),
            (325, "N"),
            (728, "0"),
            (715, "20260102"),
            (1, acc),
            (581, "1"),
            (55, sym),
            (730, settl),
            (731, "2"),
            (734, prior),
            (702, "1"),
            (703, "TQ"),
            (704, long),
            (705, short),
            (753, "1"),
            (707, "FMTM"),
            (708, amt),
            (5120, "777"),
        ])
    };
    // A long is marked at the bid.
    assert_eq!(
        got[1].1,
        report("R1.1", "INV1", "EURUSD", "1.101", "1.1", "150000", "0", "151.5")
    );
    // Never quoted: marked at cost (the average price), no P&L.
    assert_eq!(
        got[2].1,
        report("R1.2", "INV1", "USDJPY", "109.125", "109.125", "200000", "0", "0")
    );
    // A short is marked at the ask; its quantity is ShortQty, unsigned.
    assert_eq!(
        got[3].1,
        report("R1.3", "INV2", "EURUSD", "1.1012", "1.10345", "0", "50000", "112.5")
    );
}

#[test]
fn account_and_symbol_filter_the_reports() {
    let snap = snapshot();
    let got = run(&request("INV1", ""), Some(&snap));
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].1[2], (727, "2".to_string()));
    assert_eq!(got[0].1[5], (1, "INV1".to_string()));
    assert!(got[1..]
        .iter()
        .all(|(_, f)| f.contains(&(1, "INV1".into()))));

    let got = run(&request("*", "55=EURUSD\x01"), Some(&snap));
    let accounts: Vec<(String, String)> = got[1..]
        .iter()
        .map(|(_, f)| {
            let get = |t| f.iter().find(|(k, _)| *k == t).unwrap().1.clone();
            (get(1), get(55))
        })
        .collect();
    assert_eq!(
        accounts,
        [
            ("INV1".into(), "EURUSD".into()),
            ("INV2".into(), "EURUSD".into())
        ]
    );
    assert!(
        got[0].1.contains(&(55, "EURUSD".into())),
        "the ack echoes Symbol"
    );

    // INV2 holds no USDJPY; INV3 holds nothing: valid, nothing found, completed.
    for (acc, extra) in [("INV2", "55=USDJPY\x01"), ("INV3", "")] {
        let got = run(&request(acc, extra), Some(&snap));
        assert_eq!(got.len(), 1, "{acc}: the ack alone");
        let f = &got[0].1;
        assert!(f.contains(&(727, "0".into())));
        assert!(f.contains(&(728, "2".into())), "{f:?}");
        assert!(f.contains(&(729, "0".into())));
        assert!(f.contains(&(58, "no positions; as of journal sequence 777".into())));
    }
}

/// (PosReqResult, PosReqStatus, Text) of an answer that must be the ack alone.
fn refused(req: &[u8], snap: Option<&EngineSnapshot>) -> (String, String, String) {
    let got = run(req, snap);
    assert_eq!(got.len(), 1, "no report follows a refusal");
    assert_eq!(got[0].0, "AO");
    let f = &got[0].1;
    let get = |t| {
        f.iter()
            .find(|(k, _)| *k == t)
            .map_or(String::new(), |x| x.1.clone())
    };
    assert_eq!(get(727), "0");
    (get(728), get(729), get(58))
}

#[test]
fn bad_requests_get_an_ack_saying_why() {
    let snap = snapshot();
    let s = Some(&snap);
    let r = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        refused(&request("NOPE", ""), s),
        r("1", "2", "unknown account NOPE")
    );
    assert_eq!(
        refused(&request("*", "55=XXXYYY\x01"), s),
        r("1", "2", "unknown symbol XXXYYY")
    );
    let trades = request("*", "").replace_bytes(b"724=0", b"724=1");
    assert_eq!(
        refused(&trades, s),
        r(
            "1",
            "2",
            "PosReqType(724) 1 not supported: only 0 (positions)"
        )
    );
    assert_eq!(
        refused(&request("*", "263=1\x01"), s),
        r(
            "1",
            "2",
            "SubscriptionRequestType(263) 1 not supported: only 0 (snapshot)"
        )
    );
    // 263=0 (a snapshot) is what mam does anyway.
    assert_eq!(run(&request("*", "263=0\x01"), s).len(), 4);
    let unpublished = EngineSnapshot::default();
    assert_eq!(
        refused(&request("*", ""), Some(&unpublished)),
        r("99", "2", "engine state not published yet")
    );
    assert_eq!(
        refused(&request("*", ""), None),
        r("4", "2", "positions are not published to this session")
    );
    let a = {
        let req = request("NOPE", "");
        let mut d = Decoder::new();
        let m = d.decode(&req).unwrap();
        answer(&m, s, &SymbolTable::builtin(), 0)
    };
    assert_eq!(a.result, PosReqResult::Invalid);
    assert_eq!(
        a.seq,
        Some(777),
        "an unknown account is named as of the snapshot"
    );
}

#[test]
fn the_dictionary_requires_what_fix_4_4_requires() {
    let check = |fields: &str| {
        let w = wire(fields);
        let mut d = Decoder::new();
        let m = d.decode(&w).unwrap();
        validate(&m).map_err(|e| (e.reason.code(), e.tag))
    };
    let full = "710=R1\x01724=0\x011=*\x01581=1\x01715=20260101\x0160=20260101-00:00:00.000\x01";
    assert_eq!(check(full), Ok(()));
    // Each required field missing: a session Reject 373=1 naming it (the session sends it).
    for t in ["710", "724", "1", "581", "715", "60"] {
        let without: String = full
            .split('\x01')
            .filter(|f| !f.is_empty() && !f.starts_with(&format!("{t}=")))
            .map(|f| format!("{f}\x01"))
            .collect();
        assert_eq!(check(&without), Err((1, t.parse().unwrap())), "without {t}");
    }
    // PosReqType outside FIX 4.4's enumeration: 373=5.
    assert_eq!(check(&full.replace("724=0", "724=7")), Err((5, 724)));
}

trait ReplaceBytes {
    fn replace_bytes(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceBytes for Vec<u8> {
    /// The request with one field changed (same length, so BodyLength stands), checksum redone.
    fn replace_bytes(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
        assert_eq!(from.len(), to.len());
        let at = self
            .windows(from.len())
            .position(|w| w == from)
            .expect("field present");
        let mut v = self.clone();
        v[at..at + to.len()].copy_from_slice(to);
        let end = v.len() - 7;
        v.truncate(end);
        let ck = checksum(&v);
        v.extend_from_slice(format!("10={ck:03}\x01").as_bytes());
        v
    }
}
