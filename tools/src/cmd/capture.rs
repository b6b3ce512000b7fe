//! `mam capture`: look into market-data captures.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use mam_feed::capture::ReadOptions;
use mam_feed::inspect::{inspect_path_with, Format, Report};

/// Subcommands of `mam capture`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print what a capture holds: format, frames, messages by type, gaps, duplicates, time span.
    Inspect(InspectArgs),
    /// Convert historical data into a capture of mam's own SBE feed.
    Convert(super::capture_convert::Args),
}

/// `mam capture inspect FILE [--json] [--format F]`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// A pcap, pcapng or ITCH 5.0 BinaryFILE.
    pub file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Force the wire format instead of detecting it.
    #[arg(long, value_parser = ["mam-sbe", "iex-tp", "itch50", "mdp3"])]
    pub format: Option<String>,
    /// Skip damaged stretches in the middle of the file (counted and reported) instead of
    /// refusing the capture.
    #[arg(long)]
    pub lenient: bool,
}

/// Runs `mam capture`.
pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Inspect(a) => inspect(a),
        Command::Convert(a) => super::capture_convert::run(a),
    }
}

fn inspect(a: InspectArgs) -> anyhow::Result<ExitCode> {
    let format = a.format.as_deref().and_then(Format::parse);
    let opts = ReadOptions { lenient: a.lenient };
    let r = inspect_path_with(&a.file, format, opts)
        .with_context(|| format!("inspecting {}", a.file.display()))?;
    if format.is_some() && r.messages == 0 && r.bad_packets > 0 {
        // A forced format that decodes nothing is the wrong format, not an empty capture: say
        // so, and what the capture looks like, instead of a report of bad packets and exit 0.
        let detected = inspect_path_with(&a.file, None, opts)
            .ok()
            .filter(|d| d.messages > 0)
            .map_or(String::new(), |d| {
                format!("; detected without --format: {}", d.format)
            });
        anyhow::bail!(
            "{}: --format {}: none of its {} packets decodes as {}{detected}",
            a.file.display(),
            r.format,
            r.bad_packets,
            r.format
        );
    }
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        print_text(&a.file, &r);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_text(path: &std::path::Path, r: &Report) {
    println!("{}", path.display());
    println!("  format      {} in {}", r.format, r.container);
    println!(
        "  frames      {}{}",
        r.frames,
        if r.truncated {
            " (file truncated: read up to the last complete record)"
        } else {
            ""
        }
    );
    if r.corrupt_regions > 0 {
        println!(
            "  damaged     {} stretches, {} bytes skipped (--lenient)",
            r.corrupt_regions, r.skipped_bytes
        );
    }
    println!("  messages    {}", r.messages);
    let unit = if r.format == "mdp3" {
        "packets"
    } else {
        "messages"
    };
    println!("  gaps        {} ({} {unit} missing)", r.gaps, r.missing);
    println!(
        "  duplicates  {} messages in {} packets dropped",
        r.duplicates, r.duplicate_packets
    );
    if r.resets > 0 {
        println!(
            "  resets      {} (the publisher restarted its sequence numbers; messages kept)",
            r.resets
        );
    }
    println!("  symbols     {}", r.symbols);
    if let (Some(a), Some(b)) = (&r.first_ts, &r.last_ts) {
        println!("  time        {a} .. {b}");
    }
    let mut types: Vec<_> = r.by_type.iter().collect();
    types.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("  by type");
    for (k, v) in types {
        println!("    {k:>4} {v:>10}");
    }
    if r.bad_packets > 0 || !r.bad_messages.is_empty() {
        println!(
            "  bad packets {}  bad messages {:?}",
            r.bad_packets, r.bad_messages
        );
    }
    if !r.non_udp_frames.is_empty() {
        println!("  non-UDP frames {:?}", r.non_udp_frames);
    }
    if let Some(z) = r.zero_length_prefixes.filter(|z| *z > 0) {
        println!("  {z} records had a zero length prefix and were read by message type");
    }
}
