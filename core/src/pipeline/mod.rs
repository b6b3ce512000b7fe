//! The pipeline runner: stages on pinned threads joined by bounded rings, with Aeron-style
//! idle strategies and threading modes.
//!
//! ```text
//! feed stage ──MarketEvent──► engine stage ──ChildOrder──► gateway stage
//!                 ring A          ◄──── FillEvent ───────── ring C      ring B
//! ```

pub mod directory;
pub mod engine_stage;
pub mod idle;
pub mod msg;
pub mod ring;
pub mod runner;
pub mod tap;

pub use directory::AccountDirectory;
pub use idle::{IdleStrategy, Idler};
pub use msg::{EdgeFrame, EdgeOrder, ManagerReport};
pub use ring::{ring, ConflatingTx, RingRx, RingStats, RingTx};
pub use runner::{Pipeline, RunnerConfig, RunnerError, Stage, StopHandle, ThreadingMode};
pub use tap::LatencyTap;
