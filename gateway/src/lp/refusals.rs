//! Orders the LP refused at the session level, kept on disk beside the session store.
//!
//! A session-level Reject (35=3) is an admin message: on a resend FIX gap-fills it, so a
//! restarted daemon whose engine had not journaled the refusal before a kill would never learn
//! that the order ended (and, with QuickFIX's executor, no OrderStatusRequest can tell it).
//! The LP stage therefore appends each refused ClOrdID to `refused-orders` before it tells the
//! engine, and on start ends again every order the engine still tracks that the file names.
//! The file holds one little-endian `u64` per refusal; a torn last record (a kill mid-write)
//! is ignored. A `write` reaches the page cache at once, so it survives `kill -9` like the
//! memory-mapped store does.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The file's name in the session store's directory.
pub const FILE: &str = "refused-orders";

/// The refused ClOrdIDs, and the file they are appended to.
#[derive(Debug)]
pub(super) struct RefusalLog {
    path: PathBuf,
    file: File,
    ids: BTreeSet<u64>,
}

impl RefusalLog {
    /// Opens (or creates) `dir/refused-orders` and reads what it holds.
    pub(super) fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let ids = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        if bytes.len() % 8 != 0 {
            // Cut the torn record so the next one starts on a record boundary.
            file.set_len((bytes.len() - bytes.len() % 8) as u64)?;
        }
        Ok(RefusalLog { path, file, ids })
    }

    /// True if `cl_ord_id` was refused.
    pub(super) fn contains(&self, cl_ord_id: u64) -> bool {
        self.ids.contains(&cl_ord_id)
    }

    /// Records a refusal (once per ClOrdID); false if it was known. A write error is logged,
    /// not fatal: the engine still learns of the refusal now; only a restart before it
    /// journals it would miss it.
    pub(super) fn record(&mut self, cl_ord_id: u64) -> bool {
        if !self.ids.insert(cl_ord_id) {
            return false;
        }
        if let Err(e) = self.file.write_all(&cl_ord_id.to_le_bytes()) {
            tracing::warn!(path = %self.path.display(), error = %e, cl_ord_id, "LP: refused order not recorded");
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_survive_reopening_and_a_torn_record_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RefusalLog::open(dir.path()).unwrap();
        assert!(log.record(7));
        assert!(!log.record(7));
        assert!(log.record(u64::MAX));
        drop(log);
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(FILE))
            .unwrap();
        f.write_all(&[1, 2, 3]).unwrap();
        drop(f);
        let mut log = RefusalLog::open(dir.path()).unwrap();
        assert!(log.contains(7) && log.contains(u64::MAX) && !log.contains(8));
        assert!(log.record(8));
        drop(log);
        let log = RefusalLog::open(dir.path()).unwrap();
        assert_eq!(
            log.ids.iter().copied().collect::<Vec<_>>(),
            vec![7, 8, u64::MAX]
        );
    }
}
