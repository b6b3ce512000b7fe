//! Packet captures in: classic pcap (µs or ns, either byte order, "modified" pcap) and pcapng,
//! both parsed with `pcap-parser` over one memory-mapped (or owned) byte buffer, so every frame
//! is a borrowed slice of the file (zero copy).
//!
//! A capture cut short in the middle of its last record (a writer killed) is read up to the
//! last complete record and reported as [`End::Truncated`], never refused. Damage in the
//! middle — a record length that cannot be right, a pcapng block whose trailer disagrees, a
//! record running past the end while records follow it — is corruption, not truncation: it
//! stops the reading with [`End::Corrupt`] (its byte offset and record number; as an error,
//! [`Frames::error`]), or, read with [`ReadOptions::lenient`], is skipped up to the next
//! plausible record and counted in [`Frames::corrupt_regions`].
//!
//! [`udp_payload`] takes a frame down to its UDP datagram (Ethernet with VLAN tags, Linux
//! cooked capture, raw IP; IPv4 and IPv6); [`classify`] says why a frame is not one.
//!
//! ```no_run
//! use mam_feed::capture::{Capture, udp_payload};
//! let cap = Capture::open("TOPS16.pcap").unwrap();
//! let mut frames = cap.frames().unwrap();
//! for f in &mut frames {
//!     if let Some(d) = udp_payload(&f) {
//!         println!("{} {} -> {} {} bytes", f.ts_ns, d.src, d.dst, d.payload.len());
//!     }
//! }
//! println!("{:?}", frames.end());
//! ```

mod net;
mod reader;
mod resync;
pub mod seq;
pub mod time;
#[allow(unused_macros, unused_imports)]
pub mod view;

pub use net::{classify, udp_payload, NotUdp, UdpDatagram, LINKTYPE_ETHERNET, LINKTYPE_RAW};
pub use reader::{
    Capture, CaptureError, Container, CorruptRegion, End, Frame, Frames, ReadOptions,
};
