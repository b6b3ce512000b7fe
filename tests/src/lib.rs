//! Helpers for mam's cross-crate integration tests.
#![deny(missing_docs)]

pub mod browser;
pub mod daemon;
pub mod manager;

use std::path::PathBuf;

/// The shared real-data folder (`../shared/data` relative to the workspace root), or a panic
/// that says where it was looked for and what to do.
pub fn shared_data() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent")
        .to_path_buf();
    let dir = std::env::var_os("MAM_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/data"));
    assert!(
        dir.join("PROVENANCE.md").is_file(),
        "real test data not found at {} (expected ../shared/data beside the repository, \
         or set MAM_SHARED_DATA)",
        dir.display()
    );
    dir
}
