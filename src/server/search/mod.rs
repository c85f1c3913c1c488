//! Full-text search over every message a store keeps, as current as the room: an edit
//! replaces what is found, a deletion, a deleted room and retention remove it.
//!
//! - `terms`: what a word is (Unicode word rules, English stems, ideographs and emoji);
//! - `query`: a query as typed (words, `"phrases"`, `prefix*`) and the FTS5 expression for it;
//! - `snippet`: a result's text around what matched, the matches marked;
//! - `index`: the SQLite FTS5 tables and how an entry changes them, how they are searched;
//! - `indexer`: the in-memory index a store without one (memory, Redis) is given, filled from
//!   the entries the broker is handed.
//!
//! Who may find what is the chat service's to say ([`Scope::hidden`]): this module only finds.

mod index;
mod indexer;
mod query;
mod snippet;
mod terms;

use std::{
    path::Path,
    sync::{mpsc, Arc, Mutex},
    time::{Duration, Instant},
};

use rusqlite::Connection;
use tokio::sync::Semaphore;
use uuid::Uuid;

pub use index::{Found, Scope, FILES_SCHEMA, MENTIONS_SCHEMA, RANKED_MATCHES, SCHEMA};
pub use query::Query;
pub use snippet::snippet;

use crate::{
    error::ChatError,
    model::{Entry, Message},
    server::{
        metrics,
        store::{Retention, StoreError, StoredRoom},
    },
};

/// Searches at once; past them a search is answered 503 at once rather than queued, so a
/// flood of queries cannot hold every blocking thread.
pub const MAX_CONCURRENT_SEARCHES: usize = 4;

/// A cheap, cloneable handle to the index.
#[derive(Clone)]
pub struct SearchIndex {
    shared: Arc<Shared>,
}

struct Shared {
    /// Where searches read. For the SQLite store, connections of their own to the store's file,
    /// one per search that may run at once (WAL lets them read while the store's writer
    /// indexes); otherwise the in-memory database, shared with the indexer.
    connections: Vec<Arc<Mutex<Connection>>>,
    /// The indexer's queue, for an index this instance fills itself.
    indexer: Option<mpsc::Sender<indexer::Command>>,
    searches: Semaphore,
}

impl SearchIndex {
    /// The index the SQLite store keeps in its file, in step with its log.
    pub fn in_file(path: &Path) -> Result<Self, StoreError> {
        let open = || {
            let connection = Connection::open(path)?;
            // Only reads: the store's writer is the one that indexes.
            connection.pragma_update(None, "query_only", true)?;
            connection.busy_timeout(Duration::from_secs(5))?;
            Ok::<_, rusqlite::Error>(connection)
        };
        let connections = (0..MAX_CONCURRENT_SEARCHES)
            .map(|_| open().map(|connection| Arc::new(Mutex::new(connection))))
            .collect::<Result<_, _>>()
            .map_err(|error| StoreError::Open {
                path: path.display().to_string(),
                cause: error.to_string(),
            })?;
        Ok(Self::new(connections, None))
    }

    /// An index in memory, filled by [`SearchIndex::committed`]; with `loads`, first (and with
    /// live entries held back until then) by [`SearchIndex::loaded`].
    pub fn in_memory(retention: Retention, loads: bool) -> Result<Self, StoreError> {
        let unavailable = |cause: &dyn std::fmt::Display| StoreError::Open {
            path: "the in-memory search index".into(),
            cause: cause.to_string(),
        };
        let connection = Connection::open_in_memory().map_err(|error| unavailable(&error))?;
        for schema in [SCHEMA, MENTIONS_SCHEMA, FILES_SCHEMA] {
            connection
                .execute_batch(schema)
                .map_err(|error| unavailable(&error))?;
        }
        let connection = Arc::new(Mutex::new(connection));
        let indexer = indexer::Indexer::start(connection.clone(), retention, loads)
            .map_err(|error| unavailable(&error))?;
        Ok(Self::new(vec![connection], Some(indexer)))
    }

    fn new(
        connections: Vec<Arc<Mutex<Connection>>>,
        indexer: Option<mpsc::Sender<indexer::Command>>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                connections,
                indexer,
                searches: Semaphore::new(MAX_CONCURRENT_SEARCHES),
            }),
        }
    }

    /// The store committed `entry` at `offset` of its room (an index this instance fills).
    pub fn committed(&self, entry: &Entry, offset: u64) {
        if self.shared.indexer.is_some() {
            self.tell(indexer::Command::Committed(entry.clone(), offset));
        }
    }

    /// What the store kept at startup (an index that [`SearchIndex::in_memory`] `loads`).
    pub fn loaded(&self, rooms: Vec<StoredRoom>) {
        self.tell(indexer::Command::Loaded(rooms));
    }

    /// The room is gone (deleted, or lost by a shared store): so are its messages. The SQLite
    /// store's index loses them with the log's rows.
    pub fn forget_room(&self, room: &str) {
        self.tell(indexer::Command::Forget(room.to_owned()));
    }

    fn tell(&self, command: indexer::Command) {
        if let Some(indexer) = &self.shared.indexer {
            // Only fails once the indexer is gone, at shutdown.
            let _ = indexer.send(command);
        }
    }

    /// The messages matching `query` in `scope`, best first, after `before` (a result of the
    /// previous page); 404 when `before` is not a result of this query (any more: edited,
    /// deleted), as there is no telling where its page ended.
    pub async fn find(
        &self,
        query: Query,
        scope: Scope,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<Found, ChatError> {
        let started = Instant::now();
        let found = self
            .read(move |connection| {
                index::find(connection, &query, &scope, before, limit, RANKED_MATCHES)
            })
            .await?;
        metrics::record_search(started.elapsed());
        found.ok_or(ChatError::NoSuchMessage)
    }

    /// The room's messages around `id`, oldest first; 404 when the room does not keep it.
    pub async fn around(
        &self,
        room: &str,
        id: Uuid,
        limit: usize,
    ) -> Result<Vec<Message>, ChatError> {
        let room = room.to_owned();
        self.read(move |connection| index::around(connection, &room, id, limit))
            .await?
            .ok_or(ChatError::NoSuchMessage)
    }

    /// The newest messages mentioning `account` (a key), outside `hidden` rooms.
    pub async fn mentions_of(
        &self,
        account: &str,
        hidden: Vec<String>,
        limit: usize,
    ) -> Result<Vec<Message>, ChatError> {
        let account = account.to_owned();
        self.read_in_turn(move |connection| {
            index::mentions_of(connection, &account, &hidden, limit)
        })
        .await
    }

    /// For each room and read position, how many messages after it mention `account`.
    pub async fn unread_mentions(
        &self,
        account: &str,
        rooms: Vec<(String, Option<Uuid>)>,
    ) -> Result<Vec<usize>, ChatError> {
        let account = account.to_owned();
        self.read_in_turn(move |connection| {
            (rooms.iter())
                .map(|(room, read)| index::unread_mentions(connection, &account, room, *read))
                .collect()
        })
        .await
    }

    /// Whether a kept message that is not deleted carries the file.
    pub async fn carries_file(&self, file_id: Uuid) -> Result<bool, ChatError> {
        self.read_in_turn(move |connection| index::carries_file(connection, file_id))
            .await
    }

    /// As [`SearchIndex::read`], for a cheap read everyone's page makes (mentions, unread
    /// counts): it waits its turn rather than be refused.
    async fn read_in_turn<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, ChatError> {
        let _permit = (self.shared.searches.acquire().await)
            .map_err(|_| ChatError::busy("the server is shutting down", 1))?;
        self.run(query).await
    }

    /// Runs `query` unless [`MAX_CONCURRENT_SEARCHES`] run already (503).
    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, ChatError> {
        let _permit = self
            .shared
            .searches
            .try_acquire()
            .map_err(|_| ChatError::busy("too many searches at once, retry in a moment", 1))?;
        self.run(query).await
    }

    /// Runs `query` on a blocking thread, once the index has everything queued before it.
    async fn run<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, ChatError> {
        let connections = self.shared.connections.clone();
        let flushed = self.shared.indexer.as_ref().map(|indexer| {
            let (done, flushed) = mpsc::channel();
            let _ = indexer.send(indexer::Command::Flush(done));
            flushed
        });
        tokio::task::spawn_blocking(move || {
            if let Some(flushed) = flushed {
                // Only fails once the indexer is gone, at shutdown.
                let _ = flushed.recv();
            }
            // A free one, if any (there are as many as searches may run at once, but for the
            // one the in-memory index shares with its indexer, which everyone waits for).
            let free = connections
                .iter()
                .find_map(|connection| connection.try_lock().ok());
            let connection = free.unwrap_or_else(|| {
                connections[0]
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
            });
            query(&connection)
        })
        .await
        .map_err(|_| StoreError::Closed.reported("search"))?
        .map_err(|error| StoreError::Unavailable(error.to_string()).reported("search"))
    }
}

/// Keeps `entry` in an index in `connection`'s database: what the SQLite store's writer does
/// in the transaction that appends it.
pub fn index_entry(connection: &Connection, entry: &Entry) -> rusqlite::Result<()> {
    index::apply(connection, entry).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_search_past_the_concurrent_ones_is_refused_at_once_not_queued() {
        let index = SearchIndex::in_memory(Retention::default(), false).unwrap();
        let query = || Query::parse("anything").unwrap();
        let held = index
            .shared
            .searches
            .acquire_many(MAX_CONCURRENT_SEARCHES as u32)
            .await
            .unwrap();
        let refused = index.find(query(), Scope::default(), None, 10).await;
        assert_eq!(refused.unwrap_err().status_code(), 503);
        drop(held);
        assert!(index
            .find(query(), Scope::default(), None, 10)
            .await
            .is_ok());
    }
}
