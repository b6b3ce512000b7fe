//! Shared helpers for mam's Criterion benchmarks.
#![deny(missing_docs)]
