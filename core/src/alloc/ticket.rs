//! Master tickets: per master ticket, each account's open quantity in lot steps.
//!
//! The ticket stores quantities, never weights: deposits and withdrawals change the weights of
//! later orders (they change the account columns the models read), but an open position only
//! moves when the master is closed. A partial close of `c` of the master's `M` open steps
//! closes `hᵢ × c / M` of each account's holding `hᵢ`, apportioned exactly by largest remainder
//! (with the rotating tie-break) so that no account closes more than it holds. When the
//! accounts' holdings sum to less than `M` (a residual closed whole earlier, or a per-account
//! allocation that did not fill the master) the difference acts as a sink, so each account
//! still closes exactly its proportion. A full close (`c = M`) closes every holding whole:
//! every account ends at exactly zero, whatever happened before.
//!
//! A partial close can leave an account with `0 < residual < min lot`. [`ResidualPolicy`]
//! decides, and [`CloseOutcome`] reports it either way.

use super::apportion::{apportion, ApportionParams, Scratch};
use super::{check_len, AllocError, LotLimits, MinLotPolicy, Mode};
use crate::num::Lots;

/// What to do with a holding a partial close leaves under the min lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResidualPolicy {
    /// Keep it open (it is closed whole by the master's full close), and report it.
    #[default]
    Leave,
    /// Close it whole now, and report the extra steps closed.
    CloseWhole,
}

/// What a close did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloseOutcome {
    /// Steps of the master closed.
    pub master_closed: u64,
    /// Σ of the accounts' closes.
    pub closed: u64,
    /// Accounts left holding `0 < open < min lot` ([`ResidualPolicy::Leave`]).
    pub residual_accounts: u64,
    /// Σ of those residual holdings.
    pub residual_steps: u64,
    /// Accounts closed whole because of the min lot ([`ResidualPolicy::CloseWhole`]).
    pub closed_whole: u64,
    /// Steps closed beyond the proportional share by `CloseWhole`.
    pub extra_closed: u64,
    /// Leftover steps dealt by remainder (advance the rotation cursor by this).
    pub dealt: u64,
}

/// One master ticket and each account's open quantity in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterTicket {
    /// Ticket id (the master's).
    pub id: u64,
    master: u64,
    open: Vec<u64>,
}

impl MasterTicket {
    /// A ticket opened with `master` steps allocated as `alloc` (one entry per account).
    pub fn open(id: u64, master: u64, alloc: &[u64]) -> Self {
        MasterTicket {
            id,
            master,
            open: alloc.to_vec(),
        }
    }

    /// Adds to the position (a scale-in on the same ticket): `master` more steps, allocated as
    /// `alloc`.
    pub fn add(&mut self, master: u64, alloc: &[u64]) -> Result<(), AllocError> {
        check_len("alloc", alloc.len(), self.open.len())?;
        let over = || AllocError::Num(crate::num::NumError::Overflow("ticket add"));
        self.master = self.master.checked_add(master).ok_or_else(over)?;
        for (o, &a) in self.open.iter_mut().zip(alloc) {
            *o = o.checked_add(a).ok_or_else(over)?;
        }
        Ok(())
    }

    /// Adds `steps` to the master only (an open whose accounts' shares are added as they fill).
    pub fn add_master(&mut self, steps: u64) -> Result<(), AllocError> {
        self.master = self.master.checked_add(steps).ok_or(AllocError::Num(
            crate::num::NumError::Overflow("ticket add"),
        ))?;
        Ok(())
    }

    /// Adds `steps` to one account's holding (a fill of its share, or a close that did not
    /// fill given back). Panics if `account` is out of range, like slice indexing.
    pub fn add_to(&mut self, account: usize, steps: u64) {
        self.open[account] = self.open[account].saturating_add(steps);
    }

    /// Takes `steps` from one account's holding (at most what it holds).
    pub fn take_from(&mut self, account: usize, steps: u64) {
        self.open[account] = self.open[account].saturating_sub(steps);
    }

    /// One more account, holding nothing (an account added while the ticket is open).
    pub fn add_account(&mut self) {
        self.open.push(0);
    }

    /// Master steps still open.
    pub fn master_open(&self) -> u64 {
        self.master
    }

    /// Each account's open steps.
    pub fn holdings(&self) -> &[u64] {
        &self.open
    }

    /// Σ of the accounts' open steps.
    pub fn total_open(&self) -> u64 {
        self.open.iter().sum()
    }

    /// Closes `close` steps of the master, writing each account's close into `out`.
    ///
    /// Errors if `close` exceeds the master's open steps or `out` has the wrong length; then the
    /// ticket is unchanged.
    pub fn close(
        &mut self,
        close: u64,
        min_steps: u64,
        policy: ResidualPolicy,
        rotation: u64,
        out: &mut [u64],
        scratch: &mut Scratch,
    ) -> Result<CloseOutcome, AllocError> {
        let n = self.open.len();
        check_len("out", out.len(), n)?;
        if close > self.master {
            return Err(AllocError::BadRequest(format!(
                "ticket {}: close of {close} steps exceeds the {} open",
                self.id, self.master
            )));
        }
        let mut o = CloseOutcome {
            master_closed: close,
            ..CloseOutcome::default()
        };
        if close == self.master {
            out.copy_from_slice(&self.open);
            o.closed = self.open.iter().sum();
            self.open.fill(0);
            self.master = 0;
            return Ok(o);
        }
        let held: u64 = self.open.iter().sum();
        let (total, sink_weight) = if held <= self.master {
            (close, self.master - held)
        } else {
            // Holdings above the master (round-ups in per-account mode): close the same
            // proportion of the holdings, rounded down.
            let c = u128::from(held) * u128::from(close) / u128::from(self.master);
            (c as u64, 0)
        };
        let params = ApportionParams {
            total,
            limits: LotLimits {
                step: Lots(1),
                min_steps: 1,
                max_steps: u64::MAX,
            },
            policy: MinLotPolicy::Zero,
            mode: Mode::PerAccount,
            rotation,
            sink_weight,
        };
        let a = apportion(&self.open, &params, out, scratch)?;
        o.dealt = a.dealt;
        for (x, h) in out.iter_mut().zip(self.open.iter_mut()) {
            debug_assert!(*x <= *h, "a proportional close never exceeds the holding");
            let rest = *h - *x;
            if rest > 0 && rest < min_steps {
                match policy {
                    ResidualPolicy::Leave => {
                        o.residual_accounts += 1;
                        o.residual_steps += rest;
                    }
                    ResidualPolicy::CloseWhole => {
                        o.closed_whole += 1;
                        o.extra_closed += rest;
                        *x = *h;
                    }
                }
            }
            *h -= *x;
            o.closed += *x;
        }
        self.master -= close;
        Ok(o)
    }
}
