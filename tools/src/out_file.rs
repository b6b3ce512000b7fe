//! Writing an output file without ever destroying an input: an output that is one of the
//! command's inputs is refused, and the output is written to a temporary file beside it that is
//! renamed over it only once complete. A command that fails leaves an existing output as it
//! was and no partial file behind.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The path as the file system resolves it: canonical when it exists, else its canonical
/// parent joined with its name (an output that does not exist yet).
fn resolved(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let name = p.file_name()?;
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.canonicalize().ok()?,
        _ => std::env::current_dir().ok()?,
    };
    Some(parent.join(name))
}

/// Whether `a` and `b` name the same file: the same resolved path, or (both existing) the same
/// device and inode (hard links).
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Some(x), Some(y)) = (resolved(a), resolved(b)) {
        if x == y {
            return true;
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    false
}

/// Refuses an output that is the input: `what` names the input (`--store`, `input`).
pub fn refuse_same(input: &Path, what: &str, out: &Path) -> anyhow::Result<()> {
    if same_file(input, out) {
        anyhow::bail!(
            "--out {} is the same file as the {what} {}: refusing to overwrite an input \
             (write the output elsewhere)",
            out.display(),
            input.display()
        );
    }
    Ok(())
}

/// A temporary file beside the output, renamed over it by [`TempOut::commit`]; dropped
/// without a commit, it is removed and the output is untouched.
#[derive(Debug)]
pub struct TempOut {
    tmp: PathBuf,
    out: PathBuf,
    committed: bool,
}

impl TempOut {
    /// Reserves the temporary path beside `out` (`.NAME.tmp-PID-N`) without creating it, for
    /// a writer that creates its file itself.
    pub fn path_for(out: &Path) -> anyhow::Result<Self> {
        let name = out
            .file_name()
            .with_context(|| format!("--out {}: not a file name", out.display()))?;
        let nanos = mam_core::sys::utc_now_ns() % 1_000_000_000;
        let tmp_name = format!(
            ".{}.tmp-{}-{nanos}",
            name.to_string_lossy(),
            std::process::id()
        );
        let tmp = match out.parent() {
            Some(d) => d.join(tmp_name),
            None => PathBuf::from(tmp_name),
        };
        Ok(TempOut {
            tmp,
            out: out.to_path_buf(),
            committed: false,
        })
    }

    /// Creates the temporary file beside `out`.
    pub fn create(out: &Path) -> anyhow::Result<(Self, File)> {
        let t = Self::path_for(out)?;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&t.tmp)
            .with_context(|| {
                format!(
                    "cannot create {} (temporary file for {})",
                    t.tmp.display(),
                    out.display()
                )
            })?;
        Ok((t, f))
    }

    /// The temporary file's path.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes the temporary file to disk and renames it over the output.
    pub fn commit(mut self) -> anyhow::Result<()> {
        if let Ok(f) = File::open(&self.tmp) {
            f.sync_all()
                .with_context(|| format!("syncing {}", self.tmp.display()))?;
        }
        std::fs::rename(&self.tmp, &self.out).with_context(|| {
            format!("renaming {} to {}", self.tmp.display(), self.out.display())
        })?;
        self.committed = true;
        Ok(())
    }
}

/// Writes `bytes` to `out` through a temporary file beside it, renamed into place.
pub fn write_all(out: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let (tmp, mut f) = TempOut::create(out)?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    drop(f);
    tmp.commit()
}

impl Drop for TempOut {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_sees_paths_links_and_absent_outputs() {
        let d = std::env::temp_dir().join(format!("mam-outfile-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let a = d.join("a");
        std::fs::write(&a, b"x").unwrap();
        assert!(same_file(&a, &d.join(".").join("a")));
        std::fs::hard_link(&a, d.join("h")).unwrap();
        assert!(same_file(&a, &d.join("h")));
        assert!(!same_file(&a, &d.join("absent")));
        std::fs::write(d.join("b"), b"x").unwrap();
        assert!(!same_file(&a, &d.join("b")));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
