//! mam-feed: market data in (wire formats, captures, receivers, books).
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
pub mod capture;
pub mod dukascopy;
pub mod fxbook;
pub mod pcap_write;
pub mod recv;
pub mod replay;
pub mod sbe;
pub mod iex;
pub mod itch;
pub mod mdp3;
pub mod inspect;
pub mod book;
