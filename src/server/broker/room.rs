//! Rooms and their logs: each room keeps its most recent messages in store order and wakes
//! every poll waiting on it when one arrives.
//!
//! Invariants of a [`RoomLog`]:
//! - Offsets number every message the room ever had, from 0; the log holds the most recent
//!   `capacity` of them, consecutive, so a poll's position stays meaningful while old messages
//!   are evicted.
//! - Messages are inserted in increasing offset order: an offset the log already has is
//!   ignored, and a jump past the end means the messages in between are unknown, so the log
//!   restarts at the new offset (positions before the jump read as evicted).
//! - A cached answer is only reused while the log is unchanged.
//!
//! A [`Room`] is notified (every waiter at once) after each insert, once its log's lock is
//! released, so woken polls can read at once.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::Notify;
use uuid::Uuid;

use super::{answer::PollAnswer, lock};
use crate::model::{Message, PollResponse, MAX_MESSAGES_PER_POLL};

/// All rooms by name.
pub(super) struct Rooms {
    map: Mutex<HashMap<String, Arc<Room>>>,
    capacity: usize,
}

pub(super) struct Room {
    log: Mutex<RoomLog>,
    /// Notified (all waiters at once) after each message is appended to the log.
    pub arrived: Notify,
}

impl Room {
    pub fn lock(&self) -> MutexGuard<'_, RoomLog> {
        lock(&self.log)
    }
}

impl Rooms {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
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
        let room = Arc::new(Room {
            log: Mutex::new(RoomLog::new(self.capacity)),
            arrived: Notify::new(),
        });
        map.insert(name.to_owned(), room.clone());
        room
    }

    /// Puts back a room's most recent messages as a store loaded them.
    pub fn restore(&self, name: &str, recent: Vec<Arc<Message>>, total: u64) {
        let room = self.get_or_create(name);
        let mut log = room.lock();
        let first_offset = total - recent.len() as u64;
        for (offset, message) in (first_offset..).zip(recent) {
            log.insert(offset, message);
        }
    }

    /// Total messages ever sent to the known rooms `shown` picks, and the names of those in
    /// use.
    pub fn summary(&self, shown: impl Fn(&str) -> bool) -> (u64, Vec<String>) {
        let map = lock(&self.map);
        let mut total = 0;
        let mut names = Vec::new();
        for (name, room) in map.iter().filter(|(name, _)| shown(name)) {
            let log = room.lock();
            total += log.total();
            // Someone besides the map holding the room means a poll is waiting on it.
            if !log.messages.is_empty() || Arc::strong_count(room) > 1 {
                names.push(name.clone());
            }
        }
        names.sort_unstable();
        (total, names)
    }

    /// Forgets the room and its messages (it was deleted); returns it, for its polls to end.
    pub fn remove(&self, name: &str) -> Option<Arc<Room>> {
        let room = lock(&self.map).remove(name)?;
        room.lock().forget();
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

    /// No messages and no poll waiting. Only conclusive while the map's lock is held: then
    /// nobody can obtain the room from the map, so a count of one is final.
    fn unused(room: &Arc<Room>) -> bool {
        Arc::strong_count(room) == 1 && room.lock().messages.is_empty()
    }

    /// Adds a committed message to its room's log and wakes the room's polls.
    pub fn committed(&self, message: Arc<Message>, offset: u64) {
        let room = self.get_or_create(&message.room);
        let inserted = room.lock().insert(offset, message);
        // The log guard is gone: woken polls can read at once.
        if inserted {
            room.arrived.notify_waiters();
        }
    }

    /// The store lost the room's messages: forget them, and let polls waiting past the room's
    /// new end find out at once (they get a reset).
    pub fn rewound(&self, name: &str) {
        if let Some(room) = self.get(name) {
            room.lock().forget();
            room.arrived.notify_waiters();
        }
    }

    #[cfg(test)]
    pub fn count(&self) -> usize {
        lock(&self.map).len()
    }
}

/// A room's most recent messages. Offsets number every message the room ever had.
pub(super) struct RoomLog {
    messages: VecDeque<Arc<Message>>,
    /// Offset the next message will get (= messages the room ever had).
    next_offset: u64,
    capacity: usize,
    /// The last answer read from the log and the offset it was read from, until the log
    /// changes: the polls a send wakes all read from the same offset.
    last_read: Option<(u64, PollAnswer)>,
}

/// What a poll finds in the log from its position on.
pub(super) enum Read {
    /// No message yet past the position.
    Nothing,
    Messages(PollAnswer),
    /// Some of the messages were evicted (or forgotten) since the position was taken.
    Evicted,
}

impl RoomLog {
    fn new(capacity: usize) -> Self {
        Self {
            messages: VecDeque::new(),
            next_offset: 0,
            capacity,
            last_read: None,
        }
    }

    fn first_offset(&self) -> u64 {
        self.next_offset - self.messages.len() as u64
    }

    /// Appends the message at `offset`, unless the log already has that offset. After a jump
    /// past the end, the messages in between are unknown: the log restarts at `offset`, and
    /// polls that were waiting before it are answered with a reset.
    fn insert(&mut self, offset: u64, message: Arc<Message>) -> bool {
        if offset < self.next_offset {
            return false;
        }
        if offset > self.next_offset {
            self.messages.clear();
            self.next_offset = offset;
        }
        if self.messages.len() == self.capacity {
            self.messages.pop_front();
        }
        self.messages.push_back(message);
        self.next_offset += 1;
        self.last_read = None;
        true
    }

    /// Where a poll with this cursor starts reading: just after the cursor's message, or at
    /// the end when there is no cursor. `None` for a cursor the room does not have.
    pub fn start_after(&self, last_message_id: Option<&str>) -> Option<u64> {
        let Some(id) = last_message_id else {
            return Some(self.next_offset);
        };
        let id = Uuid::parse_str(id).ok()?;
        // Clients are usually at or near the end: search from the newest message.
        let index = self.messages.iter().rposition(|message| message.id == id)?;
        Some(self.first_offset() + index as u64 + 1)
    }

    /// Where the next message will be.
    pub fn end(&self) -> u64 {
        self.next_offset
    }

    /// Where the room's first message is, if the log still has it (`None`: it dropped some).
    pub fn beginning(&self) -> Option<u64> {
        (self.first_offset() == 0).then_some(0)
    }

    /// Up to [`MAX_MESSAGES_PER_POLL`] messages from `offset` on.
    pub fn read_from(&mut self, offset: u64) -> Read {
        if offset == self.next_offset {
            return Read::Nothing;
        }
        if let Some((read_from, answer)) = &self.last_read {
            if *read_from == offset {
                return Read::Messages(answer.clone());
            }
        }
        // Before the first message kept (evicted), or past the end (the log was forgotten since
        // this position was taken).
        let Some(skip) = offset
            .checked_sub(self.first_offset())
            .filter(|_| offset < self.next_offset)
        else {
            return Read::Evicted;
        };
        let messages = self.messages.iter().skip(skip as usize);
        let answer = PollAnswer::new(PollResponse::messages(
            messages.take(MAX_MESSAGES_PER_POLL).cloned().collect(),
        ));
        self.last_read = Some((offset, answer.clone()));
        Read::Messages(answer)
    }

    /// The answer for a poll whose position the log does not have: its latest messages.
    pub fn reset(&self) -> PollAnswer {
        PollAnswer::new(PollResponse::reset(self.recent(MAX_MESSAGES_PER_POLL)))
    }

    /// Forgets every message and offset, for a store that lost them: the next message inserted
    /// starts the log again at its own offset.
    fn forget(&mut self) {
        self.messages.clear();
        self.next_offset = 0;
        self.last_read = None;
    }

    /// The last `count` messages, oldest first.
    pub fn recent(&self, count: usize) -> Vec<Arc<Message>> {
        let skip = self.messages.len().saturating_sub(count);
        self.messages.iter().skip(skip).cloned().collect()
    }

    /// Messages the room ever had.
    pub fn total(&self) -> u64 {
        self.next_offset
    }

    /// How many messages came after `last_read` (all kept ones for `None`). Exact while the
    /// log keeps `last_read`; otherwise (evicted, not arrived here yet, another room's) it
    /// counts the kept messages newer than it, ids being time-ordered, and is only a lower
    /// bound when every kept one is newer and older ones were evicted.
    pub fn unread_after(&self, last_read: Option<Uuid>) -> Unread {
        let evicted = self.first_offset() > 0;
        let kept = self.messages.len();
        let Some(last_read) = last_read else {
            return Unread {
                count: kept,
                at_least: evicted,
            };
        };
        // Readers are usually near the end: search from the newest message.
        if let Some(index) = self.messages.iter().rposition(|m| m.id == last_read) {
            return Unread {
                count: kept - index - 1,
                at_least: false,
            };
        }
        let count = self
            .messages
            .iter()
            .rev()
            .take_while(|message| message.id > last_read)
            .count();
        Unread {
            count,
            at_least: evicted && count == kept,
        }
    }
}

/// Messages a reader has not read in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unread {
    pub count: usize,
    /// `count` is a lower bound: the room has evicted messages that may be unread too.
    pub at_least: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Arc<Message> {
        Arc::new(Message {
            id: Uuid::now_v7(),
            sender: "log".into(),
            text: text.into(),
            timestamp: 0.0,
            room: "log".into(),
            verified: false,
        })
    }

    /// A log holding `count` messages `m0`, `m1`... at offsets 0, 1...
    fn log_of(capacity: usize, count: u64) -> (RoomLog, Vec<Arc<Message>>) {
        let mut log = RoomLog::new(capacity);
        let messages: Vec<_> = (0..count).map(|i| message(&format!("m{i}"))).collect();
        for (offset, message) in (0..).zip(&messages) {
            assert!(log.insert(offset, message.clone()));
        }
        (log, messages)
    }

    fn texts(read: Read) -> Vec<String> {
        match read {
            Read::Messages(answer) => answer.messages.iter().map(|m| m.text.clone()).collect(),
            Read::Nothing => panic!("read nothing"),
            Read::Evicted => panic!("read evicted"),
        }
    }

    #[test]
    fn a_cursor_starts_just_after_its_message_and_no_cursor_at_the_end() {
        let (log, messages) = log_of(10, 3);
        assert_eq!(log.start_after(None), Some(3));
        assert_eq!(log.start_after(Some(&messages[0].id.to_string())), Some(1));
        assert_eq!(log.start_after(Some(&messages[2].id.to_string())), Some(3));
        assert_eq!(log.start_after(Some("garbage")), None);
        assert_eq!(log.start_after(Some(&Uuid::now_v7().to_string())), None);
    }

    #[test]
    fn reads_return_what_follows_the_position_at_most_a_page() {
        let (mut log, _) = log_of(1_000, 150);
        assert!(matches!(log.read_from(150), Read::Nothing));
        assert_eq!(texts(log.read_from(148)), ["m148", "m149"]);
        let page = texts(log.read_from(0));
        assert_eq!(page.len(), MAX_MESSAGES_PER_POLL);
        assert_eq!(page[0], "m0");
    }

    #[test]
    fn evicted_offsets_keep_counting_and_read_as_evicted() {
        let (mut log, messages) = log_of(3, 5);
        assert_eq!(log.total(), 5);
        assert_eq!(log.recent(10).len(), 3);
        assert_eq!(log.start_after(Some(&messages[0].id.to_string())), None);
        assert!(matches!(log.read_from(1), Read::Evicted));
        assert_eq!(texts(log.read_from(2)), ["m2", "m3", "m4"]);
        let reset = log.reset();
        assert!(reset.reset);
        assert_eq!(reset.messages.len(), 3);
    }

    #[test]
    fn a_known_offset_is_ignored_and_a_jump_restarts_the_log() {
        let (mut log, _) = log_of(10, 2);
        assert!(!log.insert(1, message("again")));
        assert_eq!(log.total(), 2);
        assert!(log.insert(5, message("m5")));
        assert_eq!(log.total(), 6);
        assert_eq!(log.recent(10).len(), 1);
        assert!(matches!(log.read_from(2), Read::Evicted));
        assert_eq!(texts(log.read_from(5)), ["m5"]);
    }

    #[test]
    fn an_answer_is_shared_until_the_log_changes() {
        let (mut log, _) = log_of(10, 2);
        let (Read::Messages(first), Read::Messages(second)) = (log.read_from(1), log.read_from(1))
        else {
            panic!("no messages");
        };
        let json = |answer: &PollAnswer| answer.to_json().unwrap().as_ptr();
        assert_eq!(json(&first), json(&second), "one shared answer");
        log.insert(2, message("m2"));
        assert_eq!(texts(log.read_from(1)), ["m1", "m2"]);
    }

    #[test]
    fn unread_counts_what_follows_the_read_position_and_says_when_it_may_be_more() {
        let unread = |count, at_least| Unread { count, at_least };
        let older = message("before all").id;
        let (mut log, messages) = log_of(3, 3);
        let id = |i: usize| Some(messages[i].id);
        assert_eq!(log.unread_after(None), unread(3, false));
        assert_eq!(log.unread_after(id(0)), unread(2, false));
        assert_eq!(log.unread_after(id(2)), unread(0, false));
        // Ids the log lacks count by time: this one is between m2 and m3.
        let between = message("between").id;
        assert!(log.insert(3, message("m3")));
        assert_eq!(log.unread_after(Some(between)), unread(1, false));
        assert_eq!(log.unread_after(id(0)), unread(3, true), "m0 was evicted");
        assert_eq!(log.unread_after(Some(older)), unread(3, true));
        assert_eq!(log.unread_after(None), unread(3, true));
        assert_eq!(RoomLog::new(3).unread_after(Some(older)), unread(0, false));
    }

    #[test]
    fn a_forgotten_log_reads_old_positions_as_evicted_and_starts_over() {
        let (mut log, _) = log_of(10, 4);
        log.forget();
        assert!(matches!(log.read_from(4), Read::Evicted));
        assert!(log.insert(2, message("again")));
        assert_eq!(log.total(), 3);
        assert_eq!(texts(log.read_from(2)), ["again"]);
    }
}
