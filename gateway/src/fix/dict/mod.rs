//! The FIX 4.4 data dictionary: which tags exist, their data types and enumerations, and which
//! tags each message type may carry, checked on every inbound message of a session that
//! validates ([`crate::fix::session::SessionConfig::validate`]).
//!
//! The tables are generated at build time (`gateway/build.rs`) from `FIX44.xml` next to this
//! file: QuickFIX's FIX 4.4 dictionary, as shipped by the `fefix` 0.7 crate
//! (`src/fefix_core/resources/quickfix/FIX-4.4.xml`), itself a transcription of the FIX 4.4
//! specification. Nothing in them is typed by hand. The only hand-written table is
//! [`MAM_TAGS`]: mam's own user-defined tags (5000-9999 is FIX's user-defined range), allowed
//! on the messages of the manager protocol that carry them (`docs/daemon.md`).
//!
//! This runs on the receive hot path of every validated message, so it is table lookups only:
//! a direct array for the field type, a bit set per message type for "tag defined for this
//! message", the decoder's tag index for repeats, binary searches for enumerations and groups.
//! No allocation, no hashing.

use super::decode::{FieldError, Message, RejectReason};
use super::num::NumFault;
use super::tag;
use super::time::parse_utc_checked;

/// A repeating group of a message: its NumInGroup tag, the tag each entry starts with and
/// every tag an entry may hold (nested groups included).
#[derive(Debug)]
struct GroupDef {
    count: u32,
    delim: u32,
    members: &'static [u32],
}

/// One message type's layout.
#[derive(Debug)]
struct MsgDef {
    msg_type: &'static [u8],
    /// Every body tag the message may carry, at any depth, as a bit set.
    all: [u64; WORDS],
    /// Body tags that must be present (top level only: a group's required fields are required
    /// only in entries that exist).
    required: &'static [u32],
    /// Sorted by `count`.
    groups: &'static [GroupDef],
}

// KIND, ENUMS, HEADER, TRAILER, HEADER_GROUPS, MESSAGES, MAX_TAG, WORDS.
include!(concat!(env!("OUT_DIR"), "/fix44_dict.rs"));

// Field kinds (build.rs writes these codes).
const K_UNDEFINED: u8 = 0;
const K_INT: u8 = 2;
const K_UINT: u8 = 3;
const K_DECIMAL: u8 = 4;
const K_CHAR: u8 = 5;
const K_TIMESTAMP: u8 = 6;
const K_TIME: u8 = 7;
const K_DATE: u8 = 8;
const K_MONTH_YEAR: u8 = 9;
const K_MULTI: u8 = 10;

/// mam's extensions to FIX 4.4, by the message types that carry them (`docs/daemon.md`,
/// "Master orders over FIX"): its user-defined tags (FIX's range 5000-9999) on the manager's
/// NewOrderSingle and OrderCancelReplaceRequest and on mam's ExecutionReport and
/// OrderCancelReject (MamJournalSeq, SL/TP) that a manager client reads back; and two
/// standard tags on messages FIX 4.4 does not put them on: OrigClOrdID (41) on a closing
/// NewOrderSingle (the ticket it closes) and TransactTime (60) on TradingSessionStatus (the
/// manager's clock for watermarks).
pub const MAM_TAGS: &[(&[u8], &[u32])] = &[
    (b"D", &NEW_ORDER_TAGS),
    (b"G", NEW_ORDER_TAGS.split_first().expect("non-empty").1),
    (
        b"8",
        &[
            tag::MAM_STOP_LOSS.num,
            tag::MAM_TAKE_PROFIT.num,
            tag::MAM_JOURNAL_SEQ.num,
        ],
    ),
    (b"9", &[tag::MAM_JOURNAL_SEQ.num]),
    (b"AO", &[tag::MAM_JOURNAL_SEQ.num]),
    (b"AP", &[tag::MAM_JOURNAL_SEQ.num]),
    (b"h", &[tag::TRANSACT_TIME.num]),
];

/// mam's tags on a NewOrderSingle (OrigClOrdID first: a close names the ticket it closes) and,
/// without it, on an OrderCancelReplaceRequest (the numbers come from `fix::tag`, the one table).
const NEW_ORDER_TAGS: [u32; 10] = [
    tag::ORIG_CL_ORD_ID.num,
    tag::MAM_MODEL.num,
    tag::MAM_ROUTING.num,
    tag::MAM_CLOSE_ALL.num,
    tag::MAM_MIN_LOT_POLICY.num,
    tag::MAM_STOP_DISTANCE.num,
    tag::MAM_REFERENCE.num,
    tag::MAM_STOP_LOSS.num,
    tag::MAM_TAKE_PROFIT.num,
    tag::MAM_HOLD.num,
];

fn bit(set: &[u64; WORDS], tag: u32) -> bool {
    let t = tag as usize;
    set.get(t / 64).is_some_and(|w| w & (1 << (t % 64)) != 0)
}

fn kind(tag: u32) -> u8 {
    KIND.get(tag as usize).copied().unwrap_or(K_UNDEFINED)
}

/// True when the FIX 4.4 specification defines `tag`.
pub fn is_defined(tag: u32) -> bool {
    kind(tag) != K_UNDEFINED
}

/// True for a standard header field.
pub fn is_header(tag: u32) -> bool {
    bit(&HEADER, tag)
}

fn msg_def(msg_type: &[u8]) -> Option<&'static MsgDef> {
    MESSAGES
        .binary_search_by(|d| d.msg_type.cmp(msg_type))
        .ok()
        .map(|i| &MESSAGES[i])
}

/// True when the specification defines `msg_type`.
pub fn is_known_msg_type(msg_type: &[u8]) -> bool {
    msg_def(msg_type).is_some()
}

fn mam_tag(msg_type: &[u8], tag: u32) -> bool {
    MAM_TAGS
        .iter()
        .any(|(t, tags)| *t == msg_type && tags.contains(&tag))
}

fn group(groups: &'static [GroupDef], count: u32) -> Option<&'static GroupDef> {
    groups
        .binary_search_by_key(&count, |g| g.count)
        .ok()
        .map(|i| &groups[i])
}

fn err(tag: u32, reason: RejectReason) -> FieldError {
    FieldError { tag, reason }
}

fn digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

/// The value's syntax against its FIX data type (FIX 4.4 Volume 1, "Data Types").
fn format_ok(k: u8, v: &[u8]) -> Result<(), NumFault> {
    let ok = match k {
        K_INT => digits(v.strip_prefix(b"-").unwrap_or(v)),
        K_UINT => digits(v),
        K_DECIMAL => {
            let v = v.strip_prefix(b"-").unwrap_or(v);
            let (i, f) = match v.iter().position(|&c| c == b'.') {
                Some(p) => (&v[..p], &v[p + 1..]),
                None => (v, &b""[..]),
            };
            (i.iter().chain(f).all(u8::is_ascii_digit)) && !(i.is_empty() && f.is_empty())
        }
        K_CHAR => v.len() == 1,
        K_TIMESTAMP => return parse_utc_checked(v).map(drop),
        K_TIME => time_only(v),
        K_DATE => v.len() == 8 && digits(v) && date_ok(v),
        K_MONTH_YEAR => v.len() >= 6 && digits(&v[..6]) && month_ok(&v[4..6]),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(NumFault::Format)
    }
}

fn month_ok(m: &[u8]) -> bool {
    matches!(m, [b'0', b'1'..=b'9'] | [b'1', b'0'..=b'2'])
}

fn date_ok(v: &[u8]) -> bool {
    let d = u32::from(v[6] - b'0') * 10 + u32::from(v[7] - b'0');
    month_ok(&v[4..6]) && (1..=31).contains(&d)
}

/// `HH:MM:SS` or `HH:MM:SS.sss`.
fn time_only(v: &[u8]) -> bool {
    let hms = v.len() >= 8
        && v[2] == b':'
        && v[5] == b':'
        && digits(&v[..2])
        && digits(&v[3..5])
        && digits(&v[6..8]);
    hms && (v.len() == 8 || (v[8] == b'.' && digits(&v[9..])))
}

fn enum_ok(tag: u32, k: u8, v: &[u8]) -> bool {
    let Ok(i) = ENUMS.binary_search_by_key(&tag, |e| e.0) else {
        return true;
    };
    let values = ENUMS[i].1;
    if k == K_MULTI {
        v.split(|&c| c == b' ').all(|one| values.contains(&one))
    } else {
        values.contains(&v)
    }
}

/// Checks a decoded message against the FIX 4.4 dictionary, in the order of the FIX session
/// rules: per field in wire order the tag number (373=0), header fields before the body
/// (373=14), the tag defined for this message type (373=2), a tag repeated outside a
/// repeating group (373=13), the data format (373=6) and the enumeration (373=5); then each
/// repeating group's NumInGroup against its entries (373=16, or 373=15 when the first field of
/// an entry is not the group's first field); then required fields (373=1).
///
/// Message types the dictionary does not define are not checked here (the session answers
/// those). BeginString, BodyLength, MsgType and CheckSum positions are the decoder's.
pub fn validate(m: &Message<'_>) -> Result<(), FieldError> {
    let mt = m.msg_type();
    let Some(def) = msg_def(mt) else {
        return Ok(());
    };
    let n = m.len();
    let mut in_body = false;
    // Fields of a repeating group entry may repeat: `group_end` is the slot where the group
    // that started last stops (a group's fields are contiguous).
    let mut group_end = 0usize;
    let mut i = 3;
    while i + 1 < n {
        let Some(f) = m.field(i) else { break };
        let t = f.tag;
        let k = kind(t);
        // mam's extensions are rare: looked up only for a tag the specification refuses.
        let mam = (k == K_UNDEFINED || !bit(&def.all, t)) && mam_tag(mt, t);
        if k == K_UNDEFINED && !mam {
            return Err(err(t, RejectReason::InvalidTagNumber));
        }
        let header = is_header(t);
        if header {
            if in_body {
                return Err(err(t, RejectReason::TagOutOfOrder));
            }
        } else if !bit(&TRAILER, t) {
            if !mam && !bit(&def.all, t) {
                return Err(err(t, RejectReason::TagNotDefinedForMsgType));
            }
            in_body = true;
        }
        if i >= group_end && m.first_slot(t) != Some(i) {
            return Err(err(t, RejectReason::TagAppearsMoreThanOnce));
        }
        if let Err(e) = format_ok(k, f.value) {
            return Err(err(t, e.into()));
        }
        if !enum_ok(t, k, f.value) {
            return Err(err(t, RejectReason::ValueIncorrect));
        }
        let groups = if header { HEADER_GROUPS } else { def.groups };
        if let Some(g) = group(groups, t) {
            let end = check_group(m, i, g, f.value)?;
            group_end = group_end.max(end);
        }
        i += 1;
    }
    for &t in def.required {
        if m.get(t).is_none() {
            return Err(err(t, RejectReason::RequiredTagMissing));
        }
    }
    Ok(())
}

/// Counts the entries of the group whose NumInGroup is at slot `at`; returns the slot after
/// the group's last field.
fn check_group(
    m: &Message<'_>,
    at: usize,
    g: &GroupDef,
    count: &[u8],
) -> Result<usize, FieldError> {
    // The format check has passed: digits. Too many digits is a count that cannot match.
    let declared = super::num::parse_u64(count).unwrap_or(u64::MAX);
    let mut entries = 0u64;
    let mut j = at + 1;
    while let Some(f) = m.field(j) {
        if f.tag == g.delim {
            entries += 1;
        } else if g.members.binary_search(&f.tag).is_err() {
            break;
        } else if entries == 0 {
            return Err(err(f.tag, RejectReason::RepeatingGroupOutOfOrder));
        }
        j += 1;
    }
    if entries != declared {
        return Err(err(g.count, RejectReason::IncorrectNumInGroupCount));
    }
    Ok(j)
}

#[cfg(test)]
mod tests;
