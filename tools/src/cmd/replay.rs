//! `mam replay FILE --to udp://127.0.0.1:PORT [--speed max|1x|10x] [--loop N]`: sends a
//! capture's UDP payloads at their recorded pace (or scaled, or flat out), like tcpreplay.
//!
//! `mam replay FILE --serve soup://127.0.0.1:PORT [--speed ..] [--clients N] [--session NAME]`:
//! serves the capture's mam SBE messages over SoupBinTCP 4.0, one message per soup sequence
//! number, to client after client, each from the number it asks for (how a restarted daemon
//! resumes its feed).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use mam_feed::capture::ReadOptions;
use mam_feed::replay::{self, ReplayOptions, Speed};
use mam_feed::soup::{self, ServerConfig, SoupServer};

/// Arguments of `mam replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Capture to replay (pcap or pcapng; its UDP payloads are sent).
    pub file: PathBuf,
    /// Destination, `udp://HOST:PORT` (loopback only unless --allow-remote).
    #[arg(long, required_unless_present = "serve", conflicts_with = "serve")]
    pub to: Option<String>,
    /// Serve over SoupBinTCP instead: listen on `soup://HOST:PORT` (port 0 picks one).
    #[arg(long)]
    pub serve: Option<String>,
    /// With --serve: stop after N logged-in clients have come and gone (default: until killed).
    #[arg(long)]
    pub clients: Option<u64>,
    /// With --serve: session name (default: the capture's SBE session, else MAM).
    #[arg(long)]
    pub session: Option<String>,
    /// With --serve: username clients must give (default: any).
    #[arg(long)]
    pub username: Option<String>,
    /// With --serve: password clients must give (default: any).
    #[arg(long)]
    pub password: Option<String>,
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
    /// Skip damaged stretches in the middle of the capture (counted, reported on stderr)
    /// instead of refusing it.
    #[arg(long)]
    pub lenient: bool,
}

fn parse_addr(flag: &str, scheme: &str, v: &str) -> anyhow::Result<SocketAddr> {
    let Some(hp) = v.strip_prefix(scheme) else {
        bail!("{flag} `{v}`: expected {scheme}HOST:PORT");
    };
    hp.to_socket_addrs()
        .with_context(|| format!("{flag} `{v}`: not a HOST:PORT"))?
        .next()
        .with_context(|| format!("{flag} `{v}`: resolves to no address"))
}

/// Runs `mam replay`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if let Some(serve) = a.serve.clone() {
        return run_serve(a, &serve);
    }
    if a.clients.is_some() || a.session.is_some() || a.username.is_some() || a.password.is_some() {
        bail!("--clients, --session, --username and --password apply to --serve only");
    }
    let Some(to) = a.to.as_deref() else {
        bail!("give --to udp://HOST:PORT or --serve soup://HOST:PORT");
    };
    let to = parse_addr("--to", "udp://", to)?;
    let speed: Speed = a.speed.parse()?;
    if a.loops == 0 {
        bail!("--loop must be at least 1");
    }
    if !to.ip().is_loopback() && !a.allow_remote {
        bail!("{to} is not a loopback address; pass --allow-remote to send off this host");
    }
    let loaded = replay::load_udp_with(&a.file, ReadOptions { lenient: a.lenient })?;
    for r in &loaded.corrupt_regions {
        eprintln!(
            "mam replay: {}: damaged at byte {} (record {}): {}; {} bytes skipped (--lenient)",
            a.file.display(),
            r.offset,
            r.frame,
            r.why,
            r.len
        );
    }
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

/// `--serve soup://HOST:PORT`: the SoupBinTCP server, until killed or `--clients` served.
fn run_serve(a: Args, serve: &str) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let addr = parse_addr("--serve", "soup://", serve)?;
    let speed: Speed = a.speed.parse()?;
    if a.loops != 1 {
        bail!("--loop applies to --to only: a soup client asks for the messages it wants");
    }
    if !addr.ip().is_loopback() && !a.allow_remote {
        bail!("{addr} is not a loopback address; pass --allow-remote to serve off this host");
    }
    let msgs = soup::load_capture_with(&a.file, ReadOptions { lenient: a.lenient })?;
    if msgs.corrupt_regions > 0 {
        eprintln!(
            "mam replay: {}: {} damaged stretches skipped (--lenient)",
            a.file.display(),
            msgs.corrupt_regions
        );
    }
    if msgs.truncated {
        eprintln!(
            "mam replay: {}: capture cut short; serving its complete records",
            a.file.display()
        );
    }
    let session = a
        .session
        .clone()
        .or_else(|| msgs.session_name())
        .unwrap_or_else(|| "MAM".into());
    let mut cfg = ServerConfig::new(addr);
    cfg.allow_remote = a.allow_remote;
    cfg.session = session.clone();
    cfg.username = a.username.clone();
    cfg.password = a.password.clone();
    cfg.speed = speed;
    cfg.max_clients = a.clients;
    let n = msgs.messages.len();
    let (not_sbe, skipped) = (msgs.not_sbe, msgs.skipped_frames);
    let mut server = SoupServer::bind(cfg, msgs.messages)?;
    let bound = server.local_addr()?;
    println!(
        "serving {n} messages on soup://{bound} (session {session}, speed {})",
        a.speed
    );
    std::io::stdout().flush()?;
    let t0 = std::time::Instant::now();
    let st = server.run()?;
    let secs = t0.elapsed().as_secs_f64();
    if a.json {
        let v = serde_json::json!({
            "file": a.file.display().to_string(),
            "serve": format!("soup://{bound}"),
            "session": session,
            "speed": a.speed,
            "messages_per_client": n,
            "connections": st.connections,
            "logins": st.logins,
            "clients_served": st.served,
            "rejected": st.rejected,
            "protocol_errors": st.protocol_errors,
            "logouts": st.logouts,
            "timeouts": st.timeouts,
            "messages_sent": st.messages,
            "bytes": st.bytes,
            "heartbeats": st.heartbeats,
            "client_heartbeats": st.client_heartbeats,
            "malformed_from_clients": st.malformed,
            "end_of_session": st.end_of_session,
            "not_sbe_payloads": not_sbe,
            "skipped_frames": skipped,
            "duration_s": secs,
        });
        println!("{v}");
    } else {
        println!(
            "served {} client(s) ({} logins, {} rejected, {} logged out, {} timed out) in \
             {secs:.3} s: {} messages, {} bytes, {} heartbeats sent, {} received, {} End of \
             Session; {} non-SBE payloads and {} non-UDP frames skipped",
            st.served,
            st.logins,
            st.rejected,
            st.logouts,
            st.timeouts,
            st.messages,
            st.bytes,
            st.heartbeats,
            st.client_heartbeats,
            st.end_of_session,
            not_sbe,
            skipped
        );
    }
    Ok(ExitCode::SUCCESS)
}
