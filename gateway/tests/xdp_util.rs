//! Shared by the AF_XDP tests (`xdp.rs`) and measurements (`xdp_bench.rs`): a veth pair
//! between two fresh network namespaces, code run inside a namespace, the privilege check.
//!
//! Each end lives in its own namespace, so nothing touches the host's interfaces or routes and
//! every run can use the same addresses. Code "runs in" a namespace by a helper thread that
//! `setns`es itself into it and opens the socket there; a socket keeps its namespace for life,
//! so the transport and the UDP socket are then used from the test's thread.
//!
//! Needs root (CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF) and iproute2's `ip`: without them the
//! tests FAIL, unless `MAM_SKIP_XDP=1` says to skip them.
#![cfg(target_os = "linux")]
#![allow(dead_code, missing_debug_implementations)]

use std::fs::File;
use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mam_core::event::{OrdType, Side};
use mam_core::num::{Price, Qty};
use mam_gateway::binary::codec::{AppMessage, CancelOrder, NewOrder};
use mam_gateway::transport::xdp::{XdpAttach, XdpConfig, XdpTransport};

pub const MAC_A: [u8; 6] = [0x02, 0x6d, 0x61, 0x6d, 0x00, 0x01];
pub const MAC_B: [u8; 6] = [0x02, 0x6d, 0x61, 0x6d, 0x00, 0x02];
pub const IP_A: [u8; 4] = [10, 77, 0, 1];
pub const IP_B: [u8; 4] = [10, 77, 0, 2];
/// How long a test waits for datagrams before it fails (a liveness bound, not a measurement).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// True if the test should run; panics with the reason if it cannot and was not told to skip.
pub fn privileged() -> bool {
    if std::env::var("MAM_SKIP_XDP").as_deref() == Ok("1") {
        eprintln!("AF_XDP test skipped: MAM_SKIP_XDP=1");
        return false;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let ip = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        root && ip,
        "the AF_XDP test needs root (CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF) and iproute2's `ip` \
         (root: {root}, ip found: {ip}); install iproute2 and run as root, or set \
         MAM_SKIP_XDP=1 to skip it on a machine that cannot"
    );
    true
}

pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "`ip {}` failed: {} (the AF_XDP test needs CAP_NET_ADMIN; MAM_SKIP_XDP=1 skips it)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Two namespaces joined by a veth pair: `if_a` (10.77.0.1) in `ns_a`, `if_b` (10.77.0.2) in
/// `ns_b`. Dropping it deletes both namespaces, which destroys the pair.
pub struct Veth {
    pub ns_a: String,
    pub ns_b: String,
    pub if_a: String,
}

impl Veth {
    pub fn create() -> Self {
        static RUN: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}x{}",
            std::process::id() % 100_000,
            RUN.fetch_add(1, Ordering::Relaxed)
        );
        let v = Veth {
            ns_a: format!("mamxdp{id}a"),
            ns_b: format!("mamxdp{id}b"),
            if_a: format!("mx{id}a"),
        };
        let if_b = format!("mx{id}b");
        let mac = |m: [u8; 6]| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        let (mac_a, mac_b) = (mac(MAC_A), mac(MAC_B));
        ip(&["netns", "add", &v.ns_a]);
        ip(&["netns", "add", &v.ns_b]);
        #[rustfmt::skip]
        ip(&["link", "add", &v.if_a, "address", &mac_a, "type", "veth",
             "peer", "name", &if_b, "address", &mac_b]);
        ip(&["link", "set", &v.if_a, "netns", &v.ns_a]);
        ip(&["link", "set", &if_b, "netns", &v.ns_b]);
        for (ns, dev, addr) in [
            (&v.ns_a, &v.if_a, "10.77.0.1/24"),
            (&v.ns_b, &if_b, "10.77.0.2/24"),
        ] {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        v
    }

    pub fn xdp_config(&self, port_a: u16, port_b: u16, attach: XdpAttach) -> XdpConfig {
        let mut cfg = XdpConfig::new(
            &self.if_a,
            SocketAddrV4::new(IP_A.into(), port_a),
            MAC_A,
            SocketAddrV4::new(IP_B.into(), port_b),
            MAC_B,
        );
        cfg.attach = attach;
        cfg
    }

    /// A UDP socket in `ns_b` on `port_b`, connected to 10.77.0.1:`port_a`.
    pub fn peer(&self, port_b: u16, port_a: u16) -> UdpSocket {
        in_ns(&self.ns_b, move || {
            let s = UdpSocket::bind(SocketAddrV4::new(IP_B.into(), port_b)).expect("bind peer");
            s.connect(SocketAddrV4::new(IP_A.into(), port_a))
                .expect("connect peer");
            s
        })
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        // If it never moved into its namespace.
        let _ = Command::new("ip")
            .args(["link", "del", &self.if_a])
            .output();
    }
}

/// Runs `f` on a thread that joined network namespace `ns` (sockets made there stay there).
pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // SAFETY: `file` is an open namespace file; setns changes only this thread's network
        // namespace, and this thread ends when `f` returns.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("namespace thread")
}

/// How an XDP program is attached to the namespace's `dev`, as `ip link` shows it.
pub fn xdp_attached(ns: &str, dev: &str) -> Option<XdpAttach> {
    let out = Command::new("ip")
        .args(["-n", ns, "link", "show", "dev", dev])
        .output()
        .expect("run ip");
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains(" xdpgeneric") {
        Some(XdpAttach::Generic)
    } else if text.contains(" xdp/") || text.contains(" xdp ") {
        Some(XdpAttach::Driver)
    } else {
        None
    }
}

pub fn open_xdp(net: &Veth, cfg: XdpConfig) -> XdpTransport {
    in_ns(&net.ns_a, move || XdpTransport::open(cfg)).expect("open the AF_XDP transport")
}

pub fn order(i: u64) -> AppMessage {
    if i % 5 == 4 {
        AppMessage::CancelOrder(CancelOrder {
            cl_ord_id: 1_000_000 + i,
            orig_cl_ord_id: 1_000_000 + i - 1,
            account: (i % 13) as u32,
            instrument: (i % 7) as u32,
            side: Side::Sell,
        })
    } else {
        AppMessage::NewOrder(NewOrder {
            cl_ord_id: 1_000_000 + i,
            account: (i % 13) as u32,
            instrument: (i % 7) as u32,
            price: Price::from_raw(1_085_000_000 + i as i64),
            qty: Qty::from_raw(100_000 * (1 + i as i64 % 9)),
            side: if i & 1 == 0 { Side::Buy } else { Side::Sell },
            ord_type: OrdType::Limit,
        })
    }
}
