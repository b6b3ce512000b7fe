//! The operator's signals beside SIGINT/SIGTERM: each raises a flag that the supervisor loop
//! turns into a journaled engine input through the admin queue (never a direct state change).
//!
//! | signal | input |
//! |---|---|
//! | SIGUSR1 | kill switch engaged: no new child orders |
//! | SIGUSR2 | kill switch released |
//! | SIGRTMIN+1 | adaptive layer off: every master gets its static allocation |
//! | SIGRTMIN+2 | adaptive layer on |
//! | SIGHUP | reload the config file (reload.rs): limits as journaled inputs, master defaults |

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use mam_core::engine::input::{RiskCommand, ADAPTIVE_OFF, ADAPTIVE_ON, RISK_KILL, RISK_RESET};
use mam_core::engine::Input;
use mam_core::pipeline::engine_stage::admin::{AdminQueue, AdminRequest};

/// One signal's flag, the engine action it asks for and the line printed when it is taken.
type Flag = (Arc<AtomicBool>, u32, &'static str);

/// The flags, one per signal.
#[derive(Debug)]
pub struct OperatorSignals {
    flags: Vec<Flag>,
    reload: Arc<AtomicBool>,
}

impl OperatorSignals {
    /// Registers the handlers (the real-time signals on Linux only).
    pub fn install() -> anyhow::Result<Self> {
        let mut flags = Vec::new();
        let mut add = |sig: i32, action: u32, what: &'static str| -> anyhow::Result<()> {
            let flag = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(sig, flag.clone()).context("installing signal handlers")?;
            flags.push((flag, action, what));
            Ok(())
        };
        add(
            signal_hook::consts::SIGUSR1,
            RISK_KILL,
            "kill switch engaged (SIGUSR1): no new child orders",
        )?;
        add(
            signal_hook::consts::SIGUSR2,
            RISK_RESET,
            "kill switch released (SIGUSR2)",
        )?;
        #[cfg(target_os = "linux")]
        {
            add(
                libc::SIGRTMIN() + 1,
                ADAPTIVE_OFF,
                "adaptive layer off (SIGRTMIN+1): static allocation",
            )?;
            add(
                libc::SIGRTMIN() + 2,
                ADAPTIVE_ON,
                "adaptive layer on (SIGRTMIN+2)",
            )?;
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (ADAPTIVE_OFF, ADAPTIVE_ON);
        let reload = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGHUP, reload.clone())
            .context("installing the SIGHUP handler")?;
        Ok(OperatorSignals { flags, reload })
    }

    /// True once per SIGHUP (several before a call count as one).
    pub fn take_reload(&self) -> bool {
        self.reload.swap(false, Ordering::Relaxed)
    }

    /// Turns each signal that arrived since the last call into an engine input on `admin`
    /// and says so on `out`.
    pub fn forward(&self, admin: &AdminQueue, out: &mut impl Write) -> std::io::Result<()> {
        for (flag, action, what) in &self.flags {
            if flag.swap(false, Ordering::Relaxed) {
                let cmd = RiskCommand {
                    ts_ns: mam_core::sys::utc_now_ns(),
                    action: *action,
                    _pad: 0,
                };
                let req = AdminRequest {
                    id: 0,
                    input: Input::Risk(cmd),
                };
                if admin.push(req).is_ok() {
                    writeln!(out, "{what}")?;
                }
            }
        }
        Ok(())
    }
}
