//! The one harness of the integration tests: `tests/suite`'s, and the attacks' of
//! `tests/abuse.rs`. Each area uses a part of it.
//!
//! - [`accounts`]: signing up and in, and requests carrying a bearer token or a cookie.
//! - [`app`]: the whole application in-process, as `main` assembles it, with requests sent
//!   through `tower::ServiceExt::oneshot`, and waits on the broker's held polls.
//! - [`cluster`]: two instances of the real server on one private Redis.
//! - [`process`]: the real `longpoll-chat` binary and an HTTP client for it.
//! - [`redis`]: a private `redis-server` for one test.
//! - [`s3`]: a private S3-compatible server (moto) for one test.
//!
//! Every wait here fails after a bound instead of spinning forever.

pub mod accounts;
pub mod app;
pub mod cluster;
pub mod process;
pub mod redis;
pub mod s3;

use std::{future::Future, time::Duration};

/// Checks `condition` until it holds, failing after `within` (a check that hangs, too): for
/// what becomes true on its own outside the test's control (a poll getting held by a server
/// process, a reconnection, stats shared once a second). It checks every 10 ms of tokio time,
/// so it is not for a paused clock: in-process waits use [`app::TestApp::until_held`].
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let holds = async {
        while !condition().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(within, holds)
        .await
        .unwrap_or_else(|_| panic!("not within {within:?}: {what}"));
}
