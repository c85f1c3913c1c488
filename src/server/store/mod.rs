//! Where messages live: a [`Store`] orders each room's log (its messages and the changes to
//! them, both [`Entry`]s), keeps it (within its [`Retention`]) and hands every committed entry
//! to a [`CommitSink`], the broker's rooms.
//!
//! Contract, checked for every store by one shared test suite (`tests/store_contract.rs`):
//! - when `append` resolves `Ok`, the entry is kept (durably, for a persistent store) and the
//!   sink has already received it;
//! - the sink receives each room's entries in exactly the order the store keeps them, with
//!   their offsets in the room, so a cursor means the same before and after a restart and on
//!   every instance sharing the store;
//! - a failed append reaches no sink and leaves the store as it was;
//! - `load` returns each room's most recent messages and the changes after the oldest of
//!   them, oldest first, and its total ever;
//! - retention counts messages: no number of changes deletes a message.

pub mod identity;
mod memory;
mod redis;
mod sqlite;

use std::{fmt, path::PathBuf, str::FromStr, sync::Arc, time::Duration};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{Entry, Person};

pub use identity::{IdentitySink, IdentityStore};
pub use memory::{MemoryIdentityStore, MemoryStore};
pub use redis::{RedisIdentityStore, RedisPrefix, RedisStore};
pub use sqlite::{SqliteIdentityStore, SqliteStore};

/// What a store tells the broker: committed entries, in commit order; and, for a store shared
/// by several instances, interruptions and clients disconnected on another instance.
pub trait CommitSink: Send + Sync + 'static {
    /// `offset` is the entry's position in its room, counting every entry the room ever had
    /// from 0. Offsets of a room arrive in increasing order; one the sink already has may
    /// arrive again (a store that learns of entries in more than one way), and a jump means the
    /// entries in between are gone from the store.
    fn committed(&self, entry: Entry, offset: u64);

    /// The store lost sight of new messages for a while (a shared store's connection broke);
    /// whatever it missed arrives once it is back.
    fn interrupted(&self) {}

    /// Another instance sharing the store disconnected `owner`'s client (`DELETE
    /// /api/client`).
    fn client_disconnected(&self, _owner: &str, _client_id: &str) {}

    /// The store lost the room's most recent messages (a shared store restarted without
    /// them): what the sink has of the room is gone, and its offsets go on from a lower one.
    fn rewound(&self, _room: &str) {}

    /// Another instance sharing the store, `instance`, said this of presence and typing.
    fn live_heard(&self, _instance: &str, _news: Vec<LiveNews>) {}
}

/// What instances sharing a store tell each other of who is online and typing: passed on, never
/// stored, so an instance that stops saying it is forgotten once what it said runs out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveNews {
    /// Who has a stream following the room on the sending instance (or had, within its grace
    /// period), guests counted. It replaces what the instance said of the room before, and
    /// lasts until the instance says it again or a few refresh periods pass.
    Presence {
        room: String,
        people: Vec<Person>,
        guests: usize,
    },
    /// `person` said on the sending instance that they are typing in `room`.
    Typing { room: String, person: Person },
    /// The sending instance joined (or came back): every instance says its presence again.
    Hello,
}

/// A room as a store hands it back at startup.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRoom {
    pub name: String,
    /// The most recent messages and every change after the oldest of them, oldest first.
    pub recent: Vec<Entry>,
    /// How many entries the room has ever had.
    pub total: u64,
}

/// How much a store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Past this many messages in a room, the oldest goes (with the changes before it) as a new
    /// one arrives. Changes do not count.
    pub max_messages_per_room: usize,
    /// Messages older than this are deleted in the background (persistent stores only).
    pub max_age: Option<Duration>,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_messages_per_room: 10_000,
            max_age: None,
        }
    }
}

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

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Keeps `entry` and hands it to the sink; resolves only after both.
    async fn append(&self, entry: Entry) -> Result<(), StoreError>;

    /// Every room's most recent `per_room` messages and the changes after the oldest of them,
    /// for the broker to start from.
    async fn load(&self, per_room: usize) -> Result<Vec<StoredRoom>, StoreError>;

    /// A cheap check that the store can serve, for health endpoints.
    async fn check(&self) -> Result<(), StoreError>;

    /// Hands the sink whatever the store has of `room` that the sink may not have yet. Only a
    /// store shared by several instances has anything to do here: the others hand over every
    /// message as they commit it.
    async fn catch_up(&self, _room: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Deletes every message of the room (its owner deleted it): a room of that name made
    /// later starts again from offset 0. The sink hears nothing: the room's deletion reaches
    /// each instance as an identity change.
    async fn delete_room(&self, room: &str) -> Result<(), StoreError>;

    /// Whether other instances share this store (and so its rooms and clients).
    fn is_shared(&self) -> bool {
        false
    }

    /// Records, for a shared store, that these clients (each `OWNER CLIENT-ID`, see
    /// [`ClientOwner`](crate::model::ClientOwner)'s text) were active on this instance just
    /// now.
    async fn record_active_clients(&self, _clients: Vec<String>) -> Result<(), StoreError> {
        Ok(())
    }

    /// For a shared store: if any instance reported `owner`'s client active, forgets it and
    /// tells every other instance to disconnect it; returns whether one had. Otherwise nothing
    /// is told, so an unknown answer never ends a poll anywhere.
    async fn disconnect_client(&self, _owner: &str, _client_id: &str) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// For a shared store: tells every other instance sharing it `news` (see
    /// [`CommitSink::live_heard`]).
    async fn publish_live(&self, _news: &[LiveNews]) -> Result<(), StoreError> {
        Ok(())
    }

    /// For a shared store, how many clients were active within `idle` on any instance;
    /// `None` when the store is not shared (each instance counts its own).
    async fn active_clients(&self, _idle: Duration) -> Result<Option<usize>, StoreError> {
        Ok(None)
    }
}

/// Which store to use, as given on the command line: `memory`, `sqlite:PATH` or
/// `redis://HOST:PORT/DB` (with `--redis-prefix`, see [`StoreConfig::with_redis_prefix`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// Nothing survives the process.
    Memory,
    /// A SQLite file, created (with its directory) if missing.
    Sqlite(PathBuf),
    /// A Redis shared with other instances: `redis://HOST:PORT/DB`, every key and channel
    /// under `prefix`; by default the prefix of the database (see [`RedisPrefix`]).
    Redis {
        url: String,
        prefix: Option<RedisPrefix>,
    },
}

impl StoreConfig {
    /// The same store, with a Redis one's keys and channels under `prefix` when given. Other
    /// stores have no prefix and are left as they are.
    pub fn with_redis_prefix(self, prefix: Option<RedisPrefix>) -> Self {
        match (self, prefix) {
            (Self::Redis { url, .. }, Some(prefix)) => Self::Redis {
                url,
                prefix: Some(prefix),
            },
            (config, _) => config,
        }
    }

    pub async fn open(
        &self,
        sink: Arc<dyn CommitSink>,
        retention: Retention,
    ) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match self {
            Self::Memory => Arc::new(MemoryStore::new(sink, retention)),
            Self::Sqlite(path) => Arc::new(SqliteStore::open(path, sink, retention)?),
            Self::Redis { url, prefix } => {
                Arc::new(RedisStore::open(url, prefix.as_ref(), sink, retention).await?)
            }
        })
    }

    /// The accounts, sessions and private rooms of the same store. `sink` hears of changes
    /// made by other instances sharing it.
    pub async fn open_identity(
        &self,
        sink: Arc<dyn IdentitySink>,
    ) -> Result<Arc<dyn IdentityStore>, StoreError> {
        Ok(match self {
            Self::Memory => Arc::new(MemoryIdentityStore::default()),
            // One instance: nobody to tell, so the sink is not needed.
            Self::Sqlite(path) => Arc::new(SqliteIdentityStore::open(path)?),
            Self::Redis { url, prefix } => {
                Arc::new(RedisIdentityStore::open(url, prefix.as_ref(), sink).await?)
            }
        })
    }
}

impl FromStr for StoreConfig {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.split_once(':') {
            None if value == "memory" => Ok(Self::Memory),
            Some(("sqlite", path)) if !path.is_empty() => Ok(Self::Sqlite(path.into())),
            Some(("redis", rest)) if rest.starts_with("//") => Ok(Self::Redis {
                url: value.to_owned(),
                prefix: None,
            }),
            _ => Err(format!(
                "unknown store {value:?}; expected `memory`, `sqlite:PATH` or `redis://HOST:PORT/DB`"
            )),
        }
    }
}

impl fmt::Display for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Redis { url, .. } => f.write_str(&redacted(url)),
        }
    }
}

/// The URL without the credentials it may carry (`redis://user:password@host`), for logs and
/// errors: a password is never printed.
pub(crate) fn redacted(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((_, host)) => format!("redis://***@{host}"),
        None => url.to_owned(),
    }
}
