//! Where the project's shared real data lives: `../shared/data` beside the repository
//! (`PROVENANCE.md` there lists every file's format and exact counts), or the directory named by
//! `MAM_SHARED_DATA`. The repository's one locator: tests, benchmarks and `mam bench` defaults
//! all ask here, so moving the data means setting one variable. The data is never copied into
//! the repository.

use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable that overrides the default location.
pub const ENV: &str = "MAM_SHARED_DATA";

/// The data, or what is missing where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The path looked for.
    pub path: PathBuf,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "real data not found at {} (expected ../shared/data beside the repository, see its \
             PROVENANCE.md; or set {ENV} to the data directory)",
            self.path.display()
        )
    }
}

impl std::error::Error for Missing {}

/// The data directory: `$MAM_SHARED_DATA`, else `../shared/data` beside the repository this
/// was built from. Not checked: see [`shared_path`].
pub fn shared_data_dir() -> PathBuf {
    match std::env::var_os(ENV) {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    }
}

/// `rel` (a file or folder) under the data directory, if it exists.
pub fn shared_path(rel: impl AsRef<Path>) -> Result<PathBuf, Missing> {
    let path = shared_data_dir().join(rel);
    if path.exists() {
        Ok(path)
    } else {
        Err(Missing { path })
    }
}

/// [`shared_path`] for tests and benchmarks: the path, or a panic whose message says what is
/// missing where and what to do (tests fail with a clear message when the data is missing).
#[track_caller]
pub fn expect_shared(rel: impl AsRef<Path>) -> PathBuf {
    shared_path(rel).unwrap_or_else(|e| panic!("{e}"))
}
