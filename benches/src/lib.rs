//! Benchmark workloads shared by the Criterion benches (`benches/benches/`) and `mam bench`.
#![deny(missing_docs)]

pub mod adaptive;
pub mod decode;
pub mod fix;
pub mod journal_sync;
pub mod ledger;
pub mod manager;
pub mod pipeline;
