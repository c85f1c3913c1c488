//! The cursor book: how far the browser has each room it follows, which tab shows which room,
//! and the rooms the next stream follows; and, for one view of a room, what it takes of the
//! stream's news (the gap and rewind rules). Plain Rust, no signals and no browser handles, so
//! its rules are tested natively.
//!
//! Invariants:
//! - A room's cursor is the stream's `last_id`: the last message OR change (edit, deletion,
//!   reaction) read, so no change comes twice. A view keeps its own position the same way.
//! - Rewind: a tab that shows a room from before the stream's cursor moves the cursor back to
//!   it (that tab is missing what came after); a cursor further on never moves it forward.
//! - Gap: a view takes a room's news only when the stream read it from the view's position or
//!   from before it (what the view has already is dropped); from further on, the view takes
//!   nothing and must announce its position, which rewinds the stream.
//! - A reset replaces the view's messages; otherwise messages are added and then the changes
//!   after the view's position applied in order (see [`crate::app::changes`]).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    app::changes,
    model::{Change, Message, RoomNews, MAX_STREAM_ROOMS},
};

/// Messages kept on screen; older ones scroll away for good.
const MAX_ON_SCREEN: usize = 500;

/// How far the browser has a room: where the stream reads it from.
///
/// There is no "from now": a room shown empty is followed from its start, so a message sent
/// to it between two streams is still new to the next one (a stream without a cursor would wait
/// for the message after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) enum Cursor {
    /// Nothing of the room yet: every message it has is new. Orders before any message.
    Start,
    /// Up to this position of the room's log: a message, or a change to one (ids of both are
    /// UUIDv7s of one space, in log order).
    After(Uuid),
}

impl Cursor {
    /// Up to the last of `messages`.
    pub(super) fn of(messages: &[Arc<Message>]) -> Self {
        messages
            .last()
            .map_or(Cursor::Start, |message| Cursor::After(message.id))
    }
}

/// The rooms the browser follows: the stream's cursor of each, and which rooms each tab shows.
/// Every tab keeps the same book from the notes it hears, so a new leader resumes from it.
#[derive(Debug, Default)]
pub(super) struct CursorBook {
    /// The rooms each tab shows (this one's included).
    shows: HashMap<String, Vec<String>>,
    /// The stream's cursor per followed room.
    cursors: HashMap<String, Cursor>,
}

impl CursorBook {
    /// `tab` shows `rooms`, each up to its cursor (and no other room). A room not followed yet
    /// is followed from that cursor; an older cursor rewinds the room. Returns whether the
    /// held stream no longer follows what it should (a new room, or a rewind).
    pub(super) fn shows(&mut self, tab: String, rooms: Vec<(String, Cursor)>) -> bool {
        let mut changed = false;
        for (room, cursor) in &rooms {
            match self.cursors.get_mut(room) {
                None => {
                    self.cursors.insert(room.clone(), *cursor);
                    changed = true;
                }
                // That tab is missing what came after its cursor.
                Some(held) if cursor < held => {
                    *held = *cursor;
                    changed = true;
                }
                Some(_) => {}
            }
        }
        self.shows
            .insert(tab, rooms.into_iter().map(|(room, _)| room).collect());
        changed
    }

    /// `tab` went away: it shows nothing.
    pub(super) fn gone(&mut self, tab: &str) {
        self.shows.remove(tab);
    }

    /// Whether some tab shows `room`.
    pub(super) fn is_shown(&self, room: &str) -> bool {
        self.shows.values().flatten().any(|shown| shown == room)
    }

    /// Whether the book follows `room`.
    pub(super) fn follows(&self, room: &str) -> bool {
        self.cursors.contains_key(room)
    }

    /// Follows `room` from `cursor`, unless it follows it already. Returns whether it is new.
    pub(super) fn follow(&mut self, room: &str, cursor: Cursor) -> bool {
        if self.follows(room) {
            return false;
        }
        self.cursors.insert(room.to_owned(), cursor);
        true
    }

    /// The stream read `news`: the room is followed from where the stream stopped (from its
    /// start after a reset that brought nothing).
    pub(super) fn advance(&mut self, news: &RoomNews) {
        if let Some(upto) = news.last_id {
            self.cursors.insert(news.room.clone(), Cursor::After(upto));
        } else if news.reset {
            self.cursors.insert(news.room.clone(), Cursor::Start);
        }
    }

    /// `room` is not this browser's to read (or no longer exists): nobody follows or shows it.
    pub(super) fn drop_room(&mut self, room: &str) {
        self.cursors.remove(room);
        for rooms in self.shows.values_mut() {
            rooms.retain(|shown| shown != room);
        }
    }

    /// Stops following the rooms no tab shows that are not `joined`. Returns whether it
    /// dropped any.
    pub(super) fn retain(&mut self, joined: impl Fn(&str) -> bool) -> bool {
        let shown: HashSet<String> = self.shows.values().flatten().cloned().collect();
        let before = self.cursors.len();
        self.cursors
            .retain(|room, _| shown.contains(room) || joined(room));
        self.cursors.len() != before
    }

    /// The rooms the next stream follows, each from its cursor, with whether a tab shows it:
    /// shown ones first should there be more than a stream takes, then by name.
    pub(super) fn next_stream(&self) -> Vec<(String, Cursor, bool)> {
        let shown: HashSet<&String> = self.shows.values().flatten().collect();
        let mut rooms: Vec<(String, Cursor, bool)> = (self.cursors.iter())
            .map(|(room, cursor)| (room.clone(), *cursor, shown.contains(room)))
            .collect();
        rooms
            .sort_unstable_by(|(a, _, a_shown), (b, _, b_shown)| (!a_shown, a).cmp(&(!b_shown, b)));
        rooms.truncate(MAX_STREAM_ROOMS);
        rooms
    }
}

/// What a view takes of a room's news (see [`take`]).
#[derive(Debug)]
pub(super) enum Take {
    /// The room's log was reset: the view shows these messages instead (changes applied).
    Replace(Vec<Arc<Message>>),
    /// What the view did not have: messages to add, then changes to apply in order.
    Add {
        messages: Vec<Arc<Message>>,
        changes: Vec<Arc<Change>>,
    },
}

impl Take {
    /// Whether taking it changes nothing (the view had all of it).
    pub(super) fn is_empty(&self) -> bool {
        match self {
            Take::Replace(_) => false,
            Take::Add { messages, changes } => messages.is_empty() && changes.is_empty(),
        }
    }

    /// Applies it to the view's messages, keeping at most [`MAX_ON_SCREEN`] of them.
    pub(super) fn apply(self, list: &mut Vec<Arc<Message>>) {
        match self {
            Take::Replace(messages) => *list = messages,
            Take::Add { messages, changes } => {
                list.extend(messages);
                changes::apply_all(list, &changes);
                let excess = list.len().saturating_sub(MAX_ON_SCREEN);
                list.drain(..excess);
            }
        }
    }
}

/// What a view that has its room up to `position` takes of the room's `news`, read by a stream
/// that held `held` for the room, and moves `position` on. `None` when there is a gap: the
/// stream read the room from further on than the view has it (`position` stays).
pub(super) fn take(position: &mut Cursor, news: &RoomNews, held: Option<Cursor>) -> Option<Take> {
    let upto = news.last_id.map(Cursor::After);
    if news.reset {
        let mut list = news.messages.clone();
        changes::apply_all(&mut list, &news.changes);
        *position = upto.unwrap_or(Cursor::of(&news.messages));
        return Some(Take::Replace(list));
    }
    let at = *position;
    match held {
        // From where the view is, or from before it (another tab's rewind): what the view has
        // already is dropped below.
        Some(held) if held <= at => {}
        None if at == Cursor::Start => {}
        _ => return None,
    }
    let is_new = |id: Uuid| Cursor::After(id) > at;
    let messages = (news.messages.iter())
        .filter(|message| is_new(message.id))
        .cloned()
        .collect();
    let changes = (news.changes.iter())
        .filter(|change| is_new(change.id))
        .cloned()
        .collect();
    if let Some(upto) = upto {
        *position = at.max(upto);
    }
    Some(Take::Add { messages, changes })
}

#[cfg(test)]
mod tests;
