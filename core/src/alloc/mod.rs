//! Exact static allocation: one master order split across sub-accounts in whole lot steps.
//!
//! Everything here is a pure function or a small state type; nothing does I/O and nothing uses
//! floating point. Quantities are counted in **lot steps** (`u64`: EURUSD with a 0.01 step holds
//! 1.37 lots as 137 steps), so lot-step multiples hold by construction; [`LotLimits`] converts
//! to and from [`Lots`] and [`Qty`].
//!
//! - [`mod@apportion`]: largest-remainder apportionment of a total over integer weights, with the
//!   rotating tie-break, min-lot policy, max-lot caps, and block / per-account modes.
//! - [`model`]: the static models (equity, balance, free margin, percent, multiplier, fixed,
//!   risk, ratio × balance or equity) reading [`AccountColumns`](crate::account::AccountColumns).
//! - [`ticket`]: per master ticket, each account's open quantity; exact partial and full closes.
//! - [`fill`]: incremental allocation of block fills, average price, money residual.
//!
//! The rules and the reasons for them are written down in `docs/allocation.md`.

pub mod apportion;
pub mod fill;
pub mod model;
pub mod synth;
pub mod ticket;

#[cfg(test)]
mod tests;

use thiserror::Error;

use crate::num::{Lots, NumError, Qty};
use crate::symbol::SymbolSpec;

pub use apportion::{apportion, ApportionParams, Outcome, Scratch};

/// What an account whose rounded size is above zero but below the minimum lot gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MinLotPolicy {
    /// Nothing (the freed steps are redistributed in block mode, reported in per-account mode).
    #[default]
    Zero,
    /// The minimum lot (the extra steps are taken back from others in block mode, reported as
    /// over-allocation in per-account mode).
    RoundUp,
}

/// How the children of a master order reach the market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// One block order; its fills are allocated back. Σ children = master, always, or an error.
    #[default]
    Block,
    /// One child order per account. Sizes the limits remove are reported as unallocated.
    PerAccount,
}

/// Lot limits of a symbol, counted in lot steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LotLimits {
    /// One lot step.
    pub step: Lots,
    /// Smallest tradable size, in steps (at least 1).
    pub min_steps: u64,
    /// Largest size, in steps (at least `min_steps`).
    pub max_steps: u64,
}

impl LotLimits {
    /// The limits of a symbol (a validated [`SymbolSpec`] always gives consistent limits).
    pub fn of(spec: &SymbolSpec) -> Self {
        let (min, max) = spec.step_limits();
        LotLimits {
            step: spec.lot_step,
            min_steps: min.max(1) as u64,
            max_steps: max.max(min).max(1) as u64,
        }
    }

    /// A size in lots as whole steps; an error if it is negative or not a multiple of the step.
    pub fn steps_of(&self, lots: Lots) -> Result<u64, AllocError> {
        if lots.raw() < 0 || lots.raw() % self.step.raw() != 0 {
            return Err(AllocError::NotAStepMultiple {
                lots,
                step: self.step,
            });
        }
        Ok((lots.raw() / self.step.raw()) as u64)
    }

    /// Steps back to lots (exact).
    pub fn lots_of(&self, steps: u64) -> Result<Lots, AllocError> {
        i64::try_from(steps)
            .ok()
            .and_then(|s| s.checked_mul(self.step.raw()))
            .map(Lots)
            .ok_or(AllocError::Num(NumError::Overflow("steps to lots")))
    }

    /// Signed steps back to lots (exact), for reported differences.
    pub fn lots_of_signed(&self, steps: i64) -> Result<Lots, AllocError> {
        steps
            .checked_mul(self.step.raw())
            .map(Lots)
            .ok_or(AllocError::Num(NumError::Overflow("steps to lots")))
    }

    /// Steps to base units through the symbol's contract size (exact).
    pub fn qty_of(&self, spec: &SymbolSpec, steps: u64) -> Result<Qty, AllocError> {
        Ok(spec.lots_to_qty(self.lots_of(steps)?)?)
    }

    /// Decimals needed to print a multiple of the step exactly (EURUSD 0.01: 2).
    pub fn decimals(&self) -> u32 {
        crate::num::exact_decimals(self.step.raw(), Lots::DECIMALS, 0)
    }
}

/// `Err(BufferLen)` unless a caller's buffer `name` has `want` entries (one per account).
#[inline]
pub(crate) fn check_len(name: &'static str, got: usize, want: usize) -> Result<(), AllocError> {
    if got == want {
        Ok(())
    } else {
        Err(AllocError::BufferLen { name, got, want })
    }
}

/// Why an allocation was refused. Each variant names what and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AllocError {
    /// Arithmetic overflow or division by zero in a conversion.
    #[error(transparent)]
    Num(#[from] NumError),
    /// A size is not a whole number of lot steps.
    #[error("{lots} lots is not a non-negative multiple of the lot step {step}")]
    NotAStepMultiple {
        /// The size.
        lots: Lots,
        /// The step.
        step: Lots,
    },
    /// The weights sum to more than `u64::MAX` (exactness needs remainders in 64 bits).
    #[error("the weights of {accounts} accounts sum to {sum}, more than 2^64-1")]
    WeightOverflow {
        /// Number of accounts.
        accounts: usize,
        /// The sum.
        sum: u128,
    },
    /// Block mode: the limits (min lot, max lot, inactive or zero-weight accounts) leave steps
    /// that no account can take. Nothing was allocated.
    #[error(
        "block mode: {unplaced} lot step(s) of {total} cannot be placed within the min/max lot \
         limits of {eligible} eligible account(s)"
    )]
    BlockInfeasible {
        /// Steps that could not be placed (negative: owed by a round-up that nobody could give).
        unplaced: i64,
        /// The master size in steps.
        total: u64,
        /// Accounts with a positive weight.
        eligible: usize,
    },
    /// An output or input buffer has the wrong length.
    #[error("buffer `{name}` has length {got}, expected {want}")]
    BufferLen {
        /// Which buffer.
        name: &'static str,
        /// Its length.
        got: usize,
        /// The length needed.
        want: usize,
    },
    /// An account's model parameter is out of range.
    #[error("account {account} (index {index}): {why}")]
    BadAccount {
        /// Account id.
        account: String,
        /// Index in the columns.
        index: usize,
        /// What is wrong.
        why: String,
    },
    /// The order or model parameters are unusable.
    #[error("{0}")]
    BadRequest(String),
}
