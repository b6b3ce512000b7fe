//! `mam accounts import --daemon URL CSV`: accounts added or changed on a running daemon
//! through its admin API (docs/admin.md), each row turned into journaled engine inputs there.
//!
//! The whole CSV is parsed and checked first (a bad row refuses the file, nothing sent). Then,
//! per row: an id the daemon does not hold is added (`POST /api/accounts`, with every
//! setting the row gives); an id it holds gets the settings that differ (`PATCH`). Money a
//! running account holds is the engine's (positions, P&L): an existing account's `balance`,
//! `equity`, `margin_used` and `equity_hwm` cells are not applied — a balance that differs is
//! reported, and a deposit or withdrawal (`POST /api/accounts/{id}/balance`) moves money. A
//! refused request stops the import and says which row; the rows before it stay applied
//! (each is journaled on its own), and the output says which.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};
use mam_core::account::AccountRecord;
use serde_json::{json, Map, Value};

use crate::accounts_io::{limit_action, read_csv};

/// Where the daemon's admin API is and the token it wants.
pub struct Daemon {
    base: String,
    token: String,
}

impl Daemon {
    /// `url` as given (`http://127.0.0.1:9880`); the token from `token_file`, else the
    /// `MAM_ADMIN_TOKEN` environment variable.
    pub fn new(url: &str, token_file: Option<&Path>) -> anyhow::Result<Self> {
        let base = url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            bail!("--daemon {url:?}: expected http://HOST:PORT (the admin API's address)");
        }
        let token = match token_file {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("reading the admin token {}", p.display()))?,
            None => std::env::var("MAM_ADMIN_TOKEN").map_err(|_| {
                anyhow::anyhow!(
                    "no admin token: give --token-file STATE/admin.token or set MAM_ADMIN_TOKEN"
                )
            })?,
        };
        Ok(Daemon {
            base,
            token: token.trim().to_string(),
        })
    }

    /// One request; the answer's JSON, or an error with the daemon's reason and field.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let req = ureq::request(method, &url)
            .set("Authorization", &format!("Bearer {}", self.token))
            .timeout(std::time::Duration::from_secs(30));
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match res {
            Ok(r) => r
                .into_json()
                .with_context(|| format!("{method} {url}: the answer is not JSON")),
            Err(ureq::Error::Status(code, r)) => {
                let v: Value = r.into_json().unwrap_or(Value::Null);
                bail!(
                    "{method} {url}: {code}: {} (field `{}`)",
                    v["error"].as_str().unwrap_or("no reason given"),
                    v["field"].as_str().unwrap_or("?")
                )
            }
            Err(e) => bail!("{method} {url}: {e}"),
        }
    }
}

/// `id` percent-encoded for a URL path (an id may hold `/`, `#`, `?` or `%`).
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The settings of `r` as the admin API spells them (status, limit action and every model
/// parameter and limit; not the money the engine owns).
fn settings(r: &AccountRecord) -> Map<String, Value> {
    let v = json!({
        "status": crate::admin::status_name(r.flags),
        "limit_action": limit_action(r.flags),
        "leverage": r.leverage,
        "multiplier": r.multiplier.to_string(),
        "percent": r.percent.to_string(),
        "fixed_lots": r.fixed_lots.to_string(),
        "risk_fraction": r.risk_fraction.to_string(),
        "drawdown_tolerance": r.drawdown_tolerance.to_string(),
        "min_scale": r.min_scale.to_string(),
        "max_scale": r.max_scale.to_string(),
        "daily_loss_limit": r.daily_loss_limit.to_string(),
        "commission_per_lot": r.commission_per_lot.to_string(),
        "margin_call_level": r.margin_call_level.to_string(),
        "stop_out_level": r.stop_out_level.to_string(),
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The settings that differ from what the daemon shows for the account.
fn changed(want: &Map<String, Value>, have: &Value) -> Map<String, Value> {
    want.iter()
        .filter(|(k, v)| have.get(k.as_str()) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Runs the import; prints one line per row that did something and a total.
pub fn import(daemon: &Daemon, csv: &Path) -> anyhow::Result<()> {
    let rows = read_csv(csv)?;
    let list = daemon.call("GET", "/api/accounts", None)?;
    let have: HashMap<String, Value> = list
        .as_array()
        .or_else(|| list["accounts"].as_array())
        .context("GET /api/accounts: expected a list of accounts")?
        .iter()
        .filter_map(|a| Some((a["id"].as_str()?.to_string(), a.clone())))
        .collect();
    let (mut added, mut updated, mut same) = (0usize, 0usize, 0usize);
    for (line, r) in &rows {
        let id = r.id_str();
        let at = || format!("{} line {line} (account {id})", csv.display());
        let want = settings(r);
        match have.get(id) {
            None => {
                let mut body = want;
                body.insert("id".into(), json!(id));
                body.insert("balance".into(), json!(r.balance.to_string()));
                body.insert("currency".into(), json!(r.currency_str()));
                body.insert("cluster".into(), json!(r.cluster));
                let v = daemon.call("POST", "/api/accounts", Some(&Value::Object(body)));
                let v = v.with_context(|| format!("{}: not added", at()))?;
                println!("added {id} at index {}", v["index"]);
                added += 1;
            }
            Some(cur) => {
                let diff = changed(&want, cur);
                if cur["balance"].as_str() != Some(r.balance.to_string().as_str()) {
                    println!(
                        "note: {}: balance {} in the CSV, {} in the daemon: not changed (a \
                         running account's money moves by deposits and withdrawals)",
                        at(),
                        r.balance,
                        cur["balance"].as_str().unwrap_or("?")
                    );
                }
                if diff.is_empty() {
                    same += 1;
                    continue;
                }
                let names: Vec<&str> = diff.keys().map(String::as_str).collect();
                let path = format!("/api/accounts/{}", path_segment(id));
                let fields = names.join(", ");
                daemon
                    .call("PATCH", &path, Some(&Value::Object(diff.clone())))
                    .with_context(|| format!("{}: {fields} not changed", at()))?;
                println!("changed {id}: {fields}");
                updated += 1;
            }
        }
    }
    println!(
        "imported {} rows from {} into {}: {added} added, {updated} changed, {same} unchanged",
        rows.len(),
        csv.display(),
        daemon.base
    );
    Ok(())
}
