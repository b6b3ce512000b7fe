//! [`SimLp`] on a thread of its own.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{SimLp, SimLpHandle};

impl SimLp {
    /// Runs the LP on its own thread until [`SimLpThread::stop`] (or drop).
    pub fn spawn(mut self) -> std::io::Result<SimLpThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let addr = self.local_addr();
        let handle = self.handle();
        let stop2 = stop.clone();
        let join = std::thread::Builder::new()
            .name("mam-sim-lp".into())
            .spawn(move || {
                while !stop2.load(Relaxed) {
                    if let Err(e) = self.turn(Duration::from_millis(1)) {
                        tracing::warn!(error = %e, "SimLp: session error");
                    }
                }
                self
            })?;
        Ok(SimLpThread {
            addr,
            handle,
            stop,
            join: Some(join),
        })
    }
}

/// A [`SimLp`] running on its own thread.
#[derive(Debug)]
pub struct SimLpThread {
    addr: SocketAddr,
    handle: SimLpHandle,
    stop: Arc<AtomicBool>,
    join: Option<JoinHandle<SimLp>>,
}

impl SimLpThread {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// A handle to its arrivals and counters.
    pub fn handle(&self) -> &SimLpHandle {
        &self.handle
    }
    /// Stops the thread and returns the LP (`None` if its thread panicked).
    pub fn stop(mut self) -> Option<SimLp> {
        self.stop.store(true, Relaxed);
        self.join.take().and_then(|j| j.join().ok())
    }
}

impl Drop for SimLpThread {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}
