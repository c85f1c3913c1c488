//! Where what the chat keeps lives, behind three traits that each say one thing:
//! - [`LogStore`] (`log`): each room's log of messages and changes, handed to a [`CommitSink`];
//! - [`IdentityStore`] (`identity`): accounts, sessions, private rooms, joined rooms;
//! - [`PushStore`] (`push`): the VAPID key and browsers' push subscriptions;
//! - [`Cluster`] (`cluster`): what instances sharing a store tell each other (active clients,
//!   disconnects, presence), apart from the log. Only a shared store has one.
//!
//! One module per backend, each with its parts: `memory` (log, identity), `sqlite` (log,
//! identity, in one file), `redis` (log, identity, cluster, their keys, and the subscription
//! they share the rule of). [`StoreConfig`] (`config`) names the backend and opens each part;
//! one contract suite (`tests/suite/store_contract.rs`) runs on each backend.
//!
//! A failure of any store reaches a client the same way: [`StoreError::reported`] logs it with
//! its cause, counts it (`chat_store_errors_total`) and answers [`ChatError::StoreUnavailable`],
//! whose body carries no internals.

mod cluster;
mod config;
pub mod identity;
mod log;
mod memory;
pub mod push;
mod redis;
mod sqlite;

pub use cluster::{Cluster, ClusterSink, LiveNews};
pub(crate) use config::redacted;
pub use config::StoreConfig;
pub use identity::{IdentitySink, IdentityStore};
pub use log::{CommitSink, LogStore, Retention, StoredRoom};
pub use memory::{MemoryIdentityStore, MemoryPushStore, MemoryStore};
pub use push::{PushStore, PushSubscriptionRecord};
pub use redis::{RedisCluster, RedisIdentityStore, RedisPrefix, RedisPushStore, RedisStore};
pub use sqlite::{SqliteIdentityStore, SqlitePushStore, SqliteStore};

use super::metrics;
use crate::error::ChatError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be opened at startup.
    #[error("cannot open {path}: {cause}")]
    Open { path: String, cause: String },
    /// A read or write failed (full disk, I/O error...); the server keeps running.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store has shut down.
    #[error("store is closed")]
    Closed,
}

impl StoreError {
    /// The failure as a client sees it, whichever store failed (log, cluster or identity):
    /// logged with its cause as `what` failing, and counted in `chat_store_errors_total`.
    pub fn reported(self, what: &str) -> ChatError {
        tracing::error!(error = %self, "{what} failed");
        metrics::count_store_error();
        ChatError::StoreUnavailable
    }
}
