//! One module per subcommand. Each exposes clap `Args` (or a `Command` enum) and a `run`
//! returning the process exit code.

pub mod accounts;
pub mod allocate;
pub mod bench;
pub mod bench_adaptive;
pub mod bench_alloc;
pub mod bench_decode;
pub mod bench_fix;
pub mod bench_journal;
pub mod bench_ledger;
pub mod bench_pipeline;
pub mod bench_sbe;
pub mod bench_transport;
pub mod capture;
pub mod capture_convert;
pub mod explain;
pub mod fix;
pub mod hist;
pub mod journal;
pub mod manager;
pub mod replay;
pub mod run;
pub mod statement;
pub mod train;
pub mod validate;
