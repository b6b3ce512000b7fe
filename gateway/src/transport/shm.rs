//! A shared-memory transport: two single-producer/single-consumer byte rings in one
//! memory-mapped file, one per direction, for co-located peers in different processes.
//!
//! # File layout
//!
//! ```text
//! 0      file header (128 B): magic, version, ring capacity, ready flag
//! 128    ring 0 (creator → opener): head line (128 B), tail line (128 B), flags line (128 B),
//!        then `capacity` data bytes
//! ...    ring 1 (opener → creator): same shape
//! ```
//!
//! `head` (bytes ever published by the producer) and `tail` (bytes ever consumed) are
//! free-running `u64` counters, each alone on a 128-byte line (two 64-byte lines: adjacent-line
//! prefetch would otherwise share them). The producer publishes with a `Release` store of `head`
//! and the consumer reads it with `Acquire`, so every byte written before the store is visible
//! after the load; `tail` goes the other way the same way. Each side keeps a cached copy of the
//! other's counter and reloads it only when the ring looks full (producer) or empty (consumer).
//!
//! # Framing
//!
//! A record is a little-endian `u32` payload length, the payload, and padding to 8 bytes. A
//! record never wraps: when it does not fit before the end of the data area the producer writes
//! the [`PAD`] marker and the record starts at offset 0. Payloads are limited to
//! `capacity / 2 - 8` bytes so a record always fits once the consumer has caught up.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use memmap2::MmapMut;
use thiserror::Error;

use super::{Transport, TransportError};

/// File magic: "MAMSHMR1".
pub const MAGIC: u64 = u64::from_le_bytes(*b"MAMSHMR1");
/// Layout version.
pub const VERSION: u32 = 1;
/// Length-word value that means "skip to the start of the data area".
pub const PAD: u32 = u32::MAX;
const LINE: usize = 128;
const FILE_HEADER: usize = LINE;
const RING_CONTROL: usize = 3 * LINE;
const RECORD_HEADER: usize = 4;
const ALIGN: usize = 8;
/// Smallest ring capacity accepted.
pub const MIN_CAPACITY: usize = 4096;

/// Why a shared-memory ring could not be created or opened.
#[derive(Debug, Error)]
pub enum ShmError {
    /// Capacity not a power of two in `[MIN_CAPACITY, 2^31]`.
    #[error("ring capacity {0} must be a power of two between 4096 and 2^31")]
    BadCapacity(usize),
    /// File I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The ring file.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a ring of this version (or not initialised yet).
    #[error("{path}: not a mam shared-memory ring ({what})")]
    BadFile {
        /// The ring file.
        path: PathBuf,
        /// What did not match.
        what: &'static str,
    },
}

#[repr(C)]
struct FileHeader {
    magic: AtomicU64,
    version: AtomicU32,
    rings: AtomicU32,
    capacity: AtomicU64,
}

/// Aligned payload record size for a `len`-byte message.
fn record_size(len: usize) -> usize {
    (RECORD_HEADER + len + ALIGN - 1) & !(ALIGN - 1)
}

/// Total file size for two rings of `capacity` data bytes.
pub fn file_size(capacity: usize) -> usize {
    FILE_HEADER + 2 * (RING_CONTROL + capacity)
}

/// Pointers into one ring of a live mapping. Holds the mapping alive through `_map`.
#[derive(Clone)]
struct RingView {
    _map: Arc<MmapMut>,
    head: *const AtomicU64,
    tail: *const AtomicU64,
    producer_closed: *const AtomicU32,
    consumer_closed: *const AtomicU32,
    data: *mut u8,
    cap: usize,
}

// SAFETY: the raw pointers point into the `MmapMut` kept alive by `_map`; all shared state they
// reach is either atomics or data bytes whose ownership the SPSC head/tail protocol hands over
// with Release/Acquire ordering, so moving a view to another thread is sound.
unsafe impl Send for RingView {}

impl RingView {
    /// # Safety
    /// `map` must be at least `file_size(cap)` bytes and `ring < 2`.
    unsafe fn new(map: &Arc<MmapMut>, ring: usize, cap: usize) -> Self {
        let base = map.as_ptr() as *mut u8;
        let off = FILE_HEADER + ring * (RING_CONTROL + cap);
        // SAFETY: the caller guarantees the mapping covers `file_size(cap)`, so every offset
        // below stays inside it; the mapping is page-aligned and offsets are multiples of 128,
        // so the atomics are properly aligned.
        unsafe {
            Self {
                _map: Arc::clone(map),
                head: base.add(off) as *const AtomicU64,
                tail: base.add(off + LINE) as *const AtomicU64,
                producer_closed: base.add(off + 2 * LINE) as *const AtomicU32,
                consumer_closed: base.add(off + 2 * LINE + 4) as *const AtomicU32,
                data: base.add(off + RING_CONTROL),
                cap,
            }
        }
    }
    fn head(&self) -> &AtomicU64 {
        // SAFETY: aligned, in bounds of the live mapping (see `new`), only accessed atomically.
        unsafe { &*self.head }
    }
    fn tail(&self) -> &AtomicU64 {
        // SAFETY: as for `head`.
        unsafe { &*self.tail }
    }
    fn producer_closed(&self) -> &AtomicU32 {
        // SAFETY: as for `head`.
        unsafe { &*self.producer_closed }
    }
    fn consumer_closed(&self) -> &AtomicU32 {
        // SAFETY: as for `head`.
        unsafe { &*self.consumer_closed }
    }
}

fn map_file(path: &Path, create: Option<usize>) -> Result<(Arc<MmapMut>, usize), ShmError> {
    let io = |source| ShmError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create.is_some())
        .truncate(create.is_some())
        .open(path)
        .map_err(io)?;
    if let Some(cap) = create {
        file.set_len(file_size(cap) as u64).map_err(io)?;
    }
    let len = file.metadata().map_err(io)?.len() as usize;
    if len < FILE_HEADER {
        return Err(ShmError::BadFile {
            path: path.to_path_buf(),
            what: "shorter than its header",
        });
    }
    // SAFETY: the file is shared only with the peer process that follows this module's
    // protocol (atomics for control words, SPSC ownership for data bytes); nobody truncates
    // it while mapped. That is the documented contract of a ring file.
    let map = unsafe { MmapMut::map_mut(&file) }.map_err(io)?;
    Ok((Arc::new(map), len))
}

fn header(map: &MmapMut) -> &FileHeader {
    // SAFETY: the mapping is page-aligned and at least FILE_HEADER bytes (checked by
    // `map_file`); FileHeader is 24 bytes of atomics, valid for any bit pattern.
    unsafe { &*(map.as_ptr() as *const FileHeader) }
}

/// Creates a ring file at `path` (truncating it) with `capacity` data bytes per direction,
/// returning the creator's end: it produces into ring 0 and consumes ring 1.
pub fn create(path: impl AsRef<Path>, capacity: usize) -> Result<ShmTransport, ShmError> {
    let path = path.as_ref();
    if !capacity.is_power_of_two() || !(MIN_CAPACITY..=1 << 31).contains(&capacity) {
        return Err(ShmError::BadCapacity(capacity));
    }
    let (map, _) = map_file(path, Some(capacity))?;
    let h = header(&map);
    h.version.store(VERSION, Ordering::Relaxed);
    h.rings.store(2, Ordering::Relaxed);
    h.capacity.store(capacity as u64, Ordering::Relaxed);
    // Magic last, Release: an opener that sees it sees the rest (ring words are zero already).
    h.magic.store(MAGIC, Ordering::Release);
    // SAFETY: the file was sized to `file_size(capacity)` above.
    let (tx, rx) = unsafe {
        (
            RingView::new(&map, 0, capacity),
            RingView::new(&map, 1, capacity),
        )
    };
    Ok(ShmTransport::new(tx, rx))
}

/// Opens a ring file made by [`create`], returning the opener's end (produces into ring 1,
/// consumes ring 0). Fails with [`ShmError::BadFile`] until the creator has finished. An opener
/// that restarts may open the same file again: it resumes at the persisted head and tail (at
/// most one opener at a time).
pub fn open(path: impl AsRef<Path>) -> Result<ShmTransport, ShmError> {
    let path = path.as_ref();
    let (map, len) = map_file(path, None)?;
    let bad = |what| ShmError::BadFile {
        path: path.to_path_buf(),
        what,
    };
    let h = header(&map);
    if h.magic.load(Ordering::Acquire) != MAGIC {
        return Err(bad("magic"));
    }
    if h.version.load(Ordering::Relaxed) != VERSION || h.rings.load(Ordering::Relaxed) != 2 {
        return Err(bad("version"));
    }
    let cap = h.capacity.load(Ordering::Relaxed) as usize;
    if !cap.is_power_of_two() || cap < MIN_CAPACITY || len < file_size(cap) {
        return Err(bad("capacity or file length"));
    }
    // SAFETY: `len >= file_size(cap)` was checked just above.
    let (rx, tx) = unsafe { (RingView::new(&map, 0, cap), RingView::new(&map, 1, cap)) };
    // Re-attach after a restart: this end is alive again. Head and tail persist in the file,
    // so the new process resumes exactly where the old one published and consumed.
    tx.producer_closed().store(0, Ordering::Release);
    rx.consumer_closed().store(0, Ordering::Release);
    Ok(ShmTransport::new(tx, rx))
}

/// The writing end of one ring.
pub struct ShmProducer {
    ring: RingView,
    /// Local head: includes committed but unflushed records.
    head: u64,
    /// Head as last published (flushed).
    published: u64,
    /// Cached consumer tail.
    tail_cache: u64,
    /// Open claim: (record start offset in data, pad bytes before it, claimed len).
    claim: Option<(usize, usize, usize)>,
}

impl std::fmt::Debug for ShmProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShmProducer")
            .field("cap", &self.ring.cap)
            .field("head", &self.head)
            .field("published", &self.published)
            .finish()
    }
}

impl ShmProducer {
    fn new(ring: RingView) -> Self {
        let head = ring.head().load(Ordering::Acquire);
        let tail_cache = ring.tail().load(Ordering::Acquire);
        Self {
            ring,
            head,
            published: head,
            tail_cache,
            claim: None,
        }
    }

    /// Largest payload one record can carry.
    pub fn max_message(&self) -> usize {
        self.ring.cap / 2 - ALIGN
    }

    /// Claims `len` bytes for the next record.
    pub fn claim(&mut self, len: usize) -> Result<&mut [u8], TransportError> {
        if self.claim.is_some() {
            return Err(TransportError::ClaimOpen);
        }
        if len > self.max_message() {
            return Err(TransportError::TooLarge {
                len,
                max: self.max_message(),
            });
        }
        if self.ring.consumer_closed().load(Ordering::Relaxed) != 0 {
            return Err(TransportError::Closed);
        }
        let cap = self.ring.cap;
        let idx = (self.head as usize) & (cap - 1);
        let rec = record_size(len);
        let pad = if rec > cap - idx { cap - idx } else { 0 };
        let need = (pad + rec) as u64;
        if self.head.wrapping_sub(self.tail_cache) + need > cap as u64 {
            self.tail_cache = self.ring.tail().load(Ordering::Acquire);
            let used = self.head.wrapping_sub(self.tail_cache);
            if used > cap as u64 {
                return Err(corrupt("consumer tail outside the ring"));
            }
            if used + need > cap as u64 {
                return Err(TransportError::WouldBlock { needed: len });
            }
        }
        let start = (idx + pad) & (cap - 1);
        self.claim = Some((start, pad, len));
        // SAFETY: bytes [start, start + rec) lie in the data area (start + rec <= cap because a
        // record never wraps) and in the free part of the ring (checked against the consumer's
        // Acquire-loaded tail above), so the consumer does not read them until we publish a
        // head past them; this producer is the only writer. The borrow is tied to `&mut self`.
        Ok(unsafe {
            std::slice::from_raw_parts_mut(self.ring.data.add(start + RECORD_HEADER), len)
        })
    }

    /// Commits the open claim shortened to `len` bytes (visible to the consumer at `flush`).
    pub fn commit(&mut self, len: usize) -> Result<(), TransportError> {
        let Some((start, pad, claimed)) = self.claim.take() else {
            return Err(TransportError::Io(std::io::Error::other(
                "commit without a claim",
            )));
        };
        if len > claimed {
            self.claim = Some((start, pad, claimed));
            return Err(TransportError::TooLarge { len, max: claimed });
        }
        let data = self.ring.data;
        let idx = (self.head as usize) & (self.ring.cap - 1);
        // SAFETY: `idx` and `start` are record starts inside the free region owned by the
        // producer (see `claim`); both are 8-aligned and at least 8 bytes precede the data end,
        // so each 4-byte word write is in bounds and aligned.
        unsafe {
            if pad > 0 {
                (data.add(idx) as *mut u32).write(PAD.to_le());
            }
            (data.add(start) as *mut u32).write((len as u32).to_le());
        }
        self.head += (pad + record_size(len)) as u64;
        Ok(())
    }

    /// Drops the open claim.
    pub fn abort(&mut self) {
        self.claim = None;
    }

    /// Publishes every committed record with one Release store; returns the bytes published.
    pub fn flush(&mut self) -> usize {
        let n = (self.head - self.published) as usize;
        if n > 0 {
            self.ring.head().store(self.head, Ordering::Release);
            self.published = self.head;
        }
        n
    }
}

impl Drop for ShmProducer {
    fn drop(&mut self) {
        self.flush();
        self.ring.producer_closed().store(1, Ordering::Release);
    }
}

/// The reading end of one ring.
pub struct ShmConsumer {
    ring: RingView,
    tail: u64,
    head_cache: u64,
}

impl std::fmt::Debug for ShmConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShmConsumer")
            .field("cap", &self.ring.cap)
            .field("tail", &self.tail)
            .finish()
    }
}

fn corrupt(what: &str) -> TransportError {
    TransportError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("shared-memory ring corrupt: {what}"),
    ))
}

impl ShmConsumer {
    fn new(ring: RingView) -> Self {
        let tail = ring.tail().load(Ordering::Acquire);
        Self {
            ring,
            tail,
            head_cache: tail,
        }
    }

    /// Hands every published record to `on_recv`, then releases their space with one Release
    /// store of `tail`. Returns the number of records; [`TransportError::Closed`] once the
    /// producer has gone and everything it published was read.
    pub fn poll(&mut self, on_recv: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        let cap = self.ring.cap;
        if self.tail == self.head_cache {
            // Closed flag first, then head: a producer closes only after its last publish.
            let closed = self.ring.producer_closed().load(Ordering::Acquire) != 0;
            self.head_cache = self.ring.head().load(Ordering::Acquire);
            if self.tail == self.head_cache {
                return if closed {
                    Err(TransportError::Closed)
                } else {
                    Ok(0)
                };
            }
        }
        if self.head_cache.wrapping_sub(self.tail) > cap as u64
            || !self.head_cache.is_multiple_of(8)
        {
            return Err(corrupt("head outside the ring"));
        }
        let mut n = 0;
        let mut result = Ok(());
        while self.tail != self.head_cache {
            let idx = (self.tail as usize) & (cap - 1);
            // SAFETY: `idx` is an 8-aligned record start below `cap - 4`, inside the published
            // region [tail, head) the Acquire load of head made visible; the producer does not
            // write it until we store a tail past it.
            let word = u32::from_le(unsafe { (self.ring.data.add(idx) as *const u32).read() });
            if word == PAD {
                self.tail += (cap - idx) as u64;
                continue;
            }
            let len = word as usize;
            let rec = record_size(len);
            if rec > cap - idx || self.tail + rec as u64 > self.head_cache {
                result = Err(corrupt("record length past the published head"));
                break;
            }
            // SAFETY: [idx + 4, idx + 4 + len) is inside the data area and inside the published
            // region (both checked just above); the slice lives only during the callback,
            // before `tail` is released.
            let msg = unsafe { std::slice::from_raw_parts(self.ring.data.add(idx + 4), len) };
            on_recv(msg);
            self.tail += rec as u64;
            n += 1;
        }
        self.ring.tail().store(self.tail, Ordering::Release);
        result.map(|()| n)
    }
}

impl Drop for ShmConsumer {
    fn drop(&mut self) {
        self.ring.consumer_closed().store(1, Ordering::Release);
    }
}

/// One end of a duplex shared-memory link: a producer into one ring and a consumer of the other.
#[derive(Debug)]
pub struct ShmTransport {
    tx: ShmProducer,
    rx: ShmConsumer,
}

impl ShmTransport {
    fn new(tx: RingView, rx: RingView) -> Self {
        Self {
            tx: ShmProducer::new(tx),
            rx: ShmConsumer::new(rx),
        }
    }

    /// Splits into the two one-way halves (e.g. to drive them from two threads).
    pub fn split(self) -> (ShmProducer, ShmConsumer) {
        (self.tx, self.rx)
    }

    /// Largest message.
    pub fn max_message(&self) -> usize {
        self.tx.max_message()
    }
}

impl Transport for ShmTransport {
    fn claim(&mut self, len: usize) -> Result<&mut [u8], TransportError> {
        self.tx.claim(len)
    }
    fn commit(&mut self, len: usize) -> Result<(), TransportError> {
        self.tx.commit(len)
    }
    fn abort(&mut self) {
        self.tx.abort()
    }
    fn flush(&mut self) -> Result<usize, TransportError> {
        Ok(self.tx.flush())
    }
    fn poll(&mut self, on_recv: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        self.rx.poll(on_recv)
    }
}
