//! The XDP program that steers one UDP port into an XSKMAP, loaded with the `bpf()` syscall.
//!
//! Hand-assembled on purpose: building an eBPF object needs clang or `bpf-linker`, and neither
//! can be installed on this project's machines (only crates.io / Debian / PyPI packages are
//! reachable, and `bpf-linker` needs a matching LLVM toolchain). The program is 25 instructions,
//! the same logic as libxdp's default `xsk_def_prog` plus a port filter:
//!
//! ```text
//! if the frame is Ethernet / IPv4 (IHL 5, not a fragment) / UDP to `port`:
//!     return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS)
//! return XDP_PASS
//! ```
//!
//! Everything else (ARP, ICMP, other ports) goes on to the kernel stack, so the interface keeps
//! answering ARP for its address. The program is attached with a BPF link (`BPF_LINK_CREATE`,
//! Linux ≥ 5.9): closing the link's file descriptor detaches it, so a crashed process leaves
//! nothing behind on the interface.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
/// `enum bpf_attach_type`: `BPF_XDP`.
const BPF_XDP: u32 = 37;
/// `bpf_redirect_map` helper id.
const FN_REDIRECT_MAP: i32 = 51;
/// `BPF_PSEUDO_MAP_FD`: the 64-bit immediate is a map file descriptor.
const PSEUDO_MAP_FD: u8 = 1;
const XDP_PASS: i32 = 2;
/// Attach in generic (SKB) mode: works on any interface, veth included.
pub(super) const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// Attach in the driver (native) mode.
pub(super) const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// One `struct bpf_insn`: opcode, `dst | src << 4`, offset, immediate.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

// Opcodes (include/uapi/linux/bpf.h, bpf_common.h).
const LDX_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
const LDX_H: u8 = 0x69; // r_dst = *(u16 *)(r_src + off)
const LDX_B: u8 = 0x71; // r_dst = *(u8 *)(r_src + off)
const MOV_X: u8 = 0xbf; // r_dst = r_src (64-bit)
const MOV_K: u8 = 0xb7; // r_dst = imm
const ADD_K: u8 = 0x07; // r_dst += imm
const AND_K: u8 = 0x57; // r_dst &= imm
const JGT_X: u8 = 0x2d; // if r_dst > r_src goto +off
const JNE_K: u8 = 0x55; // if r_dst != imm goto +off
const LD_DW: u8 = 0x18; // r_dst = imm64 (two slots)
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;

/// The program for UDP destination port `port`, redirecting into the XSKMAP `map_fd`.
fn program(map_fd: RawFd, port: u16) -> [Insn; 25] {
    // Packet loads are little-endian: a big-endian field reads byte-swapped.
    let port_le = i32::from(port.swap_bytes());
    // Index of the `r0 = XDP_PASS` instruction.
    const PASS: i16 = 23;
    // Offset of a jump at index `at` to PASS (relative to the next instruction).
    const fn to_pass(at: i16) -> i16 {
        PASS - at - 1
    }
    [
        ins(MOV_X, 6, 1, 0, 0),                  // 0: r6 = ctx
        ins(LDX_W, 2, 6, 0, 0),                  // 1: r2 = ctx->data
        ins(LDX_W, 3, 6, 4, 0),                  // 2: r3 = ctx->data_end
        ins(MOV_X, 4, 2, 0, 0),                  // 3: r4 = data
        ins(ADD_K, 4, 0, 0, 42),                 // 4: r4 += eth + ipv4 + udp
        ins(JGT_X, 4, 3, to_pass(5), 0),         // 5: too short
        ins(LDX_H, 5, 2, 12, 0),                 // 6: ethertype
        ins(JNE_K, 5, 0, to_pass(7), 0x0008),    // 7: != 0x0800
        ins(LDX_B, 5, 2, 14, 0),                 // 8: version / IHL
        ins(JNE_K, 5, 0, to_pass(9), 0x45),      // 9: not IPv4 without options
        ins(LDX_H, 5, 2, 20, 0),                 // 10: flags / fragment offset
        ins(AND_K, 5, 0, 0, 0xff3f),             // 11: MF | offset (byte-swapped)
        ins(JNE_K, 5, 0, to_pass(12), 0),        // 12: a fragment
        ins(LDX_B, 5, 2, 23, 0),                 // 13: protocol
        ins(JNE_K, 5, 0, to_pass(14), 17),       // 14: not UDP
        ins(LDX_H, 5, 2, 36, 0),                 // 15: UDP destination port
        ins(JNE_K, 5, 0, to_pass(16), port_le),  // 16: not ours
        ins(LDX_W, 2, 6, 16, 0),                 // 17: r2 = ctx->rx_queue_index
        ins(LD_DW, 1, PSEUDO_MAP_FD, 0, map_fd), // 18: r1 = &xsks
        ins(0, 0, 0, 0, 0),                      // 19: (second half of the imm64)
        ins(MOV_K, 3, 0, 0, XDP_PASS),           // 20: no socket on the queue: pass
        ins(CALL, 0, 0, 0, FN_REDIRECT_MAP),     // 21: r0 = bpf_redirect_map(..)
        ins(EXIT, 0, 0, 0, 0),                   // 22
        ins(MOV_K, 0, 0, 0, XDP_PASS),           // 23: PASS
        ins(EXIT, 0, 0, 0, 0),                   // 24
    ]
}

#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

#[repr(C)]
#[derive(Default)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
}

/// `bpf(cmd, attr, sizeof attr)`; a new file descriptor for the commands that make one.
fn sys_bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusively borrowed `#[repr(C)]` struct without padding whose
    // layout is the prefix of `union bpf_attr` for `cmd`, and its size is passed with it; the
    // kernel reads (and for some commands writes) at most that many bytes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful bpf() call that creates a descriptor; no
    // one else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// An attached redirect program and its XSKMAP; dropping it detaches the program.
#[derive(Debug)]
pub(super) struct XskProgram {
    // Field order is drop order: detach first, then free the program and the map.
    _link: OwnedFd,
    _prog: OwnedFd,
    map: OwnedFd,
}

impl XskProgram {
    /// Loads the program for `port` with a map of `queues` entries and attaches it to
    /// `ifindex` with `flags` (`XDP_FLAGS_SKB_MODE` or `XDP_FLAGS_DRV_MODE`).
    pub(super) fn attach(ifindex: u32, port: u16, queues: u32, flags: u32) -> io::Result<Self> {
        let mut m = MapCreateAttr {
            map_type: BPF_MAP_TYPE_XSKMAP,
            key_size: 4,
            value_size: 4,
            max_entries: queues.max(1),
            ..MapCreateAttr::default()
        };
        m.map_name[..8].copy_from_slice(b"mam_xsks");
        let map = owned(sys_bpf(BPF_MAP_CREATE, &mut m)?);

        let insns = program(map.as_raw_fd(), port);
        const LICENSE: &CStr = c"Dual MIT/GPL";
        // The verifier's log, so a refused program says why (allocated once, at start-up).
        let mut log = vec![0u8; 64 * 1024];
        let mut p = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_XDP,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: LICENSE.as_ptr() as u64,
            log_level: 1,
            log_size: log.len() as u32,
            log_buf: log.as_mut_ptr() as u64,
            ..ProgLoadAttr::default()
        };
        p.prog_name[..8].copy_from_slice(b"mam_xsk\0");
        let prog = match sys_bpf(BPF_PROG_LOAD, &mut p) {
            Ok(fd) => owned(fd),
            Err(e) => {
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                let why = String::from_utf8_lossy(&log[..end]);
                return Err(io::Error::new(
                    e.kind(),
                    format!("loading the XDP program: {e}; verifier: {why}"),
                ));
            }
        };

        let mut l = LinkCreateAttr {
            prog_fd: prog.as_raw_fd() as u32,
            target_ifindex: ifindex,
            attach_type: BPF_XDP,
            flags,
        };
        let link = owned(sys_bpf(BPF_LINK_CREATE, &mut l).map_err(|e| {
            io::Error::new(e.kind(), format!("attaching XDP to ifindex {ifindex}: {e}"))
        })?);
        Ok(Self {
            _link: link,
            _prog: prog,
            map,
        })
    }

    /// Points entry `queue` of the XSKMAP at the AF_XDP socket `xsk_fd`.
    pub(super) fn insert(&self, queue: u32, xsk_fd: RawFd) -> io::Result<()> {
        let key = queue;
        let value = xsk_fd as u32;
        let mut a = MapElemAttr {
            map_fd: self.map.as_raw_fd() as u32,
            key: &key as *const u32 as u64,
            value: &value as *const u32 as u64,
            ..MapElemAttr::default()
        };
        sys_bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_on_pass_and_the_imm64_is_whole() {
        let p = program(7, 0x1234);
        for (i, insn) in p.iter().enumerate() {
            if insn.code == JNE_K || insn.code == JGT_X {
                assert_eq!(i as i16 + 1 + insn.off, 23, "jump at {i}");
            }
        }
        assert_eq!((p[23].code, p[23].imm), (MOV_K, XDP_PASS));
        assert_eq!(
            (p[18].code, p[18].imm, p[18].regs),
            (LD_DW, 7, 1 | (1 << 4))
        );
        assert_eq!(p[16].imm, 0x3412, "port compared byte-swapped");
    }
}
