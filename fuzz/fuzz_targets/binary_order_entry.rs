//! mam's binary (SBE) order entry: every message in a buffer of arbitrary bytes, and what the
//! daemon's binary manager edge does with the manager's messages among them (the conversion
//! through the FIX edge's rules, and the reject of a refusal): a result or a refusal, never a
//! panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mam_core::symbol::SymbolTable;
use mam_gateway::binary::codec::{decode, AppMessage, Message};
use mam_gateway::manager::binary::convert::{
    amend_from_binary, cancel_from_binary, master_from_binary, reject_of, watermark_from_binary,
};
use mam_gateway::manager::convert::MasterDefaults;

fn symbols() -> &'static SymbolTable {
    static S: OnceLock<SymbolTable> = OnceLock::new();
    S.get_or_init(SymbolTable::builtin)
}

fuzz_target!(|data: &[u8]| {
    let d = MasterDefaults::default();
    let mut at = 0;
    while at < data.len() {
        match decode(&data[at..]) {
            Ok((m, n)) if n > 0 => {
                if let Message::App(v) = m {
                    let refusal = match v.to_owned_message() {
                        AppMessage::MasterOrder(o) => master_from_binary(&o, symbols(), &d).err(),
                        AppMessage::MasterCancel(c) => cancel_from_binary(&c).err(),
                        AppMessage::MasterReplace(r) => amend_from_binary(&r, symbols(), &d).err(),
                        AppMessage::ManagerClock(c) => watermark_from_binary(&c).err(),
                        _ => None,
                    };
                    if let Some(r) = refusal {
                        let _ = reject_of(&r, v.template() as u16, v.seq_no(), v.cl_ord_id(), 0);
                    }
                }
                at += n
            }
            _ => break,
        }
    }
});
