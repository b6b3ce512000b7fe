//! Helpers for mam's cross-crate integration tests.
#![deny(missing_docs)]

pub mod admin_api;
pub mod browser;
pub mod daemon;
pub mod heard;
pub mod manager;
pub mod quickfix;

use std::path::PathBuf;

/// The shared real-data folder (`mam_core::shared_data`: `../shared/data` beside the
/// repository, or `$MAM_SHARED_DATA`), or a panic that says where it was looked for and what to
/// do.
pub fn shared_data() -> PathBuf {
    mam_core::shared_data::expect_shared("PROVENANCE.md")
        .parent()
        .expect("PROVENANCE.md has a folder")
        .to_path_buf()
}
