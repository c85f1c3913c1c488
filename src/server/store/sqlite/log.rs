//! The embedded default: each room's log (messages and the changes to them) in one SQLite file
//! (WAL mode), written by one thread that commits in groups.
//!
//! Every append goes to the writer thread. It takes whatever has queued up while its previous
//! commit ran, writes it in one transaction and syncs once, then hands the messages to the sink
//! in commit order and only then acknowledges them. So an acknowledged message is on disk, and a
//! failed commit (a full disk, say) is reported to every sender of the batch and reaches no poll.
//!
//! Deleting a room goes through the writer thread too, so it is ordered with appends: the
//! room's messages and its count go in one transaction, and the next append starts it again
//! at offset 0.
//!
//! Tables (see [`MIGRATIONS`](super::MIGRATIONS)): `rooms(name, total)` counts every entry a room
//! ever had; `messages(room, seq, ...)` keeps the most recent ones, `seq` being the room's
//! offset. A change is a row whose `change_json` holds it (its `sender` is who made it, its text
//! empty).

use std::{
    collections::HashMap,
    path::Path,
    sync::{mpsc, Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use rusqlite::{params, types::Type, Connection, OptionalExtension, Row};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::{open_connection, open_migrated};
use crate::{
    model::{Change, Entry, Message},
    server::{
        clock::unix_time,
        search,
        store::{CommitSink, LogStore, Retention, StoreError, StoredRoom},
    },
};

/// The most appends committed in one transaction.
const MAX_BATCH: usize = 4_096;
/// Age-based retention runs at most this often, deleting at most `PRUNE_CHUNK` rows at a time,
/// so it never holds the writer for long.
const PRUNE_EVERY: Duration = Duration::from_secs(30);
const PRUNE_CHUNK: usize = 5_000;

pub struct SqliteStore {
    commands: mpsc::Sender<Command>,
    /// For startup loading and health checks; writes go through the writer thread only.
    reader: Arc<Mutex<Connection>>,
}

/// What the writer thread does, in the order asked.
enum Command {
    Append(Append),
    /// Deletes every message of the room and its count.
    DeleteRoom {
        room: String,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
}

struct Append {
    entry: Entry,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// What one commit gave each append of its batch: the entry's offset in its room.
type Offsets = Vec<u64>;

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    pub fn open(
        path: &Path,
        sink: Arc<dyn CommitSink>,
        retention: Retention,
    ) -> Result<Self, StoreError> {
        Self::open_with_page_limit(path, sink, retention, None)
    }

    /// [`open`](Self::open), with the file capped at `max_pages` pages: lets tests run the
    /// store into a full disk.
    #[doc(hidden)]
    pub fn open_with_page_limit(
        path: &Path,
        sink: Arc<dyn CommitSink>,
        retention: Retention,
        max_pages: Option<u32>,
    ) -> Result<Self, StoreError> {
        let open_error = |cause: &dyn std::fmt::Display| StoreError::Open {
            path: path.display().to_string(),
            cause: cause.to_string(),
        };
        let mut writer = open_migrated(path)?;
        index_kept(&mut writer).map_err(|error| open_error(&error))?;
        if let Some(pages) = max_pages {
            writer
                .pragma_update(None, "max_page_count", pages)
                .map_err(|error| open_error(&error))?;
        }
        let next_seq = room_totals(&writer).map_err(|error| open_error(&error))?;
        let kept_messages = kept_messages(&writer).map_err(|error| open_error(&error))?;
        let reader = open_connection(path).map_err(|error| open_error(&error))?;

        let (commands, queue) = mpsc::channel();
        let mut writer = Writer {
            connection: writer,
            sink,
            retention,
            next_seq,
            kept_messages,
            last_prune: Instant::now(),
        };
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer.run(&queue))
            .map_err(|error| open_error(&error))?;
        Ok(Self {
            commands,
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    /// Runs `query` on the reader connection on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let connection = reader
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            query(&connection)
        })
        .await
        .map_err(|_| StoreError::Closed)?
        .map_err(|error| StoreError::Unavailable(error.to_string()))
    }
}

/// An entry as `messages` keeps it, from a row of `id, sender, text, timestamp, verified,
/// author, change_json, mentions, attachment`.
fn stored_entry(row: &Row, room: &str) -> rusqlite::Result<Entry> {
    if let Some(json) = row.get::<_, Option<String>>(6)? {
        let change: Change = serde_json::from_str(&json).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(6, Type::Text, error.into())
        })?;
        return Ok(Entry::from(change));
    }
    let id: String = row.get(0)?;
    let id = Uuid::parse_str(&id)
        .map_err(|error| rusqlite::Error::FromSqlConversionFailure(0, Type::Text, error.into()))?;
    Ok(Entry::from(Message {
        id,
        sender: row.get(1)?,
        text: row.get(2)?,
        timestamp: row.get(3)?,
        room: room.to_owned(),
        verified: row.get(4)?,
        author: row.get(5)?,
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        mentions: split_mentions(row.get::<_, Option<String>>(7)?),
        attachment: match row.get::<_, Option<String>>(8)? {
            Some(json) => Some(serde_json::from_str(&json).map_err(|error| {
                rusqlite::Error::FromSqlConversionFailure(8, Type::Text, error.into())
            })?),
            None => None,
        },
    }))
}

/// Mentions as the `mentions` column keeps them: account keys, space-separated.
fn split_mentions(kept: Option<String>) -> Vec<String> {
    kept.unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Fills the search index from the messages kept before it existed: once, when the log keeps
/// messages and the index has none.
fn index_kept(connection: &mut Connection) -> rusqlite::Result<()> {
    let missing: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE change_json IS NULL)
                AND NOT EXISTS (SELECT 1 FROM search_messages)",
        [],
        |row| row.get(0),
    )?;
    if !missing {
        return Ok(());
    }
    let transaction = connection.transaction()?;
    let mut indexed = 0_u64;
    {
        let mut rows = transaction.prepare(
            "SELECT id, sender, text, timestamp, verified, author, change_json, mentions,
                    attachment, room
             FROM messages ORDER BY room, seq",
        )?;
        let mut rows = rows.query([])?;
        while let Some(row) = rows.next()? {
            let room: String = row.get(9)?;
            search::index_entry(&transaction, &stored_entry(row, &room)?)?;
            indexed += 1;
        }
    }
    transaction.commit()?;
    // One transaction leaves the index in many segments, which every later append would pay
    // to merge: merged once, now.
    connection.execute("INSERT INTO search (search) VALUES ('optimize')", [])?;
    tracing::info!(entries = indexed, "indexed the kept messages for search");
    Ok(())
}

fn room_totals(connection: &Connection) -> rusqlite::Result<HashMap<String, u64>> {
    let mut statement = connection.prepare("SELECT name, total FROM rooms")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// How many messages (not changes) each room keeps: what retention counts.
fn kept_messages(connection: &Connection) -> rusqlite::Result<HashMap<String, u64>> {
    let mut statement = connection
        .prepare("SELECT room, count(*) FROM messages WHERE change_json IS NULL GROUP BY room")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

struct Writer {
    connection: Connection,
    sink: Arc<dyn CommitSink>,
    retention: Retention,
    /// Each room's next `seq` (= its total so far).
    next_seq: HashMap<String, u64>,
    /// Each room's messages in the table, for retention.
    kept_messages: HashMap<String, u64>,
    last_prune: Instant,
}

impl Writer {
    /// Commits batches until every [`SqliteStore`] handle is gone.
    fn run(&mut self, queue: &mpsc::Receiver<Command>) {
        while let Ok(first) = queue.recv() {
            let mut next = Some(first);
            while let Some(command) = next.take() {
                match command {
                    Command::Append(append) => {
                        // A batch stops at the first other command, which runs after it.
                        let mut batch = vec![append];
                        while batch.len() < MAX_BATCH {
                            match queue.try_recv() {
                                Ok(Command::Append(append)) => batch.push(append),
                                Ok(other) => {
                                    next = Some(other);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        self.commit_and_acknowledge(batch);
                    }
                    Command::DeleteRoom { room, done } => {
                        let deleted = self.delete_room(&room).map_err(|error| {
                            tracing::error!(%error, %room, "sqlite room deletion failed");
                            StoreError::Unavailable(error.to_string())
                        });
                        let _ = done.send(deleted);
                    }
                }
            }
            if self.last_prune.elapsed() >= PRUNE_EVERY {
                self.last_prune = Instant::now();
                if let Err(error) = self.prune_by_age() {
                    tracing::warn!(%error, "sqlite age-based pruning failed");
                }
            }
        }
    }

    fn commit_and_acknowledge(&mut self, batch: Vec<Append>) {
        match self.commit(&batch) {
            Ok(offsets) => {
                for (append, offset) in batch.into_iter().zip(offsets) {
                    self.sink.committed(append.entry, offset);
                    let _ = append.done.send(Ok(()));
                }
            }
            Err(error) => {
                tracing::error!(%error, entries = batch.len(), "sqlite commit failed");
                for append in batch {
                    let _ = append
                        .done
                        .send(Err(StoreError::Unavailable(error.to_string())));
                }
            }
        }
    }

    /// Deletes the room's messages and count; its offsets start again from 0.
    fn delete_room(&mut self, room: &str) -> rusqlite::Result<()> {
        let transaction = self.connection.transaction()?;
        transaction.execute("DELETE FROM messages WHERE room = ?1", params![room])?;
        transaction.execute("DELETE FROM rooms WHERE name = ?1", params![room])?;
        transaction.commit()?;
        // Only once the deletion is durable, as with offsets taken in `commit`.
        self.next_seq.remove(room);
        self.kept_messages.remove(room);
        Ok(())
    }

    fn commit(&mut self, batch: &[Append]) -> rusqlite::Result<Offsets> {
        // Sequence numbers are only taken over once the transaction is durable.
        let mut next_seq: HashMap<&str, u64> = HashMap::new();
        let mut kept_messages: HashMap<&str, u64> = HashMap::new();
        let mut offsets = Vec::with_capacity(batch.len());
        let transaction = self.connection.transaction()?;
        {
            let mut insert = transaction.prepare_cached(
                "INSERT INTO messages
                     (room, seq, id, sender, text, timestamp, verified, author, change_json,
                      mentions, attachment)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for append in batch {
                let room = append.entry.room();
                let seq = next_seq
                    .entry(room)
                    .or_insert_with(|| self.next_seq.get(room).copied().unwrap_or(0));
                match &append.entry {
                    Entry::Message(message) => insert.execute(params![
                        room,
                        *seq as i64,
                        message.id.to_string(),
                        message.sender,
                        message.text,
                        message.timestamp,
                        message.verified,
                        message.author,
                        None::<String>,
                        (!message.mentions.is_empty()).then(|| message.mentions.join(" ")),
                        match &message.attachment {
                            Some(file) => Some(serde_json::to_string(file).map_err(|error| {
                                rusqlite::Error::ToSqlConversionFailure(error.into())
                            })?),
                            None => None,
                        },
                    ])?,
                    Entry::Change(change) => insert.execute(params![
                        room,
                        *seq as i64,
                        change.id.to_string(),
                        change.by,
                        "",
                        change.timestamp,
                        true,
                        change.author,
                        serde_json::to_string(change).map_err(|error| {
                            rusqlite::Error::ToSqlConversionFailure(error.into())
                        })?,
                        None::<String>,
                        None::<String>,
                    ])?,
                };
                search::index_entry(&transaction, &append.entry)?;
                offsets.push(*seq);
                *seq += 1;
                let kept = kept_messages
                    .entry(room)
                    .or_insert_with(|| self.kept_messages.get(room).copied().unwrap_or(0));
                if append.entry.message().is_some() {
                    *kept += 1;
                }
            }
            let mut upsert = transaction.prepare_cached(
                "INSERT INTO rooms (name, total) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET total = excluded.total",
            )?;
            // Retention counts messages: the oldest ones past it go with the changes before
            // them (applied to messages that go too, or older than any kept one).
            let mut oldest_kept = transaction.prepare_cached(
                "SELECT seq FROM messages WHERE room = ?1 AND change_json IS NULL
                 ORDER BY seq LIMIT 1 OFFSET ?2",
            )?;
            let mut trim =
                transaction.prepare_cached("DELETE FROM messages WHERE room = ?1 AND seq < ?2")?;
            for (room, total) in &next_seq {
                upsert.execute(params![room, *total as i64])?;
            }
            for (room, kept) in &mut kept_messages {
                let excess = kept.saturating_sub(self.retention.max_messages_per_room as u64);
                if excess > 0 {
                    let keep_from: Option<i64> = oldest_kept
                        .query_row(params![room, excess as i64], |row| row.get(0))
                        .optional()?;
                    if let Some(keep_from) = keep_from {
                        trim.execute(params![room, keep_from])?;
                    }
                    *kept -= excess;
                }
            }
        }
        transaction.commit()?;
        for (room, total) in next_seq {
            self.next_seq.insert(room.to_owned(), total);
        }
        for (room, kept) in kept_messages {
            self.kept_messages.insert(room.to_owned(), kept);
        }
        Ok(offsets)
    }

    fn prune_by_age(&mut self) -> rusqlite::Result<()> {
        let Some(max_age) = self.retention.max_age else {
            return Ok(());
        };
        let cutoff = unix_time().saturating_sub(max_age).as_secs_f64();
        let deleted = self.connection.execute(
            "DELETE FROM messages WHERE (room, seq) IN (
                 SELECT room, seq FROM messages WHERE timestamp < ?1 LIMIT ?2)",
            params![cutoff, PRUNE_CHUNK as i64],
        )?;
        if deleted > 0 {
            tracing::debug!(deleted, "pruned messages older than the retention age");
            self.kept_messages = kept_messages(&self.connection)?;
        }
        Ok(())
    }
}

#[async_trait]
impl LogStore for SqliteStore {
    async fn append(&self, entry: Entry) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        let append = Append { entry, done };
        self.commands
            .send(Command::Append(append))
            .map_err(|_| StoreError::Closed)?;
        committed.await.map_err(|_| StoreError::Closed)?
    }

    async fn load(&self, per_room: usize) -> Result<Vec<StoredRoom>, StoreError> {
        self.read(move |connection| {
            let mut rooms = Vec::new();
            // The last `per_room` messages and every change after the oldest of them.
            let mut recent = connection.prepare(
                "SELECT id, sender, text, timestamp, verified, author, change_json, mentions,
                        attachment
                 FROM messages
                 WHERE room = ?1 AND seq >= coalesce(
                     (SELECT seq FROM messages WHERE room = ?1 AND change_json IS NULL
                      ORDER BY seq DESC LIMIT 1 OFFSET ?2 - 1), 0)
                 ORDER BY seq DESC",
            )?;
            for (name, total) in room_totals(connection)? {
                let mut entries = recent
                    .query_map(params![name, per_room as i64], |row| {
                        stored_entry(row, &name)
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                entries.reverse();
                rooms.push(StoredRoom {
                    name,
                    recent: entries,
                    total,
                });
            }
            Ok(rooms)
        })
        .await
    }

    async fn delete_room(&self, room: &str) -> Result<(), StoreError> {
        let (done, deleted) = oneshot::channel();
        let command = Command::DeleteRoom {
            room: room.to_owned(),
            done,
        };
        self.commands
            .send(command)
            .map_err(|_| StoreError::Closed)?;
        deleted.await.map_err(|_| StoreError::Closed)?
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.read(|connection| {
            connection
                .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .optional()
        })
        .await
        .map(drop)
    }
}
