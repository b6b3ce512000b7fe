//! The daemon's config file (`mam run --config`: tools/src/daemon/config.rs, compiled here from
//! its own source: the tools crate is a binary): arbitrary bytes, as UTF-8, parsed as TOML into
//! `DaemonConfig` and checked (`check()`: every value, durations, addresses, sessions, LPs,
//! risk limits). A bad file must be an error naming its key, never a panic or a hang; and
//! what `check()` accepts must not make the daemon allocate without bound at start, so every
//! size it preallocates from the config is asserted within its documented bound here.
#![no_main]
#![allow(dead_code)]

#[path = "../../tools/src/daemon/config.rs"]
mod config;

use libfuzzer_sys::fuzz_target;
use mam_core::engine::{MAX_ACCOUNTS, MAX_TABLE};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = toml::from_str::<config::DaemonConfig>(text) else {
        return;
    };
    let Ok(checked) = cfg.check() else {
        return;
    };
    // The daemon sizes its stage rings, its generated accounts and the risk book (throttle,
    // open-order table) from these at start.
    let ring = cfg.pipeline.ring;
    assert!(ring.is_power_of_two() && (2..=config::MAX_RING).contains(&ring));
    assert!(cfg.accounts.generate <= MAX_ACCOUNTS);
    let risk = &checked.engine.risk;
    assert!((1..=MAX_TABLE).contains(&risk.max_orders_per_sec));
    assert!(risk.max_open_orders <= MAX_TABLE);
    // What the daemon reads next from an accepted config must not fail either.
    for m in cfg.manager_sessions() {
        m.sending_time_tolerance().expect("checked");
    }
    for l in cfg.lp_sessions() {
        l.begin_string().expect("checked");
    }
});
