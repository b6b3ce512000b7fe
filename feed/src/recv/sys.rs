//! Platform code, fenced here: the monotonic clock, socket options that socket2 does not wrap
//! (SO_BUSY_POLL, SO_TIMESTAMPNS, SO_RCVBUFFORCE) and `recvmsg` with the kernel's software
//! receive timestamp. Linux uses libc; elsewhere the options report `Unsupported` and receive
//! falls back to a plain `recv_from`.

use std::io;
use std::net::SocketAddr;

/// The host's monotonic clock: one copy, in `mam_core::sys`.
pub use mam_core::sys::mono_ns;

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use std::os::fd::{AsRawFd, RawFd};

    fn setsockopt_int(fd: RawFd, level: i32, name: i32, v: i32) -> io::Result<()> {
        // SAFETY: `v` lives across the call and its size is passed; `fd` is an open socket
        // owned by the caller (an invalid fd only makes the call fail with EBADF).
        let r = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&v as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    pub fn set_busy_poll<S: AsRawFd>(s: &S, micros: u32) -> io::Result<()> {
        setsockopt_int(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BUSY_POLL,
            micros.min(i32::MAX as u32) as i32,
        )
    }

    pub fn enable_rx_timestamps<S: AsRawFd>(s: &S) -> io::Result<()> {
        setsockopt_int(s.as_raw_fd(), libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)
    }

    pub fn force_recv_buffer<S: AsRawFd>(s: &S, bytes: usize) -> io::Result<()> {
        setsockopt_int(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            bytes.min(i32::MAX as usize) as i32,
        )
    }

    /// `recvmsg` into `buf`; returns the length, the sender, and the SCM_TIMESTAMPNS stamp
    /// (CLOCK_REALTIME ns) if the kernel attached one.
    pub fn recv_with_timestamp<S: AsRawFd>(
        s: &S,
        buf: &mut [u8],
    ) -> io::Result<(usize, Option<SocketAddr>, Option<u64>)> {
        let fd = s.as_raw_fd();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // Room for one timespec control message (u64 array for alignment).
        let mut control = [0u64; 8];
        // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        // SAFETY: msghdr is plain data; all-zero is a valid value, fields are set below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `msg` points at live, writable memory of the stated size
        // (`buf`, `addr`, `control`), all outliving the call.
        let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut ts = None;
        // SAFETY: CMSG_FIRSTHDR/NXTHDR walk the control buffer the kernel filled, bounded by
        // msg_controllen; the data is read unaligned as a timespec only for SCM_TIMESTAMPNS.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    ts = Some((t.tv_sec as u64).wrapping_mul(1_000_000_000) + t.tv_nsec as u64);
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok((n as usize, sockaddr_to_std(&addr), ts))
    }

    fn sockaddr_to_std(a: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match i32::from(a.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says this storage holds a sockaddr_in.
                let s: &libc::sockaddr_in =
                    unsafe { &*(a as *const _ as *const libc::sockaddr_in) };
                let ip = std::net::Ipv4Addr::from(u32::from_be(s.sin_addr.s_addr));
                Some(SocketAddr::from((ip, u16::from_be(s.sin_port))))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says this storage holds a sockaddr_in6.
                let s: &libc::sockaddr_in6 =
                    unsafe { &*(a as *const _ as *const libc::sockaddr_in6) };
                let ip = std::net::Ipv6Addr::from(s.sin6_addr.s6_addr);
                Some(SocketAddr::from((ip, u16::from_be(s.sin6_port))))
            }
            _ => None,
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::*;
    fn unsupported<T>() -> io::Result<T> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "only on Linux"))
    }
    pub fn set_busy_poll<S>(_: &S, _: u32) -> io::Result<()> {
        unsupported()
    }
    pub fn enable_rx_timestamps<S>(_: &S) -> io::Result<()> {
        unsupported()
    }
    pub fn force_recv_buffer<S>(_: &S, _: usize) -> io::Result<()> {
        unsupported()
    }
}

#[cfg(target_os = "linux")]
pub(crate) use imp::recv_with_timestamp;
pub(crate) use imp::{enable_rx_timestamps, force_recv_buffer, set_busy_poll};
