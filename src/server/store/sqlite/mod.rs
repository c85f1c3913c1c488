//! The embedded default: the log, the identity and push stores in one SQLite file (WAL mode),
//! each part with its own connections: the log's writer thread and reader (`log`), the identity
//! store's and the push store's ([`Transactions`]). Whichever opens the file first creates it and runs the
//! pending migrations: [`MIGRATIONS`] is the schema of both.

mod identity;
mod log;
mod push;

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use super::StoreError;
use crate::server::search::{
    FILES_SCHEMA as SEARCH_FILES_SCHEMA, MENTIONS_SCHEMA as SEARCH_MENTIONS_SCHEMA,
    SCHEMA as SEARCH_SCHEMA,
};
pub use identity::SqliteIdentityStore;
pub use log::SqliteStore;
pub use push::SqlitePushStore;

/// Bytes the write-ahead log keeps on disk after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Schema versions, applied in order at startup; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: rooms and their messages.
    "CREATE TABLE rooms (
         name  TEXT PRIMARY KEY NOT NULL,
         total INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE messages (
         room      TEXT NOT NULL,
         seq       INTEGER NOT NULL,
         id        TEXT NOT NULL,
         sender    TEXT NOT NULL,
         text      TEXT NOT NULL,
         timestamp REAL NOT NULL,
         PRIMARY KEY (room, seq)
     ) WITHOUT ROWID;
     CREATE INDEX messages_by_time ON messages (timestamp);",
    // 2: whether the server vouched for the sender (messages from before were guests').
    "ALTER TABLE messages ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;",
    // 3: accounts, sessions and private rooms (`identity.rs`). `key` is the lowercase
    // name; the sessions index by expiry is what keeps deleting expired ones cheap.
    "CREATE TABLE accounts (
         key           TEXT PRIMARY KEY NOT NULL,
         name          TEXT NOT NULL,
         password_hash TEXT NOT NULL,
         disabled      INTEGER NOT NULL DEFAULT 0,
         created_at    REAL NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE sessions (
         token_hash BLOB PRIMARY KEY NOT NULL,
         account    TEXT NOT NULL,
         expires_at REAL NOT NULL
     ) WITHOUT ROWID;
     CREATE INDEX sessions_by_account ON sessions (account);
     CREATE INDEX sessions_by_expiry ON sessions (expires_at);
     CREATE TABLE private_rooms (
         name  TEXT PRIMARY KEY NOT NULL,
         owner TEXT NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE private_room_members (
         room    TEXT NOT NULL,
         account TEXT NOT NULL,
         PRIMARY KEY (room, account)
     ) WITHOUT ROWID;",
    // 4: the rooms each account joined and how far it read them (`identity.rs`);
    // `last_read` is a message id in canonical text, which orders as the id does. By room too,
    // for dropping a deleted room from everyone's list.
    "CREATE TABLE joined_rooms (
         account   TEXT NOT NULL,
         room      TEXT NOT NULL,
         last_read TEXT,
         PRIMARY KEY (account, room)
     ) WITHOUT ROWID;
     CREATE INDEX joined_rooms_by_room ON joined_rooms (room);",
    // 5: who may edit a message (`Message::author`), and changes to messages in the same log:
    // a row with `change_json` is a change.
    "ALTER TABLE messages ADD COLUMN author TEXT;
     ALTER TABLE messages ADD COLUMN change_json TEXT;",
    // 6: the search index (`server::search`), filled by the log's writer as it appends (and
    // once, at the next start, from the messages kept before it: see `log::index_kept`).
    SEARCH_SCHEMA,
    // 7: a message the log deletes (retention, a deleted room) leaves the index with it.
    "CREATE TRIGGER messages_gone AFTER DELETE ON messages WHEN old.change_json IS NULL BEGIN
         DELETE FROM search_messages WHERE id = old.id;
     END;",
    // 8: whom a message mentions (account keys, space-separated), in the log and the index.
    "ALTER TABLE messages ADD COLUMN mentions TEXT;",
    SEARCH_MENTIONS_SCHEMA,
    // 10: what an account hears of in a room it joined (`all`, `mentions`, `none`; NULL: the
    // room's default).
    "ALTER TABLE joined_rooms ADD COLUMN notify TEXT;",
    // 11: Web Push (`push.rs`): the server's VAPID key (one row) and the browsers'
    // subscriptions, by account and by the session they end with.
    "CREATE TABLE push_keys (
         id          INTEGER PRIMARY KEY CHECK (id = 1),
         private_key BLOB NOT NULL
     );
     CREATE TABLE push_subscriptions (
         endpoint   TEXT PRIMARY KEY NOT NULL,
         account    TEXT NOT NULL,
         session    BLOB NOT NULL,
         p256dh     TEXT NOT NULL,
         auth       TEXT NOT NULL,
         created_at REAL NOT NULL
     ) WITHOUT ROWID;
     CREATE INDEX push_subscriptions_by_account ON push_subscriptions (account, created_at);",
    // 12: the file a message carries (`server::files`), as JSON, in the log and the index.
    "ALTER TABLE messages ADD COLUMN attachment TEXT;",
    SEARCH_FILES_SCHEMA,
];

/// Opens the database at `path` (creating it and its directory if needed) with every migration
/// applied: what each store of the file starts from, whichever opens it first.
fn open_migrated(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |cause: &dyn std::fmt::Display| StoreError::Open {
        path: path.display().to_string(),
        cause: cause.to_string(),
    };
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|error| open_error(&error))?;
    }
    let mut connection = open_connection(path).map_err(|error| open_error(&error))?;
    migrate(&mut connection).map_err(|error| open_error(&error))?;
    Ok(connection)
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    // WAL lets the reader work while the writer commits; FULL syncs the WAL on every commit,
    // which is what makes an acknowledged message durable.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    // A big transaction (the first indexing for search) grows the WAL; after the next
    // checkpoint it goes back to at most this, rather than stay that size on disk.
    connection.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    connection.busy_timeout(Duration::from_secs(5))?;
    Ok(connection)
}

fn migrate(connection: &mut Connection) -> rusqlite::Result<()> {
    loop {
        // The version is read inside a write transaction, so two stores opening the file at
        // once (messages and identity) never both run the same migration.
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let applied: usize =
            transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let Some(migration) = MIGRATIONS.get(applied) else {
            return Ok(());
        };
        transaction.execute_batch(migration)?;
        transaction.pragma_update(None, "user_version", applied + 1)?;
        transaction.commit()?;
        tracing::info!(version = applied + 1, "applied database migration");
    }
}

/// A connection of its own, each call one transaction on a blocking thread: how the identity
/// and push stores use the file. The message writer thread never waits for them, nor they for
/// it beyond SQLite's busy timeout.
pub(super) struct Transactions {
    connection: Arc<Mutex<Connection>>,
}

impl Transactions {
    /// Opens (creating if needed) the database at `path`, running whatever migrations are
    /// pending, whichever store opens it first.
    fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            connection: Arc::new(Mutex::new(open_migrated(path)?)),
        })
    }

    /// Runs `change` in one write transaction.
    async fn write<T: Send + 'static>(
        &self,
        change: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        // Immediate: a transaction that reads before it writes would otherwise fail (busy
        // snapshot) whenever the message writer commits in between.
        self.run(TransactionBehavior::Immediate, change).await
    }

    /// Runs `query` in one read transaction.
    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run(TransactionBehavior::Deferred, query).await
    }

    async fn run<T: Send + 'static>(
        &self,
        behavior: TransactionBehavior,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut connection = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let transaction = connection.transaction_with_behavior(behavior)?;
            let result = work(&transaction)?;
            transaction.commit()?;
            Ok(result)
        })
        .await
        .map_err(|_| StoreError::Closed)?
        .map_err(|error: rusqlite::Error| StoreError::Unavailable(error.to_string()))
    }
}
