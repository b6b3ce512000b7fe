//! `mam replay` end to end: the binary sends a real capture over loopback UDP into the mio
//! receiver of mam-feed, which counts every message and gap.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mam_feed::pcap_write::{PcapWriter, TsResolution};
use mam_feed::recv::{IexTpFraming, RecvStats, UdpConfig, UdpReceiver};

fn shared(rel: &str) -> PathBuf {
    mam_core::shared_data::expect_shared(rel)
}

fn mam() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mam"))
}

/// Starts a receiver; returns its port and a handle that yields (stats, messages walked) once
/// `expect_packets` packets were read, or fails after a hang guard.
fn receiver(expect_packets: u64) -> (u16, std::thread::JoinHandle<RecvStats>, Arc<AtomicBool>) {
    let mut cfg = UdpConfig::unicast("127.0.0.1:0".parse().unwrap());
    cfg.recv_buffer = 64 << 20;
    let mut rcv = UdpReceiver::bind(&cfg, IexTpFraming).unwrap();
    let port = rcv.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let h = std::thread::spawn(move || {
        let t0 = Instant::now();
        while rcv.stats().packets < expect_packets && !stop2.load(Ordering::Acquire) {
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "receiver hung: {:?}",
                rcv.stats()
            );
            rcv.poll(Some(Duration::from_millis(20)), &mut |_| {})
                .unwrap();
        }
        rcv.stats()
    });
    (port, h, stop)
}

#[test]
fn replays_tops16_into_a_mio_receiver() {
    let (port, h, _) = receiver(13_022);
    let out = mam()
        .args(["replay", shared("iex/TOPS16.pcap").to_str().unwrap()])
        .args([
            "--to",
            &format!("udp://127.0.0.1:{port}"),
            "--speed",
            "100x",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["packets"], 13_022);
    let loaded = mam_feed::replay::load_udp(&shared("iex/TOPS16.pcap")).unwrap();
    let bytes: usize = loaded.datagrams.iter().map(|d| d.payload.len()).sum();
    assert_eq!(v["bytes"], bytes as u64);
    // Recorded span is ~400 s; at 100x the replay takes at least 4 s of pacing.
    assert!(v["duration_s"].as_f64().unwrap() >= v["recorded_s"].as_f64().unwrap() / 100.0);
    let st = h.join().unwrap();
    assert_eq!(st.packets, 13_022);
    assert_eq!(st.seq.messages, 57_674);
    assert_eq!(st.seq.gaps, 0);
}

/// `--loop 2` sends the capture's sequence space again from its start, in the same session:
/// to a receiver that is exactly a publisher restarting its numbering, so it is one reset, its
/// messages kept (issue #10: a restart is a reset, not duplicates), and no gap.
#[test]
fn second_loop_is_a_reset() {
    // A small capture: the first 200 datagrams of TOPS16, written with the pcap writer.
    let loaded = mam_feed::replay::load_udp(&shared("iex/TOPS16.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.pcap");
    let mut w =
        PcapWriter::new(std::fs::File::create(&path).unwrap(), TsResolution::Micro).unwrap();
    let take = &loaded.datagrams[..200];
    for d in take {
        let std::net::SocketAddr::V4(dst) = d.dst else {
            panic!("v4")
        };
        w.write_udp(d.ts_ns, "10.0.0.1:1000".parse().unwrap(), dst, &d.payload)
            .unwrap();
    }
    w.finish().unwrap();
    let (port, h, _) = receiver(400);
    let out = mam()
        .args([
            "replay",
            path.to_str().unwrap(),
            "--speed",
            "max",
            "--loop",
            "2",
        ])
        .args(["--to", &format!("udp://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("replayed 400 packets"), "{text}");
    let st = h.join().unwrap();
    assert_eq!(st.packets, 400);
    assert_eq!(st.seq.resets, 1, "{:?}", st.seq);
    assert_eq!(st.seq.duplicate_packets, 0, "{:?}", st.seq);
    let once: u64 = take
        .iter()
        .map(|d| u64::from(u16::from_le_bytes([d.payload[14], d.payload[15]])))
        .sum();
    assert_eq!(
        st.seq.messages,
        2 * once,
        "both loops delivered: {:?}",
        st.seq
    );
    assert_eq!(st.seq.gaps, 0);
}

#[test]
fn refuses_remote_and_bad_arguments() {
    let f = shared("iex/TOPS16.pcap");
    let f = f.to_str().unwrap();
    let run = |args: &[&str]| {
        let o = mam().arg("replay").arg(f).args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--to", "udp://192.0.2.1:9"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a loopback address"), "{err}");
    let (code, err) = run(&["--to", "udp://127.0.0.1:9", "--speed", "fast"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("speed `fast`"), "{err}");
    let (code, err) = run(&["--to", "tcp://127.0.0.1:9"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("udp://"), "{err}");
    let o = mam()
        .args(["replay", "/nonexistent.pcap", "--to", "udp://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent.pcap"));
}
