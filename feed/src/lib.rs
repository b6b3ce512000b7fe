//! mam-feed: market data in (wire formats, captures, receivers, books).
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
pub mod book;
pub mod capture;
pub mod dukascopy;
pub mod every_venue;
pub mod fxbook;
pub mod iex;
pub mod inspect;
pub mod itch;
pub mod mdp3;
pub mod pcap_write;
pub mod recv;
pub mod replay;
pub mod sbe;
pub mod soup;
