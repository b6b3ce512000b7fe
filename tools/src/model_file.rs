//! The adaptive model file `mam train` writes and the engine loads: TOML, versioned, with a
//! checksum, mapping 1:1 onto [`AdaptiveModel`].
//!
//! ```toml
//! format = "mam-adaptive-model"
//! version = 1
//! checksum = "<sha256 hex of the file without this line>"
//! [meta]      # how it was made: symbols, bar files, dates, split, created_by
//! [[symbols]] # one SymbolModel each (integers as integers)
//! [[clusters]]# one ClusterParams each (Ratio fields as exact decimal strings)
//! [[fit]]     # the fit statistics per symbol (a report: floats)
//! ```
//!
//! The checksum covers every byte of the file except its own line, so any edit (one digit)
//! is caught; a hand-tuned model must be re-saved through [`save`]. Loading checks, in order:
//! format, version, checksum, every field present and in range, then
//! [`AdaptiveModel::validate`].

use std::path::{Path, PathBuf};

use mam_core::adaptive::{
    AdaptiveModel, ClusterParams, ModelError, RegimeModel, SymbolModel, VolParams, BUCKETS,
    MODEL_VERSION, REGIMES,
};
use mam_core::num::Ratio;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `format` key of every model file.
pub const FORMAT: &str = "mam-adaptive-model";

/// How the model was made (the `[meta]` table, and the `[[fit]]` tables in `fit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Program and version that wrote the file.
    pub created_by: String,
    /// Symbols fitted, in the order of `[[symbols]]`.
    pub symbols: Vec<String>,
    /// Bar files read, with their sizes in bytes (to tell which data a model came from).
    pub bar_files: Vec<BarFile>,
    /// First UTC date of the training period (`YYYY-MM-DD`, inclusive).
    pub train_from: String,
    /// End of the training period (exclusive) = start of the test period.
    pub train_to: String,
    /// End of the out-of-sample test period (exclusive), if there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_to: Option<String>,
    /// The split in words (what is in sample, what out, what chose the forecaster).
    pub split: String,
    /// Fit statistics per symbol (the file's `[[fit]]` tables).
    #[serde(skip)]
    pub fit: Vec<SymbolFit>,
}

/// One bar file read for the fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarFile {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Fit statistics of one symbol: a report, not used by the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolFit {
    /// Symbol.
    pub symbol: String,
    /// Returns in the training period.
    pub returns_in: u64,
    /// Returns in the test period.
    pub returns_out: u64,
    /// Mean QLIKE of the EWMA forecaster in sample.
    pub qlike_ewma_in: f64,
    /// Mean QLIKE of the fitted GARCH(1,1) in sample.
    pub qlike_garch_in: f64,
    /// Mean QLIKE of EWMA out of sample (absent without a test period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qlike_ewma_out: Option<f64>,
    /// Mean QLIKE of GARCH out of sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qlike_garch_out: Option<f64>,
    /// The forecaster kept: `ewma` or `garch`.
    pub chosen: String,
    /// Share of the training returns whose most likely state is calm, normal, stressed.
    pub state_share: [f64; REGIMES],
    /// Baum–Welch iterations run.
    pub hmm_iterations: u32,
}

/// Why a model file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// Could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not TOML, or a field missing, of the wrong type or out of its type's range.
    #[error("{}: {why}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names the key and line).
        why: String,
    },
    /// Not a model file.
    #[error("{}: format `{found}` is not `{FORMAT}`", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What `format` said.
        found: String,
    },
    /// A model file of another version.
    #[error("{}: model version {found}, this mam reads {MODEL_VERSION}", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// What `version` said.
        found: i64,
    },
    /// The text does not match its checksum (edited, truncated or corrupted).
    #[error(
        "{}: checksum mismatch: the file says {stated}, its text hashes to {actual} \
         (edited or corrupted; re-save it with mam)",
        path.display()
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The `checksum` line's value (empty if there is none).
        stated: String,
        /// SHA-256 of the text.
        actual: String,
    },
    /// A field whose value is not acceptable.
    #[error("{}: {field}: {why}", path.display())]
    Field {
        /// The file.
        path: PathBuf,
        /// Where (`clusters[0].vol_min`).
        field: String,
        /// Why.
        why: String,
    },
    /// The model could not be turned into text (a value TOML cannot hold).
    #[error("{}: cannot write the model: {why}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// The serialiser's message.
        why: String,
    },
    /// Parsed, but the engine could not run it.
    #[error("{}: {source}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The invariant broken.
        source: ModelError,
    },
}

/// The whole file, in its field order.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileV1 {
    format: String,
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksum: Option<String>,
    meta: Meta,
    symbols: Vec<SymbolEntry>,
    clusters: Vec<ClusterEntry>,
    #[serde(default)]
    fit: Vec<SymbolFit>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SymbolEntry {
    symbol: String,
    sample_ns: u64,
    sigma_target: u64,
    vol: VolEntry,
    regime: RegimeEntry,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VolEntry {
    omega: u64,
    alpha_ppb: u64,
    beta_ppb: u64,
    initial_var: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegimeEntry {
    sigma_ref: u64,
    edges: [u32; BUCKETS - 1],
    trans: [[u32; REGIMES]; REGIMES],
    emit: [[u32; BUCKETS]; REGIMES],
    switch_ppb: u32,
}

/// [`ClusterParams`] with every [`Ratio`] as its exact decimal text.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterEntry {
    vol_min: String,
    vol_max: String,
    stressed_margin_level: String,
    margin_cut: String,
    dd_power: u32,
    dd_floor: String,
    leg_cap: String,
    impact_cap: String,
    impact_y: String,
    spread_min: String,
    spread_max: String,
    risk_cap: String,
    slip_pips: String,
    slip_cut: String,
}

/// Writes `model` and `meta` to `path` (the whole text, checksum included).
pub fn save(path: &Path, model: &AdaptiveModel, meta: &Meta) -> Result<(), ModelFileError> {
    let text = to_text(model, meta).map_err(|why| ModelFileError::Encode {
        path: path.to_path_buf(),
        why,
    })?;
    // Beside the target, then renamed over it: a failed or killed write never leaves a
    // half-written model where a good one was.
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let io = |source| ModelFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let written = std::fs::write(&tmp, text)
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// The canonical text of a model file.
pub fn to_text(model: &AdaptiveModel, meta: &Meta) -> Result<String, String> {
    let mut file = FileV1 {
        format: FORMAT.into(),
        version: MODEL_VERSION,
        checksum: None,
        meta: meta.clone(),
        symbols: model.symbols.iter().map(symbol_entry).collect(),
        clusters: model.clusters.iter().map(cluster_entry).collect(),
        fit: meta.fit.clone(),
    };
    let body = toml::to_string(&file).map_err(|e| e.to_string())?;
    file.checksum = Some(sha256_hex(&body));
    let text = toml::to_string(&file).map_err(|e| e.to_string())?;
    // The checksum line must be the only difference, or load could never verify it.
    if without_checksum_line(&text).map(|(_, b)| b).as_deref() != Some(body.as_str()) {
        return Err("internal: the checksum line did not serialise on a line of its own".into());
    }
    Ok(text)
}

/// Reads, verifies and validates a model file.
pub fn load(path: &Path) -> Result<(AdaptiveModel, Meta), ModelFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    from_text(&text, path)
}

/// [`load`] on text already read (`path` names it in errors).
pub fn from_text(text: &str, path: &Path) -> Result<(AdaptiveModel, Meta), ModelFileError> {
    let p = || path.to_path_buf();
    let parse = |e: toml::de::Error| ModelFileError::Parse {
        path: p(),
        why: e.to_string().trim_end().to_string(),
    };
    // Format and version first: a newer file may differ in anything else.
    let loose: toml::Table = toml::from_str(text).map_err(parse)?;
    match loose.get("format").and_then(|v| v.as_str()) {
        Some(FORMAT) => {}
        other => {
            let found = other.unwrap_or("(missing)").to_string();
            return Err(ModelFileError::Format { path: p(), found });
        }
    }
    match loose.get("version").and_then(|v| v.as_integer()) {
        Some(v) if v == i64::from(MODEL_VERSION) => {}
        Some(found) => return Err(ModelFileError::Version { path: p(), found }),
        None => {
            let why = "`version` missing or not an integer".into();
            return Err(ModelFileError::Parse { path: p(), why });
        }
    }
    let (stated, body) = without_checksum_line(text).unwrap_or_default();
    let actual = sha256_hex(&body);
    if stated != actual {
        return Err(ModelFileError::Checksum {
            path: p(),
            stated,
            actual,
        });
    }
    let file: FileV1 = toml::from_str(text).map_err(parse)?;
    let mut clusters = Vec::with_capacity(file.clusters.len());
    for (k, c) in file.clusters.iter().enumerate() {
        clusters.push(cluster_params(c).map_err(|(f, why)| ModelFileError::Field {
            path: p(),
            field: format!("clusters[{k}].{f}"),
            why,
        })?);
    }
    let model = AdaptiveModel {
        symbols: file.symbols.into_iter().map(symbol_model).collect(),
        clusters,
    };
    model
        .validate()
        .map_err(|source| ModelFileError::Invalid { path: p(), source })?;
    let mut meta = file.meta;
    meta.fit = file.fit;
    Ok((model, meta))
}

/// The stated checksum and the text without its line, if there is exactly one such line.
fn without_checksum_line(text: &str) -> Option<(String, String)> {
    let mut stated = None;
    let mut body = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("checksum = \"") {
            Some(rest) if stated.is_none() => {
                stated = Some(rest.trim_end().strip_suffix('"')?.to_string());
            }
            _ => body.push_str(line),
        }
    }
    Some((stated?, body))
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn symbol_entry(s: &SymbolModel) -> SymbolEntry {
    let (v, r) = (&s.vol, &s.regime);
    SymbolEntry {
        symbol: s.symbol.clone(),
        sample_ns: s.sample_ns,
        sigma_target: s.sigma_target,
        vol: VolEntry {
            omega: v.omega,
            alpha_ppb: v.alpha_ppb,
            beta_ppb: v.beta_ppb,
            initial_var: v.initial_var,
        },
        regime: RegimeEntry {
            sigma_ref: r.sigma_ref,
            edges: r.edges,
            trans: r.trans,
            emit: r.emit,
            switch_ppb: r.switch_ppb,
        },
    }
}

fn symbol_model(s: SymbolEntry) -> SymbolModel {
    let (v, r) = (s.vol, s.regime);
    SymbolModel {
        symbol: s.symbol,
        sample_ns: s.sample_ns,
        sigma_target: s.sigma_target,
        vol: VolParams {
            omega: v.omega,
            alpha_ppb: v.alpha_ppb,
            beta_ppb: v.beta_ppb,
            initial_var: v.initial_var,
        },
        regime: RegimeModel {
            sigma_ref: r.sigma_ref,
            edges: r.edges,
            trans: r.trans,
            emit: r.emit,
            switch_ppb: r.switch_ppb,
        },
    }
}

fn cluster_entry(c: &ClusterParams) -> ClusterEntry {
    let s = |r: Ratio| r.to_string();
    ClusterEntry {
        vol_min: s(c.vol_min),
        vol_max: s(c.vol_max),
        stressed_margin_level: s(c.stressed_margin_level),
        margin_cut: s(c.margin_cut),
        dd_power: c.dd_power,
        dd_floor: s(c.dd_floor),
        leg_cap: s(c.leg_cap),
        impact_cap: s(c.impact_cap),
        impact_y: s(c.impact_y),
        spread_min: s(c.spread_min),
        spread_max: s(c.spread_max),
        risk_cap: s(c.risk_cap),
        slip_pips: s(c.slip_pips),
        slip_cut: s(c.slip_cut),
    }
}

/// The cluster's parameters, or the field that did not parse and why.
fn cluster_params(c: &ClusterEntry) -> Result<ClusterParams, (&'static str, String)> {
    let r = |name: &'static str, text: &str| {
        Ratio::parse(text).map_err(|e| (name, format!("`{text}`: {e}")))
    };
    Ok(ClusterParams {
        vol_min: r("vol_min", &c.vol_min)?,
        vol_max: r("vol_max", &c.vol_max)?,
        stressed_margin_level: r("stressed_margin_level", &c.stressed_margin_level)?,
        margin_cut: r("margin_cut", &c.margin_cut)?,
        dd_power: c.dd_power,
        dd_floor: r("dd_floor", &c.dd_floor)?,
        leg_cap: r("leg_cap", &c.leg_cap)?,
        impact_cap: r("impact_cap", &c.impact_cap)?,
        impact_y: r("impact_y", &c.impact_y)?,
        spread_min: r("spread_min", &c.spread_min)?,
        spread_max: r("spread_max", &c.spread_max)?,
        risk_cap: r("risk_cap", &c.risk_cap)?,
        slip_pips: r("slip_pips", &c.slip_pips)?,
        slip_cut: r("slip_cut", &c.slip_cut)?,
    })
}

#[cfg(test)]
mod tests;
