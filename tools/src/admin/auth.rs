//! The admin token: `Authorization: Bearer <token>` (or `?token=<token>` where a client cannot
//! set a header: the browser's EventSource). Without a configured token the daemon makes one
//! on its first start and keeps it in the state directory (`admin.token`, mode 0600), the way
//! Jupyter does: nothing is ever served unauthenticated by default.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::views::error;
use super::AdminShared;

/// The configured token (already [checked](crate::daemon::config::check_token)), or the one in `state/admin.token`
/// (made on first use from 16 bytes of the OS's random source).
pub fn load_or_create_token(configured: Option<&str>, state: &Path) -> anyhow::Result<String> {
    if let Some(t) = configured {
        return Ok(t.to_string());
    }
    let path = state.join("admin.token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_string();
        anyhow::ensure!(
            t.len() >= 16,
            "{}: shorter than 16 characters (delete it to get a new one)",
            path.display()
        );
        return Ok(t);
    }
    let mut raw = [0u8; 16];
    random_bytes(&mut raw).context("reading the OS random source for the admin token")?;
    let t: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    crate::out_file::write_all(&path, t.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    restrict(&path)?;
    Ok(t)
}

#[cfg(unix)]
fn restrict(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("chmod 600 {}", path.display()))
}

#[cfg(not(unix))]
fn restrict(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

fn random_bytes(out: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(out)
}

/// Equal lengths compared without an early exit, so the time taken says nothing about how
/// much of a guess was right.
pub(super) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `token=` of a query string, if any.
pub(super) fn query_token(uri: &axum::http::Uri) -> Option<String> {
    uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_string)
    })
}

/// Middleware: 401 with a JSON error unless the request carries the token.
pub async fn require_token(
    State(s): State<Arc<AdminShared>>,
    req: Request,
    next: Next,
) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let query = query_token(req.uri());
    let given = header.map(str::to_string).or(query);
    match given {
        Some(t) if same(t.as_bytes(), s.token.as_bytes()) => next.run(req).await,
        Some(_) => error(StatusCode::UNAUTHORIZED, "token", "wrong token"),
        None => error(
            StatusCode::UNAUTHORIZED,
            "token",
            "missing: send `Authorization: Bearer <token>` (the token is admin.token in the \
             state directory unless admin.token is set)",
        ),
    }
}
