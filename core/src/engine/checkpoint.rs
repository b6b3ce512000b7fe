//! Checkpoints: the state at journal sequence `S`, in a directory `checkpoint-S/` holding the
//! account store (`accounts.mams`, written through the [`AccountStore`] API with
//! `last_applied_seq = S`) and the rest of the engine state (`engine.state`: magic, version,
//! `S`, length, CRC-32, then the body). A text file `CURRENT` names the checkpoint in force.
//!
//! Crash safety: the journal is synced up to `S` first; the directory is written under a
//! temporary name, every file fsynced, renamed into place and the parent fsynced; only then is
//! `CURRENT` replaced (temporary file, fsync, rename, fsync). A crash at any instant leaves
//! `CURRENT` naming either the previous complete checkpoint or the new complete one, and the
//! journal holds every record after either. Older checkpoints are deleted only after `CURRENT`
//! moved (the newest two are kept).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytemuck::{Pod, Zeroable};

use super::{Engine, EngineError};
use crate::account::store::AccountStore;
use crate::account::AccountVecs;
use crate::journal::Journal;

/// The file naming the checkpoint in force.
pub const CURRENT_FILE: &str = "CURRENT";
/// First bytes of an engine-state file.
pub const STATE_MAGIC: [u8; 8] = *b"MAMENGS\0";
/// Engine-state layout version this build reads and writes (2: the account columns of store
/// layout 2 in the state encoding).
pub const STATE_VERSION: u32 = 2;
const ACCOUNTS_FILE: &str = "accounts.mams";
const STATE_FILE: &str = "engine.state";

#[derive(Debug, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct StateHeader {
    magic: [u8; 8],
    version: u32,
    reserved: u32,
    seq: u64,
    body_len: u64,
    /// CRC-32 of the header (this field zero) and the body.
    crc: u32,
    pad: u32,
}

const HEADER_LEN: usize = core::mem::size_of::<StateHeader>();

fn crc_of(h: &StateHeader, body: &[u8]) -> u32 {
    let mut z = *h;
    z.crc = 0;
    let mut c = crc32fast::Hasher::new();
    c.update(bytemuck::bytes_of(&z));
    c.update(body);
    c.finalize()
}

fn io<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(std::io::Error) -> EngineError + 'a {
    move |error| EngineError::Io {
        path: path.to_path_buf(),
        what,
        error,
    }
}

fn sync_dir(dir: &Path) -> Result<(), EngineError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir, "syncing directory"))
}

fn bad(path: &Path, why: impl Into<String>) -> EngineError {
    EngineError::Checkpoint {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// The directory name of the checkpoint at `seq`.
pub fn checkpoint_name(seq: u64) -> String {
    format!("checkpoint-{seq:020}")
}

/// A checkpoint read back from disk.
#[derive(Debug)]
pub struct Checkpoint {
    /// Journal sequence it holds the state of.
    pub seq: u64,
    /// Its directory.
    pub dir: PathBuf,
    /// The accounts.
    pub accounts: AccountVecs,
    /// The engine-state body (checked).
    pub(super) body: Vec<u8>,
}

impl Engine {
    /// Writes a checkpoint of the current state under `root` and makes it current (see the
    /// module docs). `journal` must be the journal this engine appends to: it is synced first,
    /// and its last record must be the last one the engine applied.
    pub fn write_checkpoint(
        &self,
        root: &Path,
        journal: &mut Journal,
    ) -> Result<PathBuf, EngineError> {
        let seq = self.applied_seq;
        let last = journal.last_seq().unwrap_or(journal.first_seq() - 1);
        if last != seq {
            return Err(bad(
                root,
                format!("engine applied seq {seq} but the journal ends at {last}"),
            ));
        }
        journal.sync()?;
        fs::create_dir_all(root).map_err(io(root, "creating checkpoint directory"))?;
        let name = checkpoint_name(seq);
        let tmp = root.join(format!(".{name}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io(&tmp, "removing a stale temporary"))?;
        }
        fs::create_dir(&tmp).map_err(io(&tmp, "creating"))?;
        let cols = self.accounts.columns();
        let cap = (cols.len() as u64).max(1);
        drop(AccountStore::write_new(
            &tmp.join(ACCOUNTS_FILE),
            &cols,
            cap,
            seq,
        )?);
        let body = self.encode_without_accounts().0;
        let mut h = StateHeader {
            magic: STATE_MAGIC,
            version: STATE_VERSION,
            reserved: 0,
            seq,
            body_len: body.len() as u64,
            crc: 0,
            pad: 0,
        };
        h.crc = crc_of(&h, &body);
        let sp = tmp.join(STATE_FILE);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&sp)
            .map_err(io(&sp, "creating"))?;
        f.write_all(bytemuck::bytes_of(&h))
            .and_then(|()| f.write_all(&body))
            .and_then(|()| f.sync_all())
            .map_err(io(&sp, "writing"))?;
        sync_dir(&tmp)?;
        let dst = root.join(&name);
        if dst.exists() {
            // Same sequence checkpointed again: identical state by determinism, and the one in
            // place is complete (it was renamed into place whole). Keep it: deleting it first
            // would leave `CURRENT` naming a half-deleted directory if a kill came in between
            // (the first-start kill test found exactly that).
            fs::remove_dir_all(&tmp).map_err(io(&tmp, "removing the duplicate"))?;
        } else {
            fs::rename(&tmp, &dst).map_err(io(&dst, "renaming into place"))?;
        }
        sync_dir(root)?;
        let cur = root.join(CURRENT_FILE);
        let cur_tmp = root.join(".CURRENT.tmp");
        let mut f = File::create(&cur_tmp).map_err(io(&cur_tmp, "creating"))?;
        f.write_all(format!("{name}\n").as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io(&cur_tmp, "writing"))?;
        fs::rename(&cur_tmp, &cur).map_err(io(&cur, "replacing"))?;
        sync_dir(root)?;
        prune(root, seq)?;
        Ok(dst)
    }
}

/// Deletes checkpoints older than the newest one before `current`, and temporaries a crash
/// left behind.
fn prune(root: &Path, current: u64) -> Result<(), EngineError> {
    for e in fs::read_dir(root).map_err(io(root, "listing"))?.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".checkpoint-") && name.ends_with(".tmp") {
            let p = e.path();
            fs::remove_dir_all(&p).map_err(io(&p, "removing a stale temporary"))?;
        }
    }
    let mut seqs: Vec<u64> = fs::read_dir(root)
        .map_err(io(root, "listing"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("checkpoint-")?
                .parse::<u64>()
                .ok()
        })
        .filter(|&s| s < current)
        .collect();
    seqs.sort_unstable();
    seqs.pop(); // keep the previous one
    for s in seqs {
        let p = root.join(checkpoint_name(s));
        fs::remove_dir_all(&p).map_err(io(&p, "pruning"))?;
    }
    Ok(())
}

/// Reads and checks the checkpoint `root/CURRENT` names.
pub fn read_checkpoint(root: &Path) -> Result<Checkpoint, EngineError> {
    let cur = root.join(CURRENT_FILE);
    let text = fs::read_to_string(&cur).map_err(io(&cur, "reading (no checkpoint?)"))?;
    let name = text.trim();
    let seq = name
        .strip_prefix("checkpoint-")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|_| !name.contains('/'))
        .ok_or_else(|| bad(&cur, format!("`{name}` is not a checkpoint name")))?;
    let dir = root.join(name);
    let store = AccountStore::open_read_only(&dir.join(ACCOUNTS_FILE))?;
    if store.last_applied_seq() != seq {
        return Err(bad(
            &dir,
            format!(
                "account store holds seq {}, checkpoint name says {seq}",
                store.last_applied_seq()
            ),
        ));
    }
    let accounts = store.to_vecs();
    drop(store);
    let sp = dir.join(STATE_FILE);
    let bytes = fs::read(&sp).map_err(io(&sp, "reading"))?;
    if bytes.len() < HEADER_LEN {
        return Err(bad(
            &sp,
            format!("{} bytes, shorter than the header", bytes.len()),
        ));
    }
    let h: StateHeader = bytemuck::pod_read_unaligned(&bytes[..HEADER_LEN]);
    if h.magic != STATE_MAGIC {
        return Err(bad(&sp, "bad magic: not an engine-state file"));
    }
    if h.version != STATE_VERSION {
        return Err(bad(
            &sp,
            format!(
                "layout version {}, this build reads {STATE_VERSION}",
                h.version
            ),
        ));
    }
    let body = &bytes[HEADER_LEN..];
    if h.body_len != body.len() as u64 {
        return Err(bad(
            &sp,
            format!(
                "header says {} body bytes, file has {}",
                h.body_len,
                body.len()
            ),
        ));
    }
    if crc_of(&h, body) != h.crc {
        return Err(bad(&sp, "checksum mismatch: the file is damaged"));
    }
    if h.seq != seq {
        return Err(bad(&sp, format!("holds seq {}, expected {seq}", h.seq)));
    }
    Ok(Checkpoint {
        seq,
        dir,
        accounts,
        body: body.to_vec(),
    })
}
