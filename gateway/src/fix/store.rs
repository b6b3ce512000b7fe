//! The session store: sequence numbers and every outgoing message, in memory-mapped files that
//! survive a restart (or a `kill -9`: the page cache keeps what was written).
//!
//! A store is a directory of three files:
//! - `seqnums` (4 KiB): magic, layout version, next sender and next target sequence numbers,
//!   the end of the message log, the session's creation time;
//! - `messages`: the outgoing messages back to back, each as `[seq u64][len u32][pad u32]`
//!   then the bytes padded to 8;
//! - `index`: one `u64` per sequence number, the offset of its record plus one (0 = none).
//!
//! A message is written (log, then index) before the header's next sender sequence number
//! moves past it, so a crash between the two leaves a store that simply never sent it. Files
//! grow by doubling (a remap, off the hot path); capacity is chosen at open.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use memmap2::MmapMut;
use thiserror::Error;

const MAGIC: &[u8; 8] = b"MAMFIXS1";
const VERSION: u32 = 1;
const HDR_LEN: u64 = 4096;
const OFF_VERSION: usize = 8;
const OFF_NEXT_SENDER: usize = 16;
const OFF_NEXT_TARGET: usize = 24;
const OFF_DATA_END: usize = 32;
const OFF_CREATED: usize = 40;
const REC_HDR: usize = 16;

/// A store that cannot be opened or written.
#[derive(Debug, Error)]
pub enum StoreError {
    /// File-system error on a store file.
    #[error("FIX store {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a store of this layout.
    #[error("FIX store {path}: {why} (delete the directory to start a fresh session)")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn map(file: &File, path: &Path) -> Result<MmapMut, StoreError> {
    // SAFETY: the file is opened read-write by this process only (one session per store
    // directory, enforced by the caller's configuration); it is never truncated while mapped,
    // only grown and then remapped, so the mapping never covers bytes past the end of file.
    unsafe { MmapMut::map_mut(file) }.map_err(io(path))
}

fn rd(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn wr(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

struct Grow {
    file: File,
    map: MmapMut,
    path: PathBuf,
}

impl Grow {
    fn open(path: PathBuf, min: u64) -> Result<Self, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        let len = file.metadata().map_err(io(&path))?.len();
        if len < min {
            file.set_len(min).map_err(io(&path))?;
        }
        let map = map(&file, &path)?;
        Ok(Grow { file, map, path })
    }

    fn ensure(&mut self, need: u64) -> Result<(), StoreError> {
        let cur = self.map.len() as u64;
        if need <= cur {
            return Ok(());
        }
        let mut n = cur.max(4096);
        while n < need {
            n *= 2;
        }
        self.map.flush().map_err(io(&self.path))?;
        self.file.set_len(n).map_err(io(&self.path))?;
        self.map = map(&self.file, &self.path)?;
        Ok(())
    }
}

impl std::fmt::Debug for Grow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} bytes mapped)",
            self.path.display(),
            self.map.len()
        )
    }
}

/// Sizes a store starts with.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// Initial size of the message log in bytes (grows by doubling).
    pub log_bytes: u64,
    /// Initial number of index entries (grows by doubling).
    pub index_entries: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            log_bytes: 16 << 20,
            index_entries: 1 << 16,
        }
    }
}

/// The memory-mapped sequence-number and message store of one FIX session.
#[derive(Debug)]
pub struct Store {
    hdr: Grow,
    log: Grow,
    index: Grow,
}

impl Store {
    /// Opens the store in `dir` (created if missing) with default sizes.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, StoreOptions::default())
    }

    /// Opens the store in `dir` (created if missing).
    pub fn open_with(dir: &Path, opts: StoreOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let hdr = Grow::open(dir.join("seqnums"), HDR_LEN)?;
        let log = Grow::open(dir.join("messages"), opts.log_bytes.max(4096))?;
        let index = Grow::open(dir.join("index"), opts.index_entries.max(512) * 8)?;
        let mut s = Store { hdr, log, index };
        let corrupt = |s: &Store, why: String| StoreError::Corrupt {
            path: s.hdr.path.clone(),
            why,
        };
        if s.hdr.map[..8] == [0u8; 8] {
            s.hdr.map[..8].copy_from_slice(MAGIC);
            wr(&mut s.hdr.map, OFF_VERSION, u64::from(VERSION));
            s.init_counters(0);
        } else if &s.hdr.map[..8] != MAGIC {
            return Err(corrupt(&s, "wrong magic: not a mam FIX store".into()));
        } else if rd(&s.hdr.map, OFF_VERSION) != u64::from(VERSION) {
            return Err(corrupt(
                &s,
                format!(
                    "layout version {} (expected {VERSION})",
                    rd(&s.hdr.map, OFF_VERSION)
                ),
            ));
        }
        let (ns, nt, end) = (s.next_sender_seq(), s.next_target_seq(), s.data_end());
        if ns == 0 || nt == 0 {
            return Err(corrupt(&s, "sequence number 0".into()));
        }
        if end > s.log.map.len() as u64 || end % 8 != 0 {
            return Err(corrupt(&s, format!("log end {end} beyond the log file")));
        }
        Ok(s)
    }

    fn init_counters(&mut self, created_ns: u64) {
        wr(&mut self.hdr.map, OFF_NEXT_SENDER, 1);
        wr(&mut self.hdr.map, OFF_NEXT_TARGET, 1);
        wr(&mut self.hdr.map, OFF_DATA_END, 0);
        wr(&mut self.hdr.map, OFF_CREATED, created_ns);
    }

    fn data_end(&self) -> u64 {
        rd(&self.hdr.map, OFF_DATA_END)
    }

    /// The sequence number the next outgoing message takes.
    pub fn next_sender_seq(&self) -> u64 {
        rd(&self.hdr.map, OFF_NEXT_SENDER)
    }

    /// The sequence number expected on the next incoming message.
    pub fn next_target_seq(&self) -> u64 {
        rd(&self.hdr.map, OFF_NEXT_TARGET)
    }

    /// Sets the next expected incoming sequence number.
    pub fn set_next_target_seq(&mut self, seq: u64) {
        wr(&mut self.hdr.map, OFF_NEXT_TARGET, seq);
    }

    /// When the session began (ns, as passed to [`Store::reset`]; 0 for a new store).
    pub fn created_ns(&self) -> u64 {
        rd(&self.hdr.map, OFF_CREATED)
    }

    /// Appends outgoing message `bytes` as sequence number `seq` (which must be
    /// [`Store::next_sender_seq`]) and moves the next sender number past it.
    pub fn append(&mut self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        debug_assert_eq!(seq, self.next_sender_seq());
        let at = self.data_end();
        let padded = (bytes.len() as u64 + 7) & !7;
        let end = at + REC_HDR as u64 + padded;
        self.log.ensure(end)?;
        self.index.ensure((seq + 1) * 8)?;
        let a = at as usize;
        let m = &mut self.log.map;
        wr(m, a, seq);
        m[a + 8..a + 12].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        m[a + 12..a + 16].fill(0);
        m[a + REC_HDR..a + REC_HDR + bytes.len()].copy_from_slice(bytes);
        wr(&mut self.index.map, seq as usize * 8, at + 1);
        wr(&mut self.hdr.map, OFF_DATA_END, end);
        wr(&mut self.hdr.map, OFF_NEXT_SENDER, seq + 1);
        Ok(())
    }

    /// The stored message with sequence number `seq`, if this session sent and kept it.
    pub fn get(&self, seq: u64) -> Option<&[u8]> {
        if seq == 0 || seq >= self.next_sender_seq() {
            return None;
        }
        let i = usize::try_from(seq).ok()?.checked_mul(8)?;
        if i + 8 > self.index.map.len() {
            return None;
        }
        let off = rd(&self.index.map, i).checked_sub(1)? as usize;
        let m = &self.log.map;
        if off + REC_HDR > self.data_end() as usize || rd(m, off) != seq {
            return None;
        }
        let len = u32::from_le_bytes([m[off + 8], m[off + 9], m[off + 10], m[off + 11]]) as usize;
        m.get(off + REC_HDR..off + REC_HDR + len)
    }

    /// Starts a new session: both sequence numbers back to 1, the message log emptied.
    pub fn reset(&mut self, now_ns: u64) {
        self.index.map.fill(0);
        self.init_counters(now_ns);
    }

    /// Writes dirty pages to disk (`msync`); a process crash loses nothing without it, a power
    /// loss may.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.log.map.flush().map_err(io(&self.log.path))?;
        self.index.map.flush().map_err(io(&self.index.path))?;
        self.hdr.map.flush().map_err(io(&self.hdr.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_and_grows() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions {
            log_bytes: 4096,
            index_entries: 512,
        };
        {
            let mut s = Store::open_with(dir.path(), opts).unwrap();
            assert_eq!((s.next_sender_seq(), s.next_target_seq()), (1, 1));
            for seq in 1..=2000u64 {
                s.append(seq, format!("message {seq}").as_bytes()).unwrap();
            }
            s.set_next_target_seq(77);
        }
        let mut s = Store::open_with(dir.path(), opts).unwrap();
        assert_eq!((s.next_sender_seq(), s.next_target_seq()), (2001, 77));
        assert_eq!(s.get(1999), Some(&b"message 1999"[..]));
        assert_eq!(s.get(2001), None);
        assert_eq!(s.get(0), None);
        s.reset(5);
        assert_eq!(
            (s.next_sender_seq(), s.next_target_seq(), s.created_ns()),
            (1, 1, 5)
        );
        assert_eq!(s.get(1), None);
    }

    #[test]
    fn refuses_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("seqnums"), vec![7u8; 4096]).unwrap();
        let e = Store::open(dir.path()).unwrap_err();
        assert!(e.to_string().contains("wrong magic"), "{e}");
    }
}
