//! Adding an account to a running engine (kind 12): the state directory never has to be
//! recreated for a new investor.
//!
//! The record is small enough for a stage ring's 64-byte frame, so it carries only what the
//! account is born with: id, balance, currency, leverage, cluster and the loss-limit action.
//! The new account takes the next index and the import defaults for every model parameter
//! (multiplier 1, percent 0, fixed lots 0, risk fraction 0, drawdown tolerance 1, scale 0–1,
//! no commission, no loss limit, the engine's margin-call and stop-out levels), and it starts
//! **inactive**: an operator sets its parameters with account changes (kind 10), one field per
//! record, and activates it last with a status change. No master order is ever split over a
//! half-configured account, and the journal says exactly what the account was given, in order.
//!
//! Every per-account table of the engine grows by one (ledger, risk book, limit watch, open
//! tickets' holdings, working-order sums); nothing else moves, so the indexes of the accounts
//! already there, and every order in flight, stay valid.

use bytemuck::{Pod, Zeroable};

use super::decision::RefusedCode;
use super::{limits, Engine, MAX_ACCOUNTS};
use crate::account::{valid_id, AccountRecord, FLAG_LIMIT_FLATTEN};
use crate::num::{Lots, Money, Ratio};

/// Journal kind of [`AccountAdd`].
pub const KIND_ACCOUNT_ADD: u16 = 12;

/// What [`AccountAdd::reason`] refers to when the engine refuses an add (the `reference` of
/// its [`Refused`](super::decision::Refused) record, with [`RefusedCode::BadAccountValue`]).
pub mod add_field {
    /// The id: empty, not printable ASCII, or already taken ([`RefusedCode::DuplicateAccount`]).
    pub const ID: u64 = 1;
    /// The balance: negative.
    pub const BALANCE: u64 = 2;
    /// The currency: not 3–7 uppercase letters or digits.
    pub const CURRENCY: u64 = 3;
    /// The leverage: not 1–10,000.
    pub const LEVERAGE: u64 = 4;
    /// The flags: a bit other than the loss-limit action.
    pub const FLAGS: u64 = 5;
    /// The engine holds [`MAX_ACCOUNTS`](super::super::MAX_ACCOUNTS) already.
    pub const COUNT: u64 = 6;
}

/// An operator adds an account (64 bytes: it fits a stage ring's frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct AccountAdd {
    /// Event time (ns).
    pub ts_ns: u64,
    /// Account id, NUL-padded printable ASCII (unique).
    pub id: [u8; 16],
    /// Opening balance (≥ 0); equity and its high-water mark start equal to it.
    pub balance: Money,
    /// Account currency, NUL-padded (`USD`).
    pub currency: [u8; 8],
    /// Leverage (1–10,000).
    pub leverage: u32,
    /// Cluster / jurisdiction tag.
    pub cluster: u16,
    /// 0, or [`FLAG_LIMIT_FLATTEN`]: what a crossed loss limit does. Status bits are refused:
    /// the account starts inactive.
    pub flags: u16,
    /// Who asks: 0 an operator (the account starts inactive); `m + 1` manager `m`'s session
    /// (the account follows `m` and is active at once with the import defaults, and the
    /// manager gets an answer).
    pub manager: u16,
    /// Reserved, zero.
    pub _pad: [u8; 6],
    /// The manager's request id (MamAccountReqID), echoed in its answer; 0 from an operator.
    pub request_id: u64,
}

const _: () = assert!(core::mem::size_of::<AccountAdd>() == 64);

impl AccountAdd {
    /// The account this record creates, with the import defaults (see the module docs).
    pub fn record(&self) -> AccountRecord {
        AccountRecord {
            id: self.id,
            balance: self.balance,
            equity: self.balance,
            margin_used: Money(0),
            equity_hwm: self.balance,
            multiplier: Ratio(Ratio::ONE_RAW),
            percent: Ratio(0),
            fixed_lots: Lots(0),
            risk_fraction: Ratio(0),
            drawdown_tolerance: Ratio(Ratio::ONE_RAW),
            min_scale: Ratio(0),
            max_scale: Ratio(Ratio::ONE_RAW),
            leverage: self.leverage,
            cluster: self.cluster,
            flags: self.flags,
            commission_per_lot: Money(0),
            daily_loss_limit: Money(0),
            margin_call_level: Ratio(0),
            stop_out_level: Ratio(0),
            currency: self.currency,
        }
    }

    /// The first thing wrong with the record, as the refusal the engine journals.
    pub fn check(&self) -> Result<(), (RefusedCode, u64)> {
        use add_field as f;
        let bad = |field| Err((RefusedCode::BadAccountValue, field));
        if !valid_id(&self.id) {
            return bad(f::ID);
        }
        if self.balance.is_negative() {
            return bad(f::BALANCE);
        }
        if !crate::account::valid_currency(&self.currency) {
            return bad(f::CURRENCY);
        }
        if !(1..=10_000).contains(&self.leverage) {
            return bad(f::LEVERAGE);
        }
        if self.flags & !FLAG_LIMIT_FLATTEN != 0 {
            return bad(f::FLAGS);
        }
        Ok(())
    }
}

impl Engine {
    /// Adds the account of `add` at the next index; refused (state unchanged) when the record
    /// is bad ([`AccountAdd::check`]), the id is taken ([`RefusedCode::DuplicateAccount`],
    /// reference: the index that has it) or the engine is full.
    pub(super) fn account_add(&mut self, add: &AccountAdd) -> Result<(), (RefusedCode, u64)> {
        add.check()?;
        let n = self.accounts.id.len();
        if n >= MAX_ACCOUNTS {
            return Err((RefusedCode::BadAccountValue, add_field::COUNT));
        }
        // A linear scan: adds are rare operator actions, and 16-byte compares stream at about
        // a millisecond per million accounts; an id index would be state to keep in step.
        if let Some(i) = self.accounts.id.iter().position(|id| *id == add.id) {
            return Err((RefusedCode::DuplicateAccount, i as u64));
        }
        let mut r = add.record();
        if let Some(m) = add.manager.checked_sub(1) {
            // A manager's own account: it follows that manager and trades at once (its
            // settings are the import defaults; the manager changes them like any other).
            r.flags = crate::account::with_manager(r.flags | crate::account::FLAG_ACTIVE, m as u8);
            self.several_managers |= m != 0;
        }
        self.ledger.add_account(&self.symbols, r.currency);
        self.risk.add_account();
        self.accounts.push(&r);
        self.limit_state.push(limits::LimitState::default());
        self.watch.add_account();
        let ni = self.ni;
        for w in [&mut self.working, &mut self.closing_w, &mut self.limit_w] {
            w.resize(w.len() + ni, 0);
        }
        for t in self.tickets.values_mut() {
            t.book.add_account();
        }
        self.buf.resize(n + 1, 0);
        self.buf2.resize(n + 1, 0);
        super::apply::mark_hwm(&self.ledger, &mut self.accounts, n);
        Ok(())
    }
}
