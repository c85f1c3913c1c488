//! A room's log: its most recent entries (messages, and the changes made to them) in store
//! order, and the reads polls and streams make of it within an answer's bytes.
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
//! - A cached answer is only reused while the log is unchanged, and only by a reader it answers
//!   exactly as a new read would: from the same position, with the same live state, within a
//!   budget that takes the same entries.

use std::{collections::VecDeque, ops::RangeInclusive, sync::Arc};

use uuid::Uuid;

use crate::{
    model::{
        Change, ChangeKind, Entry, LiveState, Message, PollResponse, RoomNews,
        MAX_MESSAGES_PER_POLL,
    },
    server::broker::answer::{PollAnswer, RoomAnswer},
};

/// A room's most recent entries. Offsets number every entry the room ever had.
pub(in crate::server::broker) struct RoomLog {
    /// The entries kept, each with its offset, in offset order. Messages are consecutive from
    /// `messages_from` on; changes from `changes_from` on (older changes were applied to their
    /// messages and dropped, which leaves holes only streams care about).
    pub(super) entries: VecDeque<(u64, Entry)>,
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
    pub(super) changes: u64,
    /// Messages kept, and as many changes besides: changes never push a message out.
    capacity: usize,
    /// The most an answer read from the log may take as JSON (at least one entry is always
    /// read, so a reader moves on).
    answer_bytes: usize,
    /// The last answer read from the log and the offset it was read from, until the log
    /// changes: the polls a send wakes all read from the same offset.
    last_read: Option<(u64, PollAnswer)>,
    /// The last streams' reads, most recent last, until the log changes: the streams a send
    /// wakes mostly read the same, with the room's live state or without.
    stream_reads: Vec<StreamRead>,
}

/// A stream's read of the log, for the streams that read the same after it.
struct StreamRead {
    /// Where it was read from (`None`: a reset).
    start: Option<u64>,
    /// The bytes left in a stream's answer with which a read takes the same entries.
    left: RangeInclusive<usize>,
    /// The bytes it takes from a stream's answer.
    taken: usize,
    answer: RoomAnswer,
}

/// Stream reads kept per room: one with the room's live state and one without cover the
/// streams a send wakes; more would keep more answers (up to an answer's bytes each) alive.
const STREAM_READS_KEPT: usize = 2;

/// What a poll finds in the log from its position on.
pub(in crate::server::broker) enum Read {
    /// No message yet past the position.
    Nothing,
    Messages(PollAnswer),
    /// Some of the entries were evicted (or forgotten) since the position was taken.
    Evicted,
}

/// What a stream finds in the log from its position on: messages as they are now, and the
/// changes among the entries read, for messages the client had before.
struct Entries {
    messages: Vec<Arc<Message>>,
    changes: Vec<Arc<Change>>,
    /// The id of the last entry read: where the client is now.
    last_id: Uuid,
}

/// One read's share of an answer's bytes, as the read fills it.
struct Budget {
    left: usize,
    /// The bytes of the entries taken, in full (the first may be past the budget).
    taken: usize,
    entries: usize,
    /// What the entries taken and the first one refused come to.
    refused_at: Option<usize>,
}

impl Budget {
    fn new(bytes: usize) -> Self {
        Self {
            left: bytes,
            taken: 0,
            entries: 0,
            refused_at: None,
        }
    }

    /// Takes `bytes` if they fit; a read's first entry always fits, so that a reader moves on
    /// even past an entry larger than the whole budget. A read stops at the first entry
    /// refused.
    fn take(&mut self, bytes: usize) -> bool {
        if bytes > self.left && self.entries > 0 {
            self.refused_at = Some(self.taken + bytes);
            return false;
        }
        self.left = self.left.saturating_sub(bytes);
        self.taken += bytes;
        self.entries += 1;
        true
    }

    /// The budgets with which the read would have taken the same entries: enough for every
    /// entry taken past the first, too little for the one refused.
    fn alike(&self) -> RangeInclusive<usize> {
        let least = if self.entries > 1 { self.taken } else { 0 };
        let most = self
            .refused_at
            .map_or(usize::MAX, |refused_at| refused_at - 1);
        least..=most
    }
}

impl RoomLog {
    pub(super) fn new(capacity: usize, answer_bytes: usize) -> Self {
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
            stream_reads: Vec::new(),
        }
    }

    /// Forgets the reads kept for readers to share: the log changed.
    fn changed(&mut self) {
        self.last_read = None;
        self.stream_reads.clear();
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
    pub(super) fn insert(&mut self, offset: u64, entry: Entry) -> Option<Vec<Uuid>> {
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
        self.changed();
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

    /// What is new in room `room` for a stream reading from `start` (`None`: its cursor was
    /// unknown), with `live`, the room's live state if the stream is to have it, within `left`
    /// bytes of its answer; and the bytes it takes. `None` when nothing is. A read's answer is
    /// shared by the streams that read the same after it while the log is unchanged.
    pub fn news(
        &mut self,
        room: &str,
        start: Option<u64>,
        live: Option<Arc<LiveState>>,
        left: usize,
    ) -> Option<(RoomAnswer, usize)> {
        let same_live = |answer: &RoomAnswer| match (&answer.live, &live) {
            (Some(shown), Some(live)) => Arc::ptr_eq(shown, live),
            (shown, live) => shown.is_none() && live.is_none(),
        };
        if let Some(read) = (self.stream_reads.iter()).find(|read| {
            read.start == start && read.left.contains(&left) && same_live(&read.answer)
        }) {
            return Some((read.answer.clone(), read.taken));
        }
        let mut budget = Budget::new(left);
        let room = room.to_owned();
        let news = match start.and_then(|start| self.entries_after(start, &mut budget)) {
            // Only who is online or typing changed.
            Some(None) => RoomNews {
                unavailable: false,
                live: Some(live?),
                ..RoomNews::unavailable(room)
            },
            Some(Some(entries)) => RoomNews {
                room,
                messages: entries.messages,
                reset: false,
                unavailable: false,
                changes: entries.changes,
                last_id: Some(entries.last_id),
                live,
            },
            // The messages as they are now: the changes before them are applied already.
            None => RoomNews {
                room,
                messages: self.recent_within(MAX_MESSAGES_PER_POLL, &mut budget),
                reset: true,
                unavailable: false,
                changes: Vec::new(),
                last_id: self.last_id(),
                live,
            },
        };
        let read = StreamRead {
            start,
            left: budget.alike(),
            taken: budget.taken,
            answer: RoomAnswer::new(news),
        };
        if self.stream_reads.len() == STREAM_READS_KEPT {
            self.stream_reads.remove(0);
        }
        let news = (read.answer.clone(), read.taken);
        self.stream_reads.push(read);
        Some(news)
    }

    /// Up to [`MAX_MESSAGES_PER_POLL`] entries from `offset` on within `budget`, for a stream:
    /// `Some(None)` when there are none yet, `None` when some are gone (the client needs a
    /// reset).
    fn entries_after(&self, offset: u64, budget: &mut Budget) -> Option<Option<Entries>> {
        let kept_from = self.messages_from.max(self.changes_from);
        let mut messages = Vec::new();
        let mut changes = Vec::new();
        let mut last_id = None;
        for entry in self
            .entries_from(offset, kept_from)?
            .take(MAX_MESSAGES_PER_POLL)
        {
            if !budget.take(json_len(entry)) {
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
    pub(super) fn forget(&mut self) -> Vec<Uuid> {
        let forgotten = self.messages().map(|message| message.id).collect();
        self.entries.clear();
        self.next_offset = 0;
        self.messages_from = 0;
        self.changes_from = 0;
        self.kept_messages = 0;
        self.kept_changes = 0;
        self.changes = 0;
        self.changed();
        forgotten
    }

    /// The last `count` messages as they are now, oldest first, within the answer's bytes.
    pub fn recent(&self, count: usize) -> Vec<Arc<Message>> {
        self.recent_within(count, &mut Budget::new(self.answer_bytes))
    }

    /// The last `count` messages that fit `budget`, oldest first.
    fn recent_within(&self, count: usize, budget: &mut Budget) -> Vec<Arc<Message>> {
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
        if !budget.take(message_json_len(message)) {
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
                ChangeKind::Edit { text, mentions } => {
                    json_str_len(text) + mentions.iter().map(|m| json_str_len(m) + 1).sum::<usize>()
                }
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
pub(in crate::server::broker) fn json_str_len(text: &str) -> usize {
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
