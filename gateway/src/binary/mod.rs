//! Binary order entry for co-located peers: the SBE schema `gateway/schema/mam-oe-sbe.xml`
//! (NewOrder, CancelOrder, ExecutionReport and FIXP-lite session messages), its zero-copy codec,
//! a memory-mapped sequence store, and the session that runs over any
//! [`Transport`](crate::transport::Transport) (shared-memory ring, UDP, TCP, pcap sink).

pub mod codec;
pub mod session;
pub mod store;

/// The schema XML, embedded so tools and tests can show or check it.
pub const SCHEMA_XML: &str = include_str!("../../schema/mam-oe-sbe.xml");
