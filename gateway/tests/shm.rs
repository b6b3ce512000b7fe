//! The shared-memory ring: framing, wrap-around, back-pressure, and a round trip between two
//! real processes (this test binary re-executes itself as the peer).

use std::process::{Command, Stdio};

use mam_gateway::transport::shm::{self, ShmError};
use mam_gateway::transport::{Transport, TransportError};

const CHILD_ENV: &str = "MAM_SHM_TEST_CHILD";
const MESSAGES: u32 = 20_000;

/// Message `i`: its index, then a length that varies so records wrap at every offset.
fn message(i: u32, buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&i.to_le_bytes());
    let extra = (i.wrapping_mul(2_654_435_761) % 301) as usize;
    buf.extend((0..extra).map(|k| (i as usize + k) as u8));
}

fn echo_of(msg: &[u8]) -> Vec<u8> {
    msg.iter().rev().map(|b| b ^ 0x5a).collect()
}

/// The peer: opens the ring file, echoes every message reversed and xored, exits when the
/// creator closes.
#[test]
fn child_role() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return; // Only active when re-executed by `two_processes_round_trip`.
    };
    let mut t = shm::open(&path).expect("child opens ring");
    let mut pending: Vec<Vec<u8>> = Vec::new();
    loop {
        match t.poll(&mut |m| pending.push(echo_of(m))) {
            Ok(_) => {}
            Err(TransportError::Closed) => break,
            Err(e) => panic!("child poll: {e}"),
        }
        let mut sent = 0;
        for m in &pending {
            match t.send(m) {
                Ok(()) => sent += 1,
                Err(e) if e.is_retryable() => break,
                Err(e) => panic!("child send: {e}"),
            }
        }
        pending.drain(..sent);
        t.flush().unwrap();
    }
    assert!(pending.is_empty(), "creator closed with echoes unsent");
}

#[test]
fn two_processes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring");
    // Small ring: 4 KiB per direction forces constant wrap-around and back-pressure.
    let mut t = shm::create(&path, 4096).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_role", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    let mut next_send = 0u32;
    let mut next_recv = 0u32;
    let mut buf = Vec::new();
    let mut expect = Vec::new();
    let mut back_pressure = 0u64;
    while next_recv < MESSAGES {
        while next_send < MESSAGES {
            message(next_send, &mut buf);
            match t.send(&buf) {
                Ok(()) => next_send += 1,
                Err(TransportError::WouldBlock { .. }) => {
                    back_pressure += 1;
                    break;
                }
                Err(e) => panic!("send: {e}"),
            }
        }
        t.flush().unwrap();
        let got = t
            .poll(&mut |m| {
                message(next_recv, &mut expect);
                assert_eq!(m, echo_of(&expect), "echo {next_recv}");
                next_recv += 1;
            })
            .unwrap();
        if got == 0 {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("child exited early with {status} after {next_recv} echoes");
            }
            std::thread::yield_now();
        }
    }
    assert!(
        back_pressure > 0,
        "a 4 KiB ring must push back at least once"
    );
    drop(t); // closes both rings: the child sees Closed and exits 0
    let status = child.wait().unwrap();
    assert!(status.success(), "child failed: {status}");
}

#[test]
fn framing_wrap_and_back_pressure_in_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring");
    let a = shm::create(&path, 4096).unwrap();
    let b = shm::open(&path).unwrap();
    let (mut tx, _a_rx) = a.split();
    let (_b_tx, mut rx) = b.split();
    assert_eq!(tx.max_message(), 2040);
    assert!(matches!(
        tx.claim(2041),
        Err(TransportError::TooLarge {
            len: 2041,
            max: 2040
        })
    ));
    // Fill until back-pressure: nothing is visible before flush.
    let mut n = 0u32;
    loop {
        match tx.claim(100) {
            Ok(slot) => {
                slot.fill(n as u8);
                slot[..4].copy_from_slice(&n.to_le_bytes());
                tx.commit(100).unwrap();
                n += 1;
            }
            Err(TransportError::WouldBlock { needed: 100 }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(n, 4096 / 104);
    assert_eq!(
        rx.poll(&mut |_| panic!("unflushed data visible")).unwrap(),
        0
    );
    assert_eq!(tx.flush(), n as usize * 104);
    let mut seen = 0u32;
    rx.poll(&mut |m| {
        assert_eq!(m.len(), 100);
        assert_eq!(u32::from_le_bytes(m[..4].try_into().unwrap()), seen);
        seen += 1;
    })
    .unwrap();
    assert_eq!(seen, n);
    // Claim open twice, shortened commit, abort.
    tx.claim(10).unwrap();
    assert!(matches!(tx.claim(10), Err(TransportError::ClaimOpen)));
    tx.abort();
    let slot = tx.claim(50).unwrap();
    slot[..3].copy_from_slice(b"abc");
    tx.commit(3).unwrap();
    // A record that cannot fit before the end wraps behind a PAD marker.
    let slot = tx.claim(2000).unwrap();
    slot.fill(7);
    tx.commit(2000).unwrap();
    tx.flush();
    let mut got = Vec::new();
    rx.poll(&mut |m| got.push(m.to_vec())).unwrap();
    assert_eq!(got, vec![b"abc".to_vec(), vec![7u8; 2000]]);
    drop(tx);
    assert!(matches!(rx.poll(&mut |_| {}), Err(TransportError::Closed)));
}

#[test]
fn bad_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    assert!(matches!(
        shm::create(&p, 5000),
        Err(ShmError::BadCapacity(5000))
    ));
    std::fs::write(&p, vec![0u8; 4096]).unwrap();
    assert!(matches!(
        shm::open(&p),
        Err(ShmError::BadFile { what: "magic", .. })
    ));
    std::fs::write(&p, b"short").unwrap();
    assert!(matches!(shm::open(&p), Err(ShmError::BadFile { .. })));
    assert!(matches!(
        shm::open(dir.path().join("missing")),
        Err(ShmError::Io { .. })
    ));
}
