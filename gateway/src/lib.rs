//! mam-gateway: orders out (FIX 4.4, binary order entry, transports, latency histograms).
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod binary;
pub mod fix;
pub mod latency;
pub mod lp;
pub mod manager;
pub mod transport;
