//! MDP 3.0 SBE layouts (little-endian). Root blocks and group entries are read by the wire's
//! `blockLength`, so schema versions 8 and 9 (and later versions that append fields) decode
//! alike; an entry shorter than the fields read here is refused.

use crate::capture::view::view;

view! {
    /// Root block of the incremental templates 32/46 (book), 42/48 (trade summary),
    /// 35 (session statistics), 37 (volume): transact time and match event indicator.
    IncrementalRoot [9] {
        /// Transact time, ns since the epoch.
        transact_time @ 0: le u64;
        /// Match event indicator bits (bit 7: end of event).
        match_event @ 8: u8;
    }
}

view! {
    /// One entry of MDIncrementalRefreshBook (32 / 46).
    BookEntry [27] {
        /// Price, PRICENULL9 mantissa (× 1e-9; `i64::MAX` = null).
        px @ 0: le i64;
        /// Size (`i32::MAX` = null).
        size @ 8: le i32;
        /// Instrument.
        security_id @ 12: le i32;
        /// Per-instrument sequence.
        rpt_seq @ 16: le u32;
        /// Orders at the level (`i32::MAX` = null).
        num_orders @ 20: le i32;
        /// Level, 1 = best.
        level @ 24: u8;
        /// 0 new, 1 change, 2 delete, 3 delete thru, 4 delete from, 5 overlay.
        action @ 25: u8;
        /// '0' bid, '1' offer, 'E' implied bid, 'F' implied offer, 'J' book reset.
        entry_type @ 26: u8;
    }
}

view! {
    /// One entry of MDIncrementalRefreshTradeSummary (42 / 48).
    TradeEntry [26] {
        /// Price mantissa × 1e-9.
        px @ 0: le i64;
        /// Trade quantity.
        size @ 8: le i32;
        /// Instrument.
        security_id @ 12: le i32;
        /// Per-instrument sequence.
        rpt_seq @ 16: le u32;
        /// Orders in the trade.
        num_orders @ 20: le i32;
        /// 0 none, 1 buy, 2 sell.
        aggressor @ 24: u8;
        /// Update action.
        action @ 25: u8;
    }
}

view! {
    /// One entry of MDIncrementalRefreshVolume (37).
    VolumeEntry [13] {
        /// Cumulative volume.
        size @ 0: le i32;
        /// Instrument.
        security_id @ 4: le i32;
        /// Per-instrument sequence.
        rpt_seq @ 8: le u32;
        /// Update action.
        action @ 12: u8;
    }
}

view! {
    /// One entry of MDIncrementalRefreshSessionStatistics (35).
    StatsEntry [19] {
        /// Price mantissa × 1e-9.
        px @ 0: le i64;
        /// Instrument.
        security_id @ 8: le i32;
        /// Per-instrument sequence.
        rpt_seq @ 12: le u32;
        /// Open/close/settlement flag.
        open_close_settl @ 16: u8;
        /// Update action.
        action @ 17: u8;
        /// '4' open, '7' high, '8' low, 'N' highest bid, 'O' lowest offer.
        entry_type @ 18: u8;
    }
}

view! {
    /// SecurityStatus (30).
    SecurityStatus [30] {
        /// Transact time.
        transact_time @ 0: le u64;
        /// Security group (6 chars; first 4 here).
        security_group @ 8: bytes4;
        /// Instrument (`i32::MAX` = null: the status applies to the group).
        security_id @ 20: le i32;
        /// Trade date (days since the epoch).
        trade_date @ 24: le u16;
        /// Match event indicator.
        match_event @ 26: u8;
        /// Security trading status.
        trading_status @ 27: u8;
        /// Halt reason.
        halt_reason @ 28: u8;
        /// Trading event.
        trading_event @ 29: u8;
    }
}

view! {
    /// Root of SnapshotFullRefresh (38 / 52).
    SnapshotRoot [59] {
        /// Last incremental packet sequence reflected in the snapshot.
        last_msg_seq_processed @ 0: le u32;
        /// Snapshot messages in the loop.
        tot_num_reports @ 4: le u32;
        /// Instrument.
        security_id @ 8: le i32;
        /// Instrument sequence reflected.
        rpt_seq @ 12: le u32;
        /// Transact time.
        transact_time @ 16: le u64;
        /// Last update time.
        last_update_time @ 24: le u64;
        /// Trade date.
        trade_date @ 32: le u16;
        /// Trading status.
        trading_status @ 34: u8;
        /// High limit price mantissa.
        high_limit @ 35: le i64;
        /// Low limit price mantissa.
        low_limit @ 43: le i64;
        /// Max price variation mantissa.
        max_variation @ 51: le i64;
    }
}

view! {
    /// One entry of SnapshotFullRefresh (38 / 52).
    SnapshotEntry [22] {
        /// Price mantissa × 1e-9.
        px @ 0: le i64;
        /// Size.
        size @ 8: le i32;
        /// Orders.
        num_orders @ 12: le i32;
        /// Level (1 = best).
        level @ 16: u8;
        /// Trading reference date.
        trading_reference_date @ 17: le u16;
        /// Open/close/settlement flag.
        open_close_settl @ 19: u8;
        /// Settlement price type.
        settl_price_type @ 20: u8;
        /// Entry type.
        entry_type @ 21: u8;
    }
}
