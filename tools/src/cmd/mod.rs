//! One module per subcommand. Each exposes clap `Args` (or a `Command` enum) and a `run`
//! returning the process exit code.

pub mod accounts;
pub mod allocate;
pub mod bench;
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
pub mod fix;
pub mod hist;
pub mod journal;
pub mod manager;
pub mod replay;
pub mod run;
pub mod statement;
// The replay driver (issue #14) is the report's caller; until it lands, only tests use the
// report's API (its re-exports included).
#[allow(dead_code, unused_imports)]
pub mod validate;
