//! Replaying a capture's UDP payloads to a socket at their recorded pace, scaled, or flat out
//! (what tcpreplay does, at the UDP layer: the payload is sent again, not the frame).
//!
//! Pacing: packet `i` leaves at `start + (ts_i − ts_0) / speed`, where `ts` is the capture
//! timestamp; the sender sleeps until shortly before that instant and spins the rest, so it
//! never sends early and a late packet is sent at once (no catch-up compression beyond
//! sending back to back). Every loop restarts the timeline. Only loopback destinations are
//! allowed unless the caller says otherwise.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::capture::{classify, Capture, CorruptRegion, ReadOptions};

/// A UDP payload with its capture time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Capture timestamp, ns since the epoch.
    pub ts_ns: u64,
    /// Destination in the capture.
    pub dst: SocketAddr,
    /// The payload.
    pub payload: Vec<u8>,
}

/// A capture's UDP datagrams, in file order.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The datagrams.
    pub datagrams: Vec<Datagram>,
    /// Frames that held no complete UDP datagram (skipped).
    pub skipped: u64,
    /// The capture ended inside a record.
    pub truncated: bool,
    /// Damaged stretches skipped (read leniently; a strict read refuses a damaged capture).
    pub corrupt_regions: Vec<CorruptRegion>,
}

/// Replay speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speed {
    /// Back to back, no pacing.
    Max,
    /// The recorded pace times `milli / 1000` (1000 = as recorded, 10000 = ten times faster).
    Times {
        /// Speed factor in thousandths.
        milli: u64,
    },
}

impl std::str::FromStr for Speed {
    type Err = ReplayError;
    /// `max`, or a factor with an `x`: `1x`, `10x`, `0.5x`.
    fn from_str(s: &str) -> Result<Self, ReplayError> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        let bad = || ReplayError::Speed(s.to_string());
        let f = s.strip_suffix(['x', 'X']).ok_or_else(bad)?;
        let milli = mam_core::num::parse_scaled(f, 3).map_err(|_| bad())?;
        if milli <= 0 {
            return Err(bad());
        }
        Ok(Speed::Times {
            milli: milli as u64,
        })
    }
}

/// Why a replay failed.
#[derive(Debug, Error)]
pub enum ReplayError {
    /// The capture could not be read.
    #[error(transparent)]
    Capture(#[from] crate::capture::CaptureError),
    /// A speed that is not `max` or `<factor>x`.
    #[error("speed `{0}` is not `max` or a positive factor like `1x`, `10x`, `0.5x`")]
    Speed(String),
    /// A non-loopback destination without permission.
    #[error("{0} is not a loopback address; pass --allow-remote to send off this host")]
    NotLoopback(SocketAddr),
    /// Sending failed.
    #[error("sending to {to}: {source}")]
    Io {
        /// Destination.
        to: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// Reads every UDP datagram of a pcap or pcapng file; damage in the middle of the file is an
/// error ([`crate::capture::CaptureError::Corrupt`]), never a silently shorter replay.
pub fn load_udp(path: &Path) -> Result<Loaded, ReplayError> {
    load_udp_with(path, ReadOptions::default())
}

/// [`load_udp`], reading as `opts` says (lenient: damage skipped and listed in
/// [`Loaded::corrupt_regions`]).
pub fn load_udp_with(path: &Path, opts: ReadOptions) -> Result<Loaded, ReplayError> {
    let cap = Capture::open(path)?;
    let mut frames = cap.frames_with(opts)?;
    let mut out = Loaded::default();
    for f in frames.by_ref() {
        match classify(&f) {
            Ok(d) => out.datagrams.push(Datagram {
                ts_ns: f.ts_ns,
                dst: d.dst,
                payload: d.payload.to_vec(),
            }),
            Err(_) => out.skipped += 1,
        }
    }
    if let Some(e) = frames.error() {
        return Err(e.into());
    }
    out.truncated = frames.truncated();
    out.corrupt_regions = frames.corrupt_regions().to_vec();
    Ok(out)
}

/// How to replay.
#[derive(Debug, Clone, Copy)]
pub struct ReplayOptions {
    /// Destination.
    pub to: SocketAddr,
    /// Pace.
    pub speed: Speed,
    /// Times through the capture (at least 1).
    pub loops: u32,
    /// Allow a destination that is not loopback.
    pub allow_remote: bool,
}

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Datagrams sent (copies included).
    pub packets: u64,
    /// Payload bytes sent.
    pub bytes: u64,
    /// Datagrams the filter dropped.
    pub filtered: u64,
    /// Extra copies the filter asked for.
    pub copies: u64,
    /// Wall time from the first send to the last.
    pub elapsed: Duration,
    /// Recorded span of one pass (last ts − first ts).
    pub recorded: Duration,
    /// Paced replays: the latest a datagram left after its scheduled instant (0 for `max`).
    pub max_late: Duration,
}

/// Sends `datagrams` to `opts.to`. `filter(index, payload)` says how many copies of each to
/// send (0 drops it, 2 duplicates it, as an A/B pair would); `gate(sent)` is called before
/// every send with the number sent so far and may wait (a back-channel for flow control).
pub fn replay(
    datagrams: &[Datagram],
    opts: &ReplayOptions,
    mut filter: impl FnMut(u64, &[u8]) -> u32,
    mut gate: impl FnMut(u64),
) -> Result<ReplayStats, ReplayError> {
    let to = opts.to;
    if !to.ip().is_loopback() && !opts.allow_remote {
        return Err(ReplayError::NotLoopback(to));
    }
    let io = |source| ReplayError::Io { to, source };
    let bind: SocketAddr = match (to.is_ipv4(), to.ip().is_loopback()) {
        (true, true) => ([127, 0, 0, 1], 0).into(),
        (true, false) => ([0, 0, 0, 0], 0).into(),
        (false, true) => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
        (false, false) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(bind).map_err(io)?;
    let _ = socket2::SockRef::from(&sock).set_send_buffer_size(4 << 20);
    let mut st = ReplayStats::default();
    let (Some(first), Some(last)) = (datagrams.first(), datagrams.last()) else {
        return Ok(st);
    };
    st.recorded = Duration::from_nanos(last.ts_ns.saturating_sub(first.ts_ns));
    let t_start = Instant::now();
    let mut index = 0u64;
    for _ in 0..opts.loops.max(1) {
        let t0 = Instant::now();
        for d in datagrams {
            let copies = filter(index, &d.payload);
            index += 1;
            if copies == 0 {
                st.filtered += 1;
                continue;
            }
            if let Speed::Times { milli } = opts.speed {
                let rel =
                    u128::from(d.ts_ns.saturating_sub(first.ts_ns)) * 1000 / u128::from(milli);
                let due = t0 + Duration::from_nanos(rel.min(u128::from(u64::MAX)) as u64);
                wait_until(due);
                st.max_late = st
                    .max_late
                    .max(Instant::now().saturating_duration_since(due));
            }
            for _ in 0..copies {
                gate(st.packets);
                send(&sock, &d.payload, to).map_err(io)?;
                st.packets += 1;
                st.bytes += d.payload.len() as u64;
            }
            st.copies += u64::from(copies - 1);
        }
    }
    st.elapsed = t_start.elapsed();
    Ok(st)
}

/// Sends one datagram; a full socket buffer (ENOBUFS on Linux) is retried after a yield.
fn send(sock: &UdpSocket, p: &[u8], to: SocketAddr) -> std::io::Result<()> {
    loop {
        match sock.send_to(p, to) {
            Ok(_) => return Ok(()),
            Err(e) if no_buffer_space(&e) || e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::yield_now()
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn no_buffer_space(e: &std::io::Error) -> bool {
    #[cfg(target_os = "linux")]
    return e.raw_os_error() == Some(libc::ENOBUFS);
    #[cfg(not(target_os = "linux"))]
    return false;
}

/// Sleeps until 200 µs before `t`, then spins.
fn wait_until(t: Instant) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        let left = t - now;
        if left > Duration::from_micros(200) {
            std::thread::sleep(left - Duration::from_micros(200));
        } else {
            std::hint::spin_loop();
        }
    }
}
