//! `GET /metrics`: Prometheus' text exposition format through the `prometheus-client` crate
//! (a collector reads the engine snapshot, the stage counters and the stats thread's latency
//! summaries on each scrape; nothing is recorded twice).
//!
//! Latencies are Prometheus histograms in seconds, their buckets counted from the same HDR
//! histograms the `.hlog` files hold (`live::BUCKETS_NS`). Floating point appears only here, in
//! the exposition, as the format requires: never in state.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::live::BUCKETS_NS;
use super::views::with_snapshot;
use super::AdminShared;

#[derive(Debug)]
struct MamCollector(Arc<AdminShared>);

type Enc<'a> = DescriptorEncoder<'a>;

fn counter(e: &mut Enc, name: &str, help: &str, v: u64) -> std::fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

fn gauge(e: &mut Enc, name: &str, help: &str, v: i64) -> std::fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

/// A family of counters (one descriptor, one sample per label value).
fn counters(
    e: &mut Enc,
    name: &str,
    help: &str,
    label: &str,
    samples: &[(&str, u64)],
) -> std::fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (l, v) in samples {
        m.encode_family(&vec![(label, *l)])?
            .encode_counter::<NoLabelSet, _, u64>(v, None)?;
    }
    Ok(())
}

fn gauges(
    e: &mut Enc,
    name: &str,
    help: &str,
    label: &str,
    samples: &[(&str, i64)],
) -> std::fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (l, v) in samples {
        m.encode_family(&vec![(label, *l)])?.encode_gauge(v)?;
    }
    Ok(())
}

impl Collector for MamCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let s = &self.0;
        let st = &s.engine;
        counters(
            &mut e,
            "mam_engine_inputs",
            "Inputs journaled by the engine stage, by kind.",
            "kind",
            &[
                ("market", st.market.load(Relaxed)),
                ("master", st.masters.load(Relaxed)),
                ("fill", st.fills.load(Relaxed)),
                ("admin", st.admin.load(Relaxed)),
            ],
        )?;
        let (c, kill, adaptive, accounts, tickets, orders) = with_snapshot(s, |x| {
            (
                x.counters,
                x.kill_switch,
                x.adaptive_on,
                x.accounts.len(),
                x.tickets.len(),
                x.orders.len(),
            )
        });
        counters(
            &mut e,
            "mam_orders",
            "Orders the engine emitted, by routing.",
            "routing",
            &[("per_account", c.child_orders), ("block", c.block_orders)],
        )?;
        counter(&mut e, "mam_fills", "Fills applied.", c.fills)?;
        counters(
            &mut e,
            "mam_rejects",
            "Inputs refused by the engine and orders refused by pre-trade risk.",
            "reason",
            &[("refused", c.refused), ("risk", c.risk_rejects)],
        )?;
        counters(
            &mut e,
            "mam_limit_actions",
            "Margin calls, stop-outs and loss limits crossed.",
            "action",
            &[
                ("margin_call", c.margin_calls),
                ("stop_out", c.stop_outs),
                ("loss_limit", c.limit_holds),
            ],
        )?;
        gauge(
            &mut e,
            "mam_kill_switch",
            "1 while the kill switch is engaged.",
            i64::from(kill),
        )?;
        gauge(
            &mut e,
            "mam_adaptive_on",
            "1 while the adaptive layer is on.",
            i64::from(adaptive),
        )?;
        gauge(&mut e, "mam_accounts", "Accounts.", accounts as i64)?;
        gauge(
            &mut e,
            "mam_open_tickets",
            "Open master tickets.",
            tickets as i64,
        )?;
        gauge(
            &mut e,
            "mam_open_orders",
            "Orders the engine tracks.",
            orders as i64,
        )?;
        gauge(
            &mut e,
            "mam_journal_seq",
            "Last journal sequence written.",
            st.journal_seq.load(Relaxed) as i64,
        )?;
        gauge(
            &mut e,
            "mam_journal_synced_seq",
            "Last journal sequence known on disk.",
            st.synced_seq.load(Relaxed) as i64,
        )?;
        counter(
            &mut e,
            "mam_journal_syncs",
            "Journal syncs.",
            st.syncs.load(Relaxed),
        )?;
        counter(
            &mut e,
            "mam_journal_checkpoints",
            "Checkpoints written.",
            st.checkpoints.load(Relaxed),
        )?;
        let depth: Vec<(&str, i64)> = s
            .rings
            .iter()
            .map(|(n, r)| (*n, r.depth() as i64))
            .collect();
        gauges(
            &mut e,
            "mam_ring_depth",
            "Messages in flight on a stage ring.",
            "ring",
            &depth,
        )?;
        let full: Vec<(&str, u64)> = s
            .rings
            .iter()
            .map(|(n, r)| (*n, r.full.load(Relaxed)))
            .collect();
        counters(
            &mut e,
            "mam_ring_full",
            "Pushes that found a ring full (back-pressure).",
            "ring",
            &full,
        )?;
        let live = s.live.lock().unwrap_or_else(|x| x.into_inner());
        let edges: Vec<(&str, i64)> = live.edges.iter().map(|(k, v)| (*k, *v as i64)).collect();
        gauges(
            &mut e,
            "mam_edge",
            "Edge counters (manager and LP sessions: logons, reconnects, rejects), by name.",
            "counter",
            &edges,
        )?;
        let mut m = e.encode_descriptor(
            "mam_latency_seconds",
            "Stage latencies over the run (from the HDR histograms of the .hlog files).",
            None,
            MetricType::Histogram,
        )?;
        for (name, h) in &live.totals {
            // The encoder accumulates: it takes each bucket's own count, and `f64::MAX` as the
            // bound it writes `+Inf` for.
            let mut below = 0u64;
            let mut buckets: Vec<(f64, u64)> = BUCKETS_NS
                .iter()
                .zip(&h.buckets)
                .map(|(&b, &cum)| {
                    let own = cum - below;
                    below = cum;
                    (b as f64 / 1e9, own)
                })
                .collect();
            buckets.push((f64::MAX, h.count.saturating_sub(below)));
            m.encode_family(&vec![("stage", *name)])?
                .encode_histogram::<NoLabelSet>(h.sum_ns as f64 / 1e9, h.count, &buckets, None)?;
        }
        Ok(())
    }
}

/// `GET /metrics`.
pub async fn metrics(State(s): State<Arc<AdminShared>>) -> Response {
    let mut reg = Registry::default();
    reg.register_collector(Box::new(MamCollector(s)));
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &reg) {
        return (StatusCode::INTERNAL_SERVER_ERROR, format!("encoding: {e}")).into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
