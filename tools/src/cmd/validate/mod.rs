//! `mam validate`: the same manager trades replayed through the engine under the static rule and
//! under the adaptive layer, side by side (issue #14). `report` turns the two runs' series into
//! metrics, `report.json` and `report.html`.

pub mod report;
