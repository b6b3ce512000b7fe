//! The dashboard: three plain files embedded in the binary (no build step on a fresh machine)
//! and `/api/events`, a server-sent event stream with the whole picture once a second.

use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use serde_json::json;
use tokio_stream::wrappers::IntervalStream;
use tokio_stream::{Stream, StreamExt};

use super::auth::{query_token, same};
use super::views::{accounts_json, latency_json, status_json, ticket_split_json, tickets_json};
use super::AdminShared;

const INDEX: &str = include_str!("dashboard/index.html");
const APP_JS: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/style.css");

/// `GET /`: the page; with the right `?token=`, the current picture is written into it, so the
/// page shows data as soon as it is parsed (before any request of its own: what a browser
/// dumping the DOM at its load event sees), then follows `/api/events`.
pub async fn index(State(s): State<Arc<AdminShared>>, uri: Uri) -> impl IntoResponse {
    let authorised = query_token(&uri).is_some_and(|t| same(t.as_bytes(), s.token.as_bytes()));
    let page = if authorised {
        let mut doc = picture(&s);
        let first = doc["tickets"][0]["ticket"].as_u64();
        doc["split"] = first.map_or(serde_json::Value::Null, |t| ticket_split_json(&s, t));
        // `<` escaped: the JSON sits inside a <script> element.
        let json = doc.to_string().replace('<', "\\u003c");
        INDEX.replace(
            "<script src=\"app.js\"></script>",
            &format!(
                "<script>window.MAM_INITIAL = {json};</script>\n<script src=\"app.js\"></script>"
            ),
        )
    } else {
        INDEX.to_string()
    };
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page)
}

/// Everything the page shows (each event's data).
fn picture(s: &AdminShared) -> serde_json::Value {
    json!({
        "status": status_json(s),
        "accounts": accounts_json(s),
        "tickets": tickets_json(s),
        "latency": latency_json(s),
        "manager": super::manager::manager_json(s),
    })
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
                Ok(Event::default()
                    .event("snapshot")
                    .data(picture(&s).to_string()))
            }
        });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
