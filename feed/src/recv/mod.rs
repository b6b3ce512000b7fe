//! Live input: mio receivers (UDP unicast and multicast, TCP), receive stamping, sequence
//! gap detection and A/B duplicate dropping.

pub mod seq;
