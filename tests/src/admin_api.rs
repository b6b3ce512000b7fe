//! The daemon's admin API as the end-to-end tests call it (docs/admin.md): the address the
//! daemon prints, the token it keeps in the state directory, JSON in and out.

use std::path::Path;

use serde_json::Value;

use crate::daemon::Proc;

/// A running daemon's admin API.
#[derive(Debug, Clone)]
pub struct Api {
    /// `http://HOST:PORT`.
    pub base: String,
    /// The bearer token (`STATE/admin.token`).
    pub token: String,
}

impl Api {
    /// The API of `daemon` (started with `[admin] enabled`), state directory `state`.
    pub fn new(daemon: &Proc, state: &Path) -> Api {
        let out = daemon.output();
        let base = out
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("admin: http://"))
            .and_then(|r| r.split('/').next())
            .map(|a| format!("http://{a}"))
            .expect("the daemon prints the admin address");
        let token = std::fs::read_to_string(state.join("admin.token"))
            .expect("admin.token in the state directory")
            .trim()
            .to_string();
        Api { base, token }
    }

    /// Status and JSON body of a request with `token` (none: no Authorization header), any
    /// status.
    pub fn call_as(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut req = ureq::request(method, &format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let r = match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(b),
            None => req.call(),
        };
        let resp = match r {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let text = resp.into_string().expect("body");
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    /// As [`call_as`](Self::call_as) with the daemon's token.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        self.call_as(method, path, body, Some(&self.token))
    }

    /// Waits until the engine has published its first snapshot (before it, `/api/status`
    /// answers with an empty engine and the views that need one answer 503).
    pub fn wait_first_snapshot(&self) {
        crate::daemon::wait_until("the engine's first snapshot", || {
            let (s, v) = self.call("GET", "/api/status", None);
            s == 200 && v["engine"]["snapshot_version"].as_u64() > Some(0)
        });
    }

    /// A GET that must answer 200.
    pub fn get(&self, path: &str) -> Value {
        let (s, v) = self.call("GET", path, None);
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    /// A write with a JSON body: status and answer.
    pub fn send(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        self.call(method, path, Some(body))
    }

    /// A GET's body as text (`/metrics`).
    pub fn text(&self, path: &str) -> String {
        ureq::get(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .call()
            .expect("GET")
            .into_string()
            .expect("body")
    }
}
