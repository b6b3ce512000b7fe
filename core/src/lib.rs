//! mam-core: the centre of mam. Exact numbers, symbol specifications, the normalized events
//! that cross the stage rings, accounts, allocation, and the journal.
//!
//! This crate does no I/O beyond memory-mapped files and knows no wire format: `mam-feed` and
//! `mam-gateway` implement its traits.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod calendar;
pub mod event;
pub mod num;
pub mod risk;
pub mod symbol;

pub mod account;
pub mod adaptive;
pub mod alloc;
pub mod engine;
pub mod journal;
pub mod ledger;
pub mod pcap;
pub mod pipeline;
pub mod rand;
pub mod shared_data;
pub mod sys;
