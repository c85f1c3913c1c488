//! The shared store: several instances keep their rooms, accounts and sessions in one Redis
//! and hear of each other's changes through it, so any instance can answer any request.
//!
//! - `log`: the message log (streams per room, published as appended);
//! - `identity`: accounts, sessions, private rooms and joined rooms, with the announcements that
//!   keep every instance's caches right;
//! - `push`: the VAPID key and push subscriptions;
//! - `cluster`: what the instances tell each other besides (active clients, disconnects,
//!   presence and typing);
//! - `keys`: the name of every key and channel, all under the deployment's [`RedisPrefix`]:
//!   pub/sub channels belong to the whole Redis server, so only the prefix keeps two
//!   deployments on one server from hearing each other;
//! - `subscription`: the one rule of each part's subscription (lost, reported, tried again,
//!   caught up).
//!
//! Each part has its own connection for commands (which reconnects by itself) and its own
//! subscription, and tells its own sink.

mod cluster;
mod identity;
mod keys;
mod log;
mod push;
mod subscription;

use std::time::Duration;

use redis::{
    aio::{ConnectionManager, ConnectionManagerConfig},
    Client, RedisError,
};

use super::{redacted, StoreError};
use crate::server::clock::unix_time;
pub use cluster::RedisCluster;
pub use identity::RedisIdentityStore;
pub use keys::RedisPrefix;
pub use log::RedisStore;
pub use push::RedisPushStore;

/// How long one command may take before the store counts as unavailable.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a subscription is checked with a PING, so a silently dead connection is noticed.
const PING_EVERY: Duration = Duration::from_secs(5);
/// Reconnection backoff after a subscription or the command connection breaks.
const RECONNECT_MIN: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// The store at `url` could not be opened; the error names the URL without its password.
fn open_error(url: &str, cause: impl std::fmt::Display) -> StoreError {
    StoreError::Open {
        path: redacted(url),
        cause: cause.to_string(),
    }
}

fn unavailable(error: RedisError) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

/// Connects to the Redis at `url`: a client (for subscriptions) and a connection for commands
/// that reconnects by itself, checked with a PING.
async fn connect(url: &str) -> Result<(Client, ConnectionManager), StoreError> {
    let client = Client::open(url).map_err(|error| open_error(url, error))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(RECONNECT_MAX);
    let mut commands = client
        .get_connection_manager_with_config(config)
        .await
        .map_err(|error| open_error(url, error))?;
    let _: String = redis::cmd("PING")
        .query_async(&mut commands)
        .await
        .map_err(|error| open_error(url, error))?;
    Ok((client, commands))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("unreadable {what} in redis"))
}

/// Unix milliseconds `ago` before now.
fn unix_millis(ago: Duration) -> u64 {
    unix_time().saturating_sub(ago).as_millis() as u64
}
