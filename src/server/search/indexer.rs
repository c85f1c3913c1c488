//! The index of a store that keeps none itself (memory, Redis): an in-memory SQLite database
//! this instance fills from the entries the broker is handed, on a thread of its own, so a
//! send never waits for it. A Redis-backed instance first reads back whatever the store keeps
//! (holding on to live entries meanwhile), then follows the store's commits as every instance
//! does: each finds what any of them stored.
//!
//! It keeps what the store keeps: a room's messages past the retention count go as the store's
//! do (tombstones count, as in the log), messages past the retention age go every
//! `PRUNE_EVERY`, and a deleted or rewound room goes whole. An entry it already has (a shared
//! store hands some over twice) is skipped by its offset.

use std::{
    collections::HashMap,
    sync::{mpsc, Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use rusqlite::{params, Connection};

use super::index;
use crate::{
    model::Entry,
    server::{
        clock::unix_time,
        store::{Retention, StoredRoom},
    },
};

/// Commands applied in one transaction at most.
const MAX_BATCH: usize = 1_024;
const PRUNE_EVERY: Duration = Duration::from_secs(30);

pub(super) enum Command {
    Committed(Entry, u64),
    /// What the store kept when this instance started.
    Loaded(Vec<StoredRoom>),
    Forget(String),
    /// Answered once everything queued before it is in the index: a search asks first, so it
    /// finds every message whose send was answered before it began.
    Flush(mpsc::Sender<()>),
}

pub(super) struct Indexer {
    connection: Arc<Mutex<Connection>>,
    retention: Retention,
    /// Each room's next offset: an entry below it is one the index has.
    next_offset: HashMap<String, u64>,
    /// Each room's messages (tombstones too), for the retention count.
    kept: HashMap<String, usize>,
    /// Live entries that came before what the store kept was loaded.
    waiting: Option<Vec<(Entry, u64)>>,
    last_prune: Instant,
}

impl Indexer {
    /// Starts the thread; `loads` when a [`Command::Loaded`] will come first (until then live
    /// entries wait).
    pub(super) fn start(
        connection: Arc<Mutex<Connection>>,
        retention: Retention,
        loads: bool,
    ) -> std::io::Result<mpsc::Sender<Command>> {
        let (commands, queue) = mpsc::channel();
        let mut indexer = Self {
            connection,
            retention,
            next_offset: HashMap::new(),
            kept: HashMap::new(),
            waiting: loads.then(Vec::new),
            last_prune: Instant::now(),
        };
        thread::Builder::new()
            .name("search-indexer".into())
            .spawn(move || indexer.run(&queue))?;
        Ok(commands)
    }

    fn run(&mut self, queue: &mpsc::Receiver<Command>) {
        loop {
            let first = match queue.recv_timeout(PRUNE_EVERY) {
                Ok(command) => Some(command),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            let batch: Vec<Command> = first
                .into_iter()
                .chain(std::iter::from_fn(|| queue.try_recv().ok()).take(MAX_BATCH))
                .collect();
            let connection = self.connection.clone();
            let mut connection = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Err(error) = self.apply_batch(&mut connection, batch) {
                tracing::error!(%error, "search indexing failed");
            }
        }
    }

    fn apply_batch(
        &mut self,
        connection: &mut Connection,
        batch: Vec<Command>,
    ) -> rusqlite::Result<()> {
        let transaction = connection.transaction()?;
        let mut flushed = Vec::new();
        for command in batch {
            match command {
                Command::Committed(entry, offset) => match &mut self.waiting {
                    Some(waiting) => waiting.push((entry, offset)),
                    None => self.add(&transaction, &entry, offset)?,
                },
                Command::Loaded(rooms) => {
                    for room in rooms {
                        let first = room.total - room.recent.len() as u64;
                        for (entry, offset) in room.recent.iter().zip(first..) {
                            self.add(&transaction, entry, offset)?;
                        }
                    }
                    for (entry, offset) in self.waiting.take().unwrap_or_default() {
                        self.add(&transaction, &entry, offset)?;
                    }
                }
                Command::Forget(room) => {
                    transaction
                        .prepare_cached("DELETE FROM search_messages WHERE room = ?1")?
                        .execute([&room])?;
                    self.next_offset.remove(&room);
                    self.kept.remove(&room);
                }
                Command::Flush(done) => flushed.push(done),
            }
        }
        if self.last_prune.elapsed() >= PRUNE_EVERY {
            self.last_prune = Instant::now();
            self.prune_by_age(&transaction)?;
        }
        let committed = transaction.commit();
        // Answered even when the commit failed: the search goes on with what the index has.
        for done in flushed {
            let _ = done.send(());
        }
        committed
    }

    fn add(&mut self, connection: &Connection, entry: &Entry, offset: u64) -> rusqlite::Result<()> {
        let room = entry.room();
        let next = self.next_offset.entry(room.to_owned()).or_default();
        if offset < *next {
            return Ok(());
        }
        *next = offset + 1;
        if !index::apply(connection, entry)? {
            return Ok(());
        }
        let kept = self.kept.entry(room.to_owned()).or_default();
        *kept += 1;
        let excess = kept.saturating_sub(self.retention.max_messages_per_room);
        if excess > 0 {
            connection
                .prepare_cached(
                    "DELETE FROM search_messages WHERE seq IN (
                         SELECT seq FROM search_messages WHERE room = ?1 ORDER BY seq LIMIT ?2)",
                )?
                .execute(params![room, excess as i64])?;
            *kept -= excess;
        }
        Ok(())
    }

    fn prune_by_age(&mut self, connection: &Connection) -> rusqlite::Result<()> {
        let Some(max_age) = self.retention.max_age else {
            return Ok(());
        };
        let cutoff = unix_time().saturating_sub(max_age).as_secs_f64();
        let deleted =
            connection.execute("DELETE FROM search_messages WHERE timestamp < ?1", [cutoff])?;
        if deleted > 0 {
            let mut counts =
                connection.prepare("SELECT room, count(*) FROM search_messages GROUP BY room")?;
            self.kept = counts
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
        }
        Ok(())
    }
}
