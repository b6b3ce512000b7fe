//! Binary order entry for co-located peers: the SBE schema `gateway/schema/mam-oe-sbe.xml`
//! (NewOrder, CancelOrder, ExecutionReport and FIXP-lite session messages; since version 2 the
//! money manager's messages, [`master_msg`]), its zero-copy codec, a memory-mapped sequence
//! store, the session that runs over any [`Transport`](crate::transport::Transport)
//! (shared-memory ring, UDP, TCP through [`framed`], pcap sink). The daemon's second manager
//! edge, for co-located managers, is [`crate::manager::binary`] (`docs/binary-order-entry.md`).

pub mod codec;
pub mod framed;
pub mod master_msg;
pub mod session;
pub mod store;

/// The schema XML, embedded so tools and tests can show or check it.
pub const SCHEMA_XML: &str = include_str!("../../schema/mam-oe-sbe.xml");
