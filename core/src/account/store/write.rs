//! Writing a whole store file crash-safely: a temporary file beside the target, fsync, rename
//! over the target, fsync the directory. A crash leaves either the old file or the new one.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::error::{io_err, StoreError};
use super::layout::{checksum, column_bytes, Header, Layout, MAX_CAPACITY};
use crate::account::AccountColumns;

/// The temporary name used while `path` is rewritten (same directory, so rename is atomic).
pub(super) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Writes `cols` as a store of `capacity` entries to `path`, atomically replacing any file there.
pub(super) fn write_atomic(
    path: &Path,
    cols: &AccountColumns<'_>,
    capacity: u64,
    last_applied_seq: u64,
) -> Result<(), StoreError> {
    let count = cols.len() as u64;
    let bad = StoreError::BadCapacity {
        requested: capacity,
        count,
        max: MAX_CAPACITY,
    };
    if count > capacity {
        return Err(bad);
    }
    let layout = Layout::new(capacity).ok_or(bad)?;
    let mut header = Header::new(capacity);
    header.count = count;
    header.last_applied_seq = last_applied_seq;
    header.checksum = checksum(&header, cols);

    let tmp = temp_path(path);
    let result = write_file(&tmp, &layout, &header, cols).and_then(|()| {
        fs::rename(&tmp, path).map_err(io_err(path, "renaming the new store into place"))?;
        sync_dir(path)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_file(
    tmp: &Path,
    layout: &Layout,
    header: &Header,
    cols: &AccountColumns<'_>,
) -> Result<(), StoreError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(io_err(tmp, "creating"))?;
    // Unused capacity stays a hole of zeros: set the length first, write only used bytes.
    f.set_len(layout.file_len as u64)
        .map_err(io_err(tmp, "sizing"))?;
    f.write_all(bytemuck::bytes_of(header))
        .map_err(io_err(tmp, "writing the header"))?;
    for (i, bytes) in column_bytes(cols).iter().enumerate() {
        if bytes.is_empty() {
            continue;
        }
        f.seek(SeekFrom::Start(layout.offsets[i] as u64))
            .map_err(io_err(tmp, "seeking"))?;
        f.write_all(bytes)
            .map_err(io_err(tmp, "writing a column"))?;
    }
    f.sync_all().map_err(io_err(tmp, "syncing"))
}

/// Makes a rename durable: fsync the directory that holds `path`.
pub(super) fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "syncing the directory"))
}
