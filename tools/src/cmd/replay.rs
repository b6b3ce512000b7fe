//! `mam replay FILE --to udp://127.0.0.1:PORT [--speed max|1x|10x] [--loop N]`: sends a
//! capture's UDP payloads at their recorded pace (or scaled, or flat out), like tcpreplay.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use mam_feed::replay::{self, ReplayOptions, Speed};

/// Arguments of `mam replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Capture to replay (pcap or pcapng; its UDP payloads are sent).
    pub file: PathBuf,
    /// Destination, `udp://HOST:PORT` (loopback only unless --allow-remote).
    #[arg(long)]
    pub to: String,
    /// `max` (back to back), or a factor of the recorded pace: `1x`, `10x`, `0.5x`.
    #[arg(long, default_value = "1x")]
    pub speed: String,
    /// Times through the capture.
    #[arg(long = "loop", default_value_t = 1)]
    pub loops: u32,
    /// Allow a destination that is not a loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn parse_to(to: &str) -> anyhow::Result<SocketAddr> {
    let Some(hp) = to.strip_prefix("udp://") else {
        bail!("--to `{to}`: expected udp://HOST:PORT");
    };
    hp.to_socket_addrs()
        .with_context(|| format!("--to `{to}`: not a HOST:PORT"))?
        .next()
        .with_context(|| format!("--to `{to}`: resolves to no address"))
}

/// Runs `mam replay`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let to = parse_to(&a.to)?;
    let speed: Speed = a.speed.parse()?;
    if a.loops == 0 {
        bail!("--loop must be at least 1");
    }
    if !to.ip().is_loopback() && !a.allow_remote {
        bail!("{to} is not a loopback address; pass --allow-remote to send off this host");
    }
    let loaded = replay::load_udp(&a.file)?;
    if loaded.truncated {
        eprintln!(
            "mam replay: {}: capture cut short; replaying its complete records",
            a.file.display()
        );
    }
    let opts = ReplayOptions {
        to,
        speed,
        loops: a.loops,
        allow_remote: a.allow_remote,
    };
    let st = replay::replay(&loaded.datagrams, &opts, |_, _| 1, |_| {})?;
    let secs = st.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        st.packets as f64 / secs
    } else {
        0.0
    };
    if a.json {
        let v = serde_json::json!({
            "file": a.file.display().to_string(),
            "to": to.to_string(),
            "speed": a.speed,
            "loops": a.loops,
            "packets": st.packets,
            "bytes": st.bytes,
            "skipped_frames": loaded.skipped,
            "truncated": loaded.truncated,
            "duration_s": secs,
            "recorded_s": st.recorded.as_secs_f64(),
            "packets_per_s": rate,
            "max_late_us": st.max_late.as_secs_f64() * 1e6,
        });
        println!("{v}");
    } else {
        println!(
            "replayed {} packets, {} bytes to {to} in {secs:.3} s ({rate:.0} packets/s; \
             recorded span {:.3} s, speed {}, {} loop(s); latest send {:.0} µs behind schedule; \
             {} non-UDP frames skipped)",
            st.packets,
            st.bytes,
            st.recorded.as_secs_f64(),
            a.speed,
            a.loops,
            st.max_late.as_secs_f64() * 1e6,
            loaded.skipped
        );
    }
    Ok(ExitCode::SUCCESS)
}
