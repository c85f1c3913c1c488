//! The throw-away store: each room's most recent log entries (messages and changes) in memory, gone with the process.
//! For tests and for servers whose rooms may vanish on restart.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;

use crate::model::Entry;
use crate::server::store::{CommitSink, LogStore, Retention, StoreError, StoredRoom};

pub struct MemoryStore {
    sink: Arc<dyn CommitSink>,
    retention: Retention,
    rooms: Mutex<HashMap<String, KeptRoom>>,
}

#[derive(Default)]
struct KeptRoom {
    recent: VecDeque<Entry>,
    /// How many of `recent` are messages: retention counts those.
    messages: usize,
    total: u64,
}

impl KeptRoom {
    /// Where the most recent `count` messages start in `recent` (with every change after).
    fn start_of_last(&self, count: usize) -> usize {
        let mut seen = 0;
        for (index, entry) in self.recent.iter().enumerate().rev() {
            if entry.message().is_some() {
                seen += 1;
                if seen == count {
                    return index;
                }
            }
        }
        0
    }
}

impl MemoryStore {
    pub fn new(sink: Arc<dyn CommitSink>, retention: Retention) -> Self {
        Self {
            sink,
            retention,
            rooms: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl LogStore for MemoryStore {
    async fn append(&self, entry: Entry) -> Result<(), StoreError> {
        let mut rooms = self
            .rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let room = rooms.entry(entry.room().to_owned()).or_default();
        room.recent.push_back(entry.clone());
        if entry.message().is_some() {
            room.messages += 1;
        }
        // Past the retention, the oldest message goes with the changes before it: changes
        // never push a message out.
        while room.messages > self.retention.max_messages_per_room {
            match room.recent.pop_front() {
                Some(Entry::Message(_)) => room.messages -= 1,
                Some(Entry::Change(_)) => {}
                None => break,
            }
        }
        let offset = room.total;
        room.total += 1;
        // Still under the lock, so the sink sees entries in the order they are kept.
        self.sink.committed(entry, offset);
        Ok(())
    }

    async fn load(&self, per_room: usize) -> Result<Vec<StoredRoom>, StoreError> {
        let rooms = self
            .rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(rooms
            .iter()
            .map(|(name, room)| {
                let skip = room.start_of_last(per_room);
                StoredRoom {
                    name: name.clone(),
                    recent: room.recent.iter().skip(skip).cloned().collect(),
                    total: room.total,
                }
            })
            .collect())
    }

    async fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn delete_room(&self, room: &str) -> Result<(), StoreError> {
        self.rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(room);
        Ok(())
    }
}
