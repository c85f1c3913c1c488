//! Rooms and their logs: each room keeps its most recent entries (messages, and the changes
//! made to them) in store order, and wakes the polls and streams waiting on it when one arrives.
//!
//! Invariants of a [`RoomLog`]:
//! - Offsets number every entry the room ever had, from 0; the log holds the most recent
//!   `capacity` messages, consecutive, and at most as many changes, so a poll's position stays
//!   meaningful while old entries are evicted, and no number of changes pushes a message out.
//!   A dropped change was applied to its message already: only a stream whose position is
//!   before it needs a reset.
//! - Entries are inserted in increasing offset order: an offset the log already has is
//!   ignored, and a jump past the end means the entries in between are unknown, so the log
//!   restarts at the new offset (positions before the jump read as evicted).
//! - Every message in the log is in its current state: a change, as it is inserted, is applied
//!   to its message (a change always follows its message, so a message the log keeps has all
//!   its changes applied). Reads hand out messages as they are now, and the changes after the
//!   read position too, for a client that already has the messages.
//! - A cached answer is only reused while the log is unchanged.
//!
//! A [`Room`] is notified (every waiter at once) after each insert, once its log's lock is
//! released, so woken polls can read at once: `arrived` for messages (what `GET /api/poll`
//! waits for), `news` for every entry (what streams wait for).
//!
//! [`Rooms`] also knows which room each kept message is in, for changes that name a message
//! by id alone.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::Notify;
use uuid::Uuid;

use super::{answer::PollAnswer, live::RoomLive, lock};
use crate::model::{Change, ChangeKind, Entry, Message, PollResponse, MAX_MESSAGES_PER_POLL};

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
    /// Who is online and typing (see `live`).
    pub live: Mutex<RoomLive>,
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
            live: Mutex::default(),
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

/// A room's most recent entries. Offsets number every entry the room ever had.
pub(super) struct RoomLog {
    /// The entries kept, each with its offset, in offset order. Messages are consecutive from
    /// `messages_from` on; changes from `changes_from` on (older changes were applied to their
    /// messages and dropped, which leaves holes only streams care about).
    entries: VecDeque<(u64, Entry)>,
    /// Offset the next entry will get (= entries the room ever had).
    next_offset: u64,
    /// Every message at this offset or later is kept: polls may read from here.
    messages_from: u64,
    /// Every change at this offset or later is kept: streams may read from the later of the
    /// two.
    changes_from: u64,
    kept_messages: usize,
    kept_changes: usize,
    /// Changes ever inserted (since the log started here): what `total` less this counts as
    /// messages.
    changes: u64,
    /// Messages kept, and as many changes besides: changes never push a message out.
    capacity: usize,
    /// The most an answer read from the log may take as JSON (at least one entry is always
    /// read, so a reader moves on).
    answer_bytes: usize,
    /// The last answer read from the log and the offset it was read from, until the log
    /// changes: the polls a send wakes all read from the same offset.
    last_read: Option<(u64, PollAnswer)>,
}

/// What a poll finds in the log from its position on.
pub(super) enum Read {
    /// No message yet past the position.
    Nothing,
    Messages(PollAnswer),
    /// Some of the entries were evicted (or forgotten) since the position was taken.
    Evicted,
}

/// What a stream finds in the log from its position on: messages as they are now, and the
/// changes among the entries read, for messages the client had before.
pub(super) struct Entries {
    pub messages: Vec<Arc<Message>>,
    pub changes: Vec<Arc<Change>>,
    /// The id of the last entry read: where the client is now.
    pub last_id: Uuid,
}

/// What is left of an answer's byte budget as it is filled.
pub(super) struct Budget(usize);

impl Budget {
    pub fn new(bytes: usize) -> Self {
        Self(bytes)
    }

    /// Takes `bytes` if they fit; the first entry of an answer (`first`) always fits, so that
    /// a reader moves on even past an entry larger than the whole budget.
    fn take(&mut self, bytes: usize, first: bool) -> bool {
        if bytes > self.0 && !first {
            return false;
        }
        self.0 = self.0.saturating_sub(bytes);
        true
    }

    pub fn is_spent(&self) -> bool {
        self.0 == 0
    }

    /// Takes `bytes` whether or not they fit (what must be answered anyway).
    pub fn spend(&mut self, bytes: usize) {
        self.0 = self.0.saturating_sub(bytes);
    }
}

impl RoomLog {
    fn new(capacity: usize, answer_bytes: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            next_offset: 0,
            messages_from: 0,
            changes_from: 0,
            kept_messages: 0,
            kept_changes: 0,
            changes: 0,
            capacity,
            answer_bytes,
            last_read: None,
        }
    }

    fn messages(&self) -> impl DoubleEndedIterator<Item = &Arc<Message>> {
        self.entries.iter().filter_map(|(_, entry)| entry.message())
    }

    /// Appends the entry at `offset`, unless the log already has that offset (`None`); a
    /// change is applied to its message first. After a jump past the end, the entries in
    /// between are unknown: the log restarts at `offset`, and polls that were waiting before it
    /// are answered with a reset. Past the capacity the oldest message goes (with the changes
    /// before it), and past as many changes the oldest change. Returns the ids of the messages
    /// dropped from the log.
    fn insert(&mut self, offset: u64, entry: Entry) -> Option<Vec<Uuid>> {
        if offset < self.next_offset {
            return None;
        }
        let mut dropped = Vec::new();
        if offset > self.next_offset {
            dropped = self.forget();
            self.next_offset = offset;
            self.messages_from = offset;
            self.changes_from = offset;
        }
        match &entry {
            Entry::Change(change) => {
                self.apply(change);
                self.changes += 1;
                self.kept_changes += 1;
            }
            Entry::Message(_) => self.kept_messages += 1,
        }
        self.entries.push_back((offset, entry));
        self.next_offset += 1;
        self.last_read = None;
        while self.kept_messages > self.capacity {
            let Some((evicted, entry)) = self.entries.pop_front() else {
                break;
            };
            match entry {
                Entry::Message(message) => {
                    self.kept_messages -= 1;
                    self.messages_from = evicted + 1;
                    dropped.push(message.id);
                }
                Entry::Change(_) => self.kept_changes -= 1,
            }
            self.changes_from = self.changes_from.max(evicted + 1);
        }
        if self.kept_changes > self.capacity {
            // Already applied to its message, which stays: only a stream from before it has to
            // start over.
            if let Some(index) = self
                .entries
                .iter()
                .position(|(_, entry)| matches!(entry, Entry::Change(_)))
            {
                if let Some((evicted, _)) = self.entries.remove(index) {
                    self.kept_changes -= 1;
                    self.changes_from = evicted + 1;
                }
            }
        }
        Some(dropped)
    }

    /// Puts the message `change` is about in the state it leaves it, if the log has it.
    fn apply(&mut self, change: &Change) {
        // Changes are usually to recent messages: search from the newest.
        let slot = self.entries.iter_mut().rev().find(|(_, entry)| {
            entry
                .message()
                .is_some_and(|message| message.id == change.message_id)
        });
        if let Some((_, slot)) = slot {
            if let Some(changed) = slot.message().and_then(|m| m.changed_by(change)) {
                *slot = Entry::Message(Arc::new(changed));
            }
        }
    }

    /// The message of this id, as it is now, if the log keeps it.
    pub fn message(&self, id: Uuid) -> Option<&Arc<Message>> {
        self.messages().rev().find(|message| message.id == id)
    }

    /// Where a poll with this cursor starts reading: just after the cursor's entry (a message,
    /// or for a stream a change), or at the end when there is no cursor. `None` for a cursor
    /// the room does not have.
    pub fn start_after(&self, last_message_id: Option<&str>) -> Option<u64> {
        let Some(id) = last_message_id else {
            return Some(self.next_offset);
        };
        let id = Uuid::parse_str(id).ok()?;
        // Clients are usually at or near the end: search from the newest entry.
        let (offset, _) = self
            .entries
            .iter()
            .rev()
            .find(|(_, entry)| entry.id() == id)?;
        Some(offset + 1)
    }

    /// Where the next entry will be.
    pub fn end(&self) -> u64 {
        self.next_offset
    }

    /// Where the room's first entry is, if the log still has every entry (`None`: it dropped
    /// some).
    pub fn beginning(&self) -> Option<u64> {
        (self.messages_from == 0 && self.changes_from == 0).then_some(0)
    }

    /// The entries from `offset` on, if every entry of the kinds a reader wants is kept from
    /// there (`kept_from`); `None` before that, or past the end (the log was forgotten since
    /// this position was taken).
    fn entries_from(&self, offset: u64, kept_from: u64) -> Option<impl Iterator<Item = &Entry>> {
        if offset < kept_from || offset > self.next_offset {
            return None;
        }
        let skip = self.entries.partition_point(|(kept, _)| *kept < offset);
        Some(self.entries.range(skip..).map(|(_, entry)| entry))
    }

    /// Up to [`MAX_MESSAGES_PER_POLL`] messages from `offset` on, within the answer's bytes
    /// (changes are skipped: a poll answers new messages only).
    pub fn read_from(&mut self, offset: u64) -> Read {
        if offset == self.next_offset {
            return Read::Nothing;
        }
        if let Some((read_from, answer)) = &self.last_read {
            if *read_from == offset {
                return Read::Messages(answer.clone());
            }
        }
        let Some(entries) = self.entries_from(offset, self.messages_from) else {
            return Read::Evicted;
        };
        let mut budget = Budget::new(self.answer_bytes);
        let messages = within_budget(entries.filter_map(Entry::message), &mut budget);
        if messages.is_empty() {
            return Read::Nothing;
        }
        let answer = PollAnswer::new(PollResponse::messages(messages));
        self.last_read = Some((offset, answer.clone()));
        Read::Messages(answer)
    }

    /// Up to [`MAX_MESSAGES_PER_POLL`] entries from `offset` on within `budget`, for a stream:
    /// `Some(None)` when there are none yet (or the budget is spent), `None` when some are gone
    /// (the client needs a reset).
    pub fn entries_after(&self, offset: u64, budget: &mut Budget) -> Option<Option<Entries>> {
        let kept_from = self.messages_from.max(self.changes_from);
        let mut messages = Vec::new();
        let mut changes = Vec::new();
        let mut last_id = None;
        for entry in self
            .entries_from(offset, kept_from)?
            .take(MAX_MESSAGES_PER_POLL)
        {
            if !budget.take(json_len(entry), last_id.is_none()) {
                break;
            }
            last_id = Some(entry.id());
            match entry {
                Entry::Message(message) => messages.push(message.clone()),
                Entry::Change(change) => changes.push(change.clone()),
            }
        }
        Some(last_id.map(|last_id| Entries {
            messages,
            changes,
            last_id,
        }))
    }

    /// The answer for a poll whose position the log does not have: its latest messages.
    pub fn reset(&self) -> PollAnswer {
        let mut budget = Budget::new(self.answer_bytes);
        PollAnswer::new(PollResponse::reset(
            self.recent_within(MAX_MESSAGES_PER_POLL, &mut budget),
        ))
    }

    /// The id of the last entry, where a client that has [`RoomLog::reset`]'s messages is.
    pub fn last_id(&self) -> Option<Uuid> {
        self.entries.back().map(|(_, entry)| entry.id())
    }

    /// Forgets every entry and offset, for a store that lost them: the next entry inserted
    /// starts the log again at its own offset. Returns the ids of the messages it had.
    fn forget(&mut self) -> Vec<Uuid> {
        let forgotten = self.messages().map(|message| message.id).collect();
        self.entries.clear();
        self.next_offset = 0;
        self.messages_from = 0;
        self.changes_from = 0;
        self.kept_messages = 0;
        self.kept_changes = 0;
        self.changes = 0;
        self.last_read = None;
        forgotten
    }

    /// The last `count` messages as they are now, oldest first, within the answer's bytes.
    pub fn recent(&self, count: usize) -> Vec<Arc<Message>> {
        self.recent_within(count, &mut Budget::new(self.answer_bytes))
    }

    /// The last `count` messages that fit `budget`, oldest first.
    pub fn recent_within(&self, count: usize, budget: &mut Budget) -> Vec<Arc<Message>> {
        let mut recent = within_budget(self.messages().rev().take(count), budget);
        recent.reverse();
        recent
    }

    /// Entries the room ever had.
    pub fn total(&self) -> u64 {
        self.next_offset
    }

    #[cfg(test)]
    pub fn kept_messages(&self) -> usize {
        self.kept_messages
    }

    #[cfg(test)]
    pub fn kept_changes(&self) -> usize {
        self.kept_changes
    }

    /// How many messages came after `last_read` (all kept ones for `None`). Exact while the
    /// log keeps `last_read`; otherwise (evicted, not arrived here yet, another room's) it
    /// counts the kept messages newer than it, ids being time-ordered, and is only a lower
    /// bound when every kept one is newer and older ones were evicted.
    pub fn unread_after(&self, last_read: Option<Uuid>) -> Unread {
        let evicted = self.messages_from > 0;
        let kept = self.kept_messages;
        let Some(last_read) = last_read else {
            return Unread {
                count: kept,
                at_least: evicted,
            };
        };
        // Readers are usually near the end: search from the newest message.
        if let Some(newer) = self.messages().rev().position(|m| m.id == last_read) {
            return Unread {
                count: newer,
                at_least: false,
            };
        }
        let count = self
            .messages()
            .rev()
            .take_while(|message| message.id > last_read)
            .count();
        Unread {
            count,
            at_least: evicted && count == kept,
        }
    }
}

/// Up to [`MAX_MESSAGES_PER_POLL`] of `messages`, in their order, while they fit `budget`.
fn within_budget<'a>(
    messages: impl Iterator<Item = &'a Arc<Message>>,
    budget: &mut Budget,
) -> Vec<Arc<Message>> {
    let mut taken = Vec::new();
    for message in messages.take(MAX_MESSAGES_PER_POLL) {
        if !budget.take(message_json_len(message), taken.is_empty()) {
            break;
        }
        taken.push(message.clone());
    }
    taken
}

/// Bytes of JSON an entry takes in an answer: exact for its strings (a control character
/// escapes to six bytes), a generous constant for the rest.
pub(super) fn json_len(entry: &Entry) -> usize {
    match entry {
        Entry::Message(message) => message_json_len(message),
        Entry::Change(change) => {
            let kind = match &change.kind {
                ChangeKind::Edit { text } => json_str_len(text),
                ChangeKind::React { emoji } | ChangeKind::Unreact { emoji } => json_str_len(emoji),
                ChangeKind::Delete => 0,
            };
            ENTRY_JSON_OVERHEAD
                + json_str_len(&change.room)
                + json_str_len(&change.by)
                + json_str_len(&change.author)
                + kind
        }
    }
}

fn message_json_len(message: &Message) -> usize {
    let reactions: usize = (message.reactions.iter())
        .map(|reaction| {
            40 + json_str_len(&reaction.emoji)
                + reaction
                    .by
                    .iter()
                    .map(|by| 3 + json_str_len(by))
                    .sum::<usize>()
        })
        .sum();
    ENTRY_JSON_OVERHEAD
        + json_str_len(&message.sender)
        + json_str_len(&message.text)
        + json_str_len(&message.room)
        + message.author.as_deref().map_or(0, json_str_len)
        + reactions
}

/// Field names, ids, numbers and punctuation of one entry's JSON, at most.
const ENTRY_JSON_OVERHEAD: usize = 256;

/// Bytes `text` takes as a JSON string's contents, as serde_json escapes it.
pub(super) fn json_str_len(text: &str) -> usize {
    text.bytes()
        .map(|byte| match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0C => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum()
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
            room: "log".into(),
            author: Some("log".into()),
            ..Message::default()
        })
    }

    /// A log holding `count` messages `m0`, `m1`... at offsets 0, 1...
    fn log_of(capacity: usize, count: u64) -> (RoomLog, Vec<Arc<Message>>) {
        let mut log = RoomLog::new(capacity, usize::MAX);
        let messages: Vec<_> = (0..count).map(|i| message(&format!("m{i}"))).collect();
        for (offset, message) in (0..).zip(&messages) {
            assert!(log
                .insert(offset, Entry::Message(message.clone()))
                .is_some());
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
        assert!(log.insert(1, Entry::Message(message("again"))).is_none());
        assert_eq!(log.total(), 2);
        assert!(log.insert(5, Entry::Message(message("m5"))).is_some());
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
        log.insert(2, Entry::Message(message("m2")));
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
        assert!(log.insert(3, Entry::Message(message("m3"))).is_some());
        assert_eq!(log.unread_after(Some(between)), unread(1, false));
        assert_eq!(log.unread_after(id(0)), unread(3, true), "m0 was evicted");
        assert_eq!(log.unread_after(Some(older)), unread(3, true));
        assert_eq!(log.unread_after(None), unread(3, true));
        assert_eq!(
            RoomLog::new(3, usize::MAX).unread_after(Some(older)),
            unread(0, false)
        );
    }

    #[test]
    fn a_forgotten_log_reads_old_positions_as_evicted_and_starts_over() {
        let (mut log, _) = log_of(10, 4);
        log.forget();
        assert!(matches!(log.read_from(4), Read::Evicted));
        assert!(log.insert(2, Entry::Message(message("again"))).is_some());
        assert_eq!(log.total(), 3);
        assert_eq!(texts(log.read_from(2)), ["again"]);
    }
}
