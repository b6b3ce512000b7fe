//! The dashboard: three plain files embedded in the binary (no build step on a fresh machine)
//! and `/api/events`, a server-sent event stream with the whole picture once a second.

use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use serde_json::json;
use tokio_stream::wrappers::IntervalStream;
use tokio_stream::{Stream, StreamExt};

use super::views::{accounts_json, latency_json, status_json, tickets_json};
use super::AdminShared;

const INDEX: &str = include_str!("dashboard/index.html");
const APP_JS: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/style.css");

/// `GET /`.
pub async fn index() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX)
}

/// `GET /app.js`.
pub async fn app_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
}

/// `GET /style.css`.
pub async fn style_css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

/// `GET /api/events`: a `snapshot` event every second (status, accounts, tickets, latency),
/// until the server stops.
pub async fn events(
    State(s): State<Arc<AdminShared>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let ticks = IntervalStream::new(tokio::time::interval(Duration::from_secs(1)));
    let running = s.clone();
    let stream = ticks
        .take_while(move |_| !running.stopping.load(Relaxed))
        .map({
            move |_| {
                let doc = json!({
                    "status": status_json(&s),
                    "accounts": accounts_json(&s),
                    "tickets": tickets_json(&s),
                    "latency": latency_json(&s),
                });
                Ok(Event::default().event("snapshot").data(doc.to_string()))
            }
        });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
