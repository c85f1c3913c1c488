//! Rooms: each keeps its log (`log`: its most recent entries, messages and the changes made to
//! them, in store order) and wakes the polls and streams waiting on it when an entry arrives.
//!
//! A [`Room`] is notified (every waiter at once) after each insert, once its log's lock is
//! released, so woken polls can read at once: `arrived` for messages (what `GET /api/poll`
//! waits for), `news` for every entry (what streams wait for).
//!
//! [`Rooms`] also knows which room each kept message is in, for changes that name a message
//! by id alone.

mod log;
#[cfg(test)]
mod tests;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::Notify;
use uuid::Uuid;

use super::{lock, presence::RoomPresence};
use crate::model::{Entry, Message};
pub use log::Unread;
pub(super) use log::{json_str_len, Read, RoomLog};

/// All rooms by name.
pub(super) struct Rooms {
    map: Mutex<HashMap<String, Arc<Room>>>,
    /// The room of every message some log keeps.
    rooms_of: Mutex<HashMap<Uuid, Arc<Room>>>,
    capacity: usize,
    answer_bytes: usize,
    /// Notified (all waiters at once) after a room gets its first entry: streams waiting for
    /// a room nobody had written to look again.
    pub created: Notify,
}

pub(super) struct Room {
    pub name: Arc<str>,
    log: Mutex<RoomLog>,
    /// Notified (all waiters at once) after each message is appended to the log.
    pub arrived: Notify,
    /// Notified (all waiters at once) after each entry, message or change, and (coalesced)
    /// when who is online or typing changes.
    pub news: Notify,
    /// Who is online and typing (see `presence`).
    pub presence: Mutex<RoomPresence>,
}

impl Room {
    pub fn lock(&self) -> MutexGuard<'_, RoomLog> {
        lock(&self.log)
    }

    fn notify(&self, message: bool) {
        if message {
            self.arrived.notify_waiters();
        }
        self.news.notify_waiters();
    }
}

impl Rooms {
    /// Rooms keeping `capacity` messages each, whose reads answer at most `answer_bytes` of
    /// JSON.
    pub fn new(capacity: usize, answer_bytes: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            rooms_of: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            answer_bytes,
            created: Notify::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<Room>> {
        lock(&self.map).get(name).cloned()
    }

    pub fn get_or_create(&self, name: &str) -> Arc<Room> {
        let mut map = lock(&self.map);
        if let Some(room) = map.get(name) {
            return room.clone();
        }
        Self::create(&mut map, name, self.capacity, self.answer_bytes)
    }

    fn create(
        map: &mut HashMap<String, Arc<Room>>,
        name: &str,
        capacity: usize,
        answer_bytes: usize,
    ) -> Arc<Room> {
        let room = Arc::new(Room {
            name: name.into(),
            log: Mutex::new(RoomLog::new(capacity, answer_bytes)),
            arrived: Notify::new(),
            news: Notify::new(),
            presence: Mutex::default(),
        });
        map.insert(name.to_owned(), room.clone());
        room
    }

    /// Puts back a room's most recent entries as a store loaded them.
    pub fn restore(&self, name: &str, recent: Vec<Entry>, total: u64) {
        let room = self.get_or_create(name);
        let first_offset = total - recent.len() as u64;
        for (offset, entry) in (first_offset..).zip(recent) {
            self.insert(&room, offset, entry);
        }
    }

    /// A message some room keeps, as it is now (edited, deleted, its reactions).
    pub fn message(&self, id: Uuid) -> Option<Arc<Message>> {
        let room = lock(&self.rooms_of).get(&id).cloned()?;
        let log = room.lock();
        log.message(id).cloned()
    }

    /// Total entries ever added to the known rooms `shown` picks, less the changes among those
    /// the logs keep; and the names of those in use.
    pub fn summary(&self, shown: impl Fn(&str) -> bool) -> (u64, Vec<String>) {
        let map = lock(&self.map);
        let mut total = 0;
        let mut names = Vec::new();
        for (name, room) in map.iter().filter(|(name, _)| shown(name)) {
            let log = room.lock();
            total += log.total() - log.changes;
            // Someone besides the map holding the room means a poll is waiting on it.
            if !log.entries.is_empty() || Arc::strong_count(room) > 1 {
                names.push(name.clone());
            }
        }
        names.sort_unstable();
        (total, names)
    }

    /// Forgets the room and its messages (it was deleted); returns it, for its polls to end.
    pub fn remove(&self, name: &str) -> Option<Arc<Room>> {
        let room = lock(&self.map).remove(name)?;
        let forgotten = room.lock().forget();
        self.unindex(&forgotten);
        Some(room)
    }

    /// Forgets every room with neither messages nor anyone using it.
    pub fn forget_unused(&self) {
        lock(&self.map).retain(|_, room| !Self::unused(room));
    }

    /// Forgets room `name` unless it is in use once `handle`, the caller's, is dropped.
    pub fn forget_if_unused(&self, name: &str, handle: Arc<Room>) {
        drop(handle);
        let mut map = lock(&self.map);
        if map.get(name).is_some_and(Self::unused) {
            map.remove(name);
        }
    }

    /// No entries and no poll waiting. Only conclusive while the map's lock is held: then
    /// nobody can obtain the room from the map, so a count of one is final (the message index
    /// holds rooms only while their logs keep messages).
    fn unused(room: &Arc<Room>) -> bool {
        Arc::strong_count(room) == 1 && room.lock().entries.is_empty()
    }

    /// Adds a committed entry to its room's log and wakes the room's polls.
    pub fn committed(&self, room: &Arc<Room>, entry: Entry, offset: u64) {
        if let Some(inserted) = self.insert(room, offset, entry) {
            // The log guard is gone: woken polls can read at once.
            room.notify(inserted.message);
            if inserted.first {
                self.created.notify_waiters();
            }
        }
    }

    /// Inserts the entry into `room`'s log and indexes what it adds and evicts; what it was,
    /// if the log took it.
    fn insert(&self, room: &Arc<Room>, offset: u64, entry: Entry) -> Option<Inserted> {
        let added = entry.message().map(|message| message.id);
        let (first, dropped) = {
            let mut log = room.lock();
            let first = log.entries.is_empty();
            (first, log.insert(offset, entry)?)
        };
        self.unindex(&dropped);
        if let Some(id) = added {
            lock(&self.rooms_of).insert(id, room.clone());
        }
        Some(Inserted {
            message: added.is_some(),
            first,
        })
    }

    fn unindex(&self, messages: &[Uuid]) {
        if !messages.is_empty() {
            let mut rooms_of = lock(&self.rooms_of);
            for id in messages {
                rooms_of.remove(id);
            }
        }
    }

    /// The store lost the room's entries: forget them, and let polls waiting past the room's
    /// new end find out at once (they get a reset).
    pub fn rewound(&self, name: &str) {
        if let Some(room) = self.get(name) {
            let forgotten = room.lock().forget();
            self.unindex(&forgotten);
            room.notify(true);
        }
    }

    #[cfg(test)]
    pub fn count(&self) -> usize {
        lock(&self.map).len()
    }
}

/// What [`Rooms::insert`] put in a log.
struct Inserted {
    /// A message (not a change).
    message: bool,
    /// The log's only entry: the room was empty before.
    first: bool,
}
