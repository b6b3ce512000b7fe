//! FIX 4.4: codec, messages, the session layer and its memory-mapped store.
//!
//! - [`encode`]: messages written into caller-provided bytes, no heap allocation: the session's
//!   fixed header bytes are built once, the checksum runs as fields are written, integers and
//!   exact decimals ([`mam_core::num`]) are formatted by hand.
//! - [`decode`]: framing with BodyLength and CheckSum validation ([`decode::frame`]), then a
//!   single pass into borrowed field views ([`decode::Decoder`]).
//! - [`dict`]: the FIX 4.4 data dictionary (generated from the specification file at build
//!   time) that validates inbound messages.
//! - [`msg`]: the typed messages (admin and application) over those views.
//! - [`session`]: the session state machine (bytes in, bytes out, a clock value passed in),
//!   its [`store`] and the socket drivers for initiator and acceptor.
//! - [`convert`]: [`mam_core::event::ChildOrder`] → NewOrderSingle and ExecutionReport →
//!   [`mam_core::event::FillEvent`].
//!
//! `docs/fix.md` lists what is supported and the session rules.

pub mod alloc;
pub mod convert;
pub mod decode;
pub mod dict;
pub mod encode;
pub mod msg;
pub mod num;
pub mod session;
pub mod store;
pub mod tag;
pub mod time;

/// The field delimiter.
pub const SOH: u8 = 0x01;
/// The BeginString this crate speaks.
pub const BEGIN_FIX44: &[u8] = b"FIX.4.4";
/// FIX 4.2, which many FX LPs still speak: LP sessions can use it (`LpOptions::begin_string`);
/// the session layer is the same, a NewOrderSingle also carries HandlInst (21), required in 4.2.
pub const BEGIN_FIX42: &[u8] = b"FIX.4.2";
