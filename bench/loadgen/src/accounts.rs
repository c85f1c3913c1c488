//! Accounts and sessions on longpoll-chat (`POST /api/accounts`, `POST /api/sessions`), always
//! over the raw client: the bearer tokens of `--bearer-sessions`, and the sign-ins the
//! `sign-in-burst` scenario times. Names are unique to the run (they carry loadgen's pid), so a
//! server that outlives one run takes the next one's accounts too.

use std::{net::SocketAddr, sync::Arc};

use anyhow::{bail, Context, Result};
use tokio::task::JoinSet;

use crate::raw_conn::Conn;

/// Every bench account's password (the server wants at least 8 characters).
const PASSWORD: &str = "bench-password";

/// Accounts signed up or in at once while setting up: enough to keep the server's hashing
/// busy, whatever its number of hashing permits.
const SETUP_CONNECTIONS: usize = 8;

/// `count` account names unique to this run, starting with `purpose` (letters only).
pub(crate) fn account_names(purpose: &str, count: usize) -> Vec<String> {
    let pid = std::process::id();
    (0..count).map(|n| format!("{purpose}{pid}x{n}")).collect()
}

/// Posts `{"name","password"}` to `path`; the answer's status and body.
async fn post_credentials(conn: &mut Conn, path: &str, name: &str) -> Result<(u16, Vec<u8>)> {
    let body = serde_json::json!({ "name": name, "password": PASSWORD }).to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = conn.roundtrip(request.as_bytes()).await?;
    Ok((response.status, response.body.to_vec()))
}

/// Creates the account `name`.
pub(crate) async fn sign_up(conn: &mut Conn, name: &str) -> Result<()> {
    let (status, body) = post_credentials(conn, "/api/accounts", name).await?;
    if status != 201 {
        bail!(
            "sign-up of {name} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(())
}

/// Signs in as `name`: the session's token.
pub(crate) async fn sign_in(conn: &mut Conn, name: &str) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct SessionCreated {
        token: String,
    }
    let (status, body) = post_credentials(conn, "/api/sessions", name).await?;
    if status != 201 {
        // 429: the server's sign-in limits (`--sign-in-per-name`, `--sign-in-per-address`)
        // were not raised for the bench.
        bail!(
            "sign-in of {name} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let session: SessionCreated = serde_json::from_slice(&body).context("sign-in answer")?;
    Ok(session.token)
}

/// Creates the accounts `names`, a few at a time.
pub(crate) async fn sign_up_all(addr: SocketAddr, names: &[String]) -> Result<()> {
    for_each_name(addr, names, |mut conn, name| async move {
        sign_up(&mut conn, &name).await?;
        Ok((conn, ()))
    })
    .await
    .map(drop)
}

/// Signs `count` new accounts up and in: one `Authorization` value (`Bearer TOKEN`) each.
pub(crate) async fn bearer_sessions(
    addr: SocketAddr,
    purpose: &str,
    count: usize,
) -> Result<Vec<Arc<str>>> {
    let names = account_names(purpose, count);
    for_each_name(addr, &names, |mut conn, name| async move {
        sign_up(&mut conn, &name).await?;
        let token = sign_in(&mut conn, &name).await?;
        Ok((conn, Arc::from(format!("Bearer {token}"))))
    })
    .await
}

/// Runs `each` on every name, `SETUP_CONNECTIONS` connections each taking names in turn; the
/// results in the order of `names`.
async fn for_each_name<T, F, Fut>(addr: SocketAddr, names: &[String], each: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(Conn, String) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(Conn, T)>> + Send,
{
    let names: Arc<[String]> = names.into();
    let mut tasks = JoinSet::new();
    for first in 0..SETUP_CONNECTIONS.min(names.len()) {
        let (names, each) = (names.clone(), each.clone());
        tasks.spawn(async move {
            let mut conn = Conn::connect(addr).await?;
            let mut results = Vec::new();
            for index in (first..names.len()).step_by(SETUP_CONNECTIONS) {
                let (used, result) = each(conn, names[index].clone()).await?;
                conn = used;
                results.push((index, result));
            }
            anyhow::Ok(results)
        });
    }
    let mut results = Vec::with_capacity(names.len());
    while let Some(done) = tasks.join_next().await {
        results.extend(done??);
    }
    results.sort_unstable_by_key(|(index, _)| *index);
    Ok(results.into_iter().map(|(_, result)| result).collect())
}
