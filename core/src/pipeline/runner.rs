//! Runs stages on pinned threads, in `dedicated` or `shared` mode (Aeron media-driver style).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use thiserror::Error;

use super::idle::IdleStrategy;

/// One pipeline stage: does a bounded amount of work per call and says how much
/// (Agrona's `Agent::doWork`).
pub trait Stage: Send {
    /// Short name for thread names and stats.
    fn name(&self) -> &str;
    /// One duty cycle; returns the amount of work done (0 = idle).
    fn do_work(&mut self) -> usize;
    /// True once the stage has nothing more to do, ever (a finite source ran dry).
    fn is_done(&self) -> bool {
        false
    }
}

/// How stages map onto threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadingMode {
    /// One thread (and, if pinning, one core) per stage.
    Dedicated,
    /// One thread runs every stage in turn: for small machines (2 cores).
    Shared,
}

impl ThreadingMode {
    /// `dedicated` or `shared`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "dedicated" => Some(Self::Dedicated),
            "shared" => Some(Self::Shared),
            _ => None,
        }
    }
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dedicated => "dedicated",
            Self::Shared => "shared",
        }
    }
}

/// How to run the stages.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Threading mode.
    pub mode: ThreadingMode,
    /// Idle strategy per stage (by position; the last one repeats). In shared mode the first
    /// one is used for the single thread.
    pub idle: Vec<IdleStrategy>,
    /// Pin threads to cores (core ids taken in order, wrapping).
    pub pin: bool,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            mode: ThreadingMode::Shared,
            idle: vec![IdleStrategy::backoff()],
            pin: true,
        }
    }
}

/// A runner failure.
#[derive(Debug, Error)]
pub enum RunnerError {
    /// No stages given.
    #[error("a pipeline needs at least one stage")]
    NoStages,
    /// The OS refused a thread.
    #[error("cannot spawn stage thread `{name}`: {source}")]
    Spawn {
        /// Stage name.
        name: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A stage thread panicked.
    #[error("stage thread `{0}` panicked")]
    Panicked(String),
}

type Boxed = Box<dyn Stage>;
/// A stage thread returns its stages, each with its position in the original list.
type StageThread = JoinHandle<Vec<(usize, Boxed)>>;

/// Running stages. Dropping it without [`Pipeline::stop`] detaches the threads.
#[derive(Debug)]
pub struct Pipeline {
    stop: Arc<AtomicBool>,
    threads: Vec<(String, StageThread)>,
    pinned: Vec<usize>,
}

impl std::fmt::Debug for dyn Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stage({})", self.name())
    }
}

/// A clonable handle that asks the pipeline to stop (e.g. from a signal handler thread).
#[derive(Debug, Clone)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Asks every stage thread to drain and return.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Release);
    }
    /// True once stop was asked.
    pub fn is_stopping(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Runs `stages` until they are all done or stop is asked; then keeps cycling until one whole
/// round does no work (so rings drain), and returns.
fn drive(stages: &mut [(usize, Boxed)], idle: IdleStrategy, stop: &AtomicBool) {
    let mut idler = idle.idler();
    loop {
        let mut work = 0;
        for (_, s) in stages.iter_mut() {
            work += s.do_work();
        }
        let stopping = stop.load(Ordering::Acquire) || stages.iter().all(|(_, s)| s.is_done());
        if stopping && work == 0 {
            return;
        }
        idler.idle(work);
    }
}

impl Pipeline {
    /// Starts the stages. Core ids are read once, before any thread is pinned, because
    /// `core_affinity::get_core_ids()` returns the calling thread's current mask.
    pub fn start(stages: Vec<Boxed>, cfg: &RunnerConfig) -> Result<Self, RunnerError> {
        if stages.is_empty() {
            return Err(RunnerError::NoStages);
        }
        let cores = if cfg.pin {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let stop = Arc::new(AtomicBool::new(false));
        let idle_for = |i: usize| {
            cfg.idle
                .get(i)
                .or(cfg.idle.last())
                .copied()
                .unwrap_or_default()
        };
        let groups: Vec<Vec<(usize, Boxed)>> = match cfg.mode {
            ThreadingMode::Dedicated => stages
                .into_iter()
                .enumerate()
                .map(|(i, s)| vec![(i, s)])
                .collect(),
            ThreadingMode::Shared => vec![stages.into_iter().enumerate().collect()],
        };
        let mut threads = Vec::new();
        let mut pinned = Vec::new();
        for (t, mut group) in groups.into_iter().enumerate() {
            let name = group
                .iter()
                .map(|(_, s)| s.name().to_string())
                .collect::<Vec<_>>()
                .join("+");
            let core = (!cores.is_empty()).then(|| cores[t % cores.len()]);
            if let Some(c) = core {
                pinned.push(c.id);
            }
            let idle = idle_for(group[0].0);
            let stop2 = stop.clone();
            let h = std::thread::Builder::new()
                .name(format!("mam-{name}"))
                .spawn(move || {
                    if let Some(c) = core {
                        // Pinning can fail in restricted containers; the stage still runs.
                        let _ = core_affinity::set_for_current(c);
                    }
                    drive(&mut group, idle, &stop2);
                    group
                })
                .map_err(|source| RunnerError::Spawn {
                    name: name.clone(),
                    source,
                })?;
            threads.push((name, h));
        }
        Ok(Pipeline {
            stop,
            threads,
            pinned,
        })
    }

    /// A handle that can ask for a stop from elsewhere.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.stop.clone())
    }

    /// Core ids the threads were pinned to, in thread order (empty if not pinned).
    pub fn pinned_cores(&self) -> &[usize] {
        &self.pinned
    }

    /// Asks for a stop, waits for every thread to drain, and returns the stages in their
    /// original order.
    pub fn stop(self) -> Result<Vec<Boxed>, RunnerError> {
        self.stop.store(true, Ordering::Release);
        self.join()
    }

    /// Waits until every stage is done (or stop was asked elsewhere) and returns the stages.
    pub fn join(self) -> Result<Vec<Boxed>, RunnerError> {
        let mut out = Vec::new();
        for (name, h) in self.threads {
            out.extend(h.join().map_err(|_| RunnerError::Panicked(name))?);
        }
        out.sort_by_key(|(i, _)| *i);
        Ok(out.into_iter().map(|(_, s)| s).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ring::{ring, RingRx, RingTx};

    struct Source {
        next: u64,
        end: u64,
        tx: Option<RingTx<u64>>,
    }
    impl Stage for Source {
        fn name(&self) -> &str {
            "source"
        }
        fn do_work(&mut self) -> usize {
            let mut n = 0;
            let Some(tx) = self.tx.as_mut() else { return 0 };
            while self.next < self.end && n < 64 {
                if tx.try_push(self.next).is_err() {
                    break;
                }
                self.next += 1;
                n += 1;
            }
            if self.next == self.end {
                // Dropping the producer tells the sink nothing more will come.
                self.tx = None;
            }
            n
        }
        fn is_done(&self) -> bool {
            self.next == self.end
        }
    }
    struct Sink {
        rx: RingRx<u64>,
        sum: Arc<std::sync::atomic::AtomicU64>,
    }
    impl Stage for Sink {
        fn name(&self) -> &str {
            "sink"
        }
        fn do_work(&mut self) -> usize {
            let mut n = 0;
            while let Some(v) = self.rx.pop() {
                self.sum.fetch_add(v, Ordering::Relaxed);
                n += 1;
            }
            n
        }
        fn is_done(&self) -> bool {
            self.rx.is_abandoned() && self.rx.is_empty()
        }
    }

    #[test]
    fn shared_and_dedicated_deliver_everything() {
        for mode in [ThreadingMode::Shared, ThreadingMode::Dedicated] {
            let (tx, rx, stats) = ring(8);
            let sum = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let stages: Vec<Box<dyn Stage>> = vec![
                Box::new(Source {
                    next: 0,
                    end: 10_000,
                    tx: Some(tx),
                }),
                Box::new(Sink {
                    rx,
                    sum: sum.clone(),
                }),
            ];
            let cfg = RunnerConfig {
                mode,
                idle: vec![IdleStrategy::Yield],
                pin: true,
            };
            let p = Pipeline::start(stages, &cfg).unwrap();
            let out = p.join().unwrap();
            assert_eq!(out.len(), 2);
            assert_eq!(out[1].name(), "sink");
            assert_eq!(stats.popped.load(Ordering::Relaxed), 10_000, "{mode:?}");
            assert_eq!(sum.load(Ordering::Relaxed), 10_000 * 9_999 / 2, "{mode:?}");
        }
    }
}
