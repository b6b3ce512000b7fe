//! `mam validate`: the same manager trades through the real engine twice, static and
//! adaptive, on the same accounts; the report says which did better, metric by metric.

pub mod book;
pub mod replay;
pub mod strategy;
