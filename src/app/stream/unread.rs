//! Unread counting: the rooms the person joined, how many messages of each are unread, and up
//! to which message that was counted (or read); the page's unread counts follow it.
//!
//! Invariants:
//! - A joined room's messages after its read position are counted only while no tab shows it:
//!   a shown room is read as it arrives (its count stays 0, its position moves on).
//! - A message is counted once: only messages after the last one counted add to the count, so a
//!   stream that rewinds, or a new leader, counts nothing twice.
//! - Every tab keeps the same counts: the leader tells them after each answer and each read.

use std::{collections::BTreeMap, rc::Rc};

use leptos::{prelude::*, task::spawn_local};
use uuid::Uuid;

use super::{cursor_book::Cursor, guest_reads::guest_reads, tabs::Note, Book, Hub};
use crate::{api::joined_rooms, model::RoomNews};

/// The joined rooms: per room, the unread count and the last message counted (or read).
#[derive(Debug, Default)]
pub(super) struct Unread {
    rooms: BTreeMap<String, (usize, Option<Uuid>)>,
}

impl Unread {
    /// As the leader tells it: each room with its count and the last message counted.
    pub(super) fn from_note(rooms: Vec<(String, usize, Option<Uuid>)>) -> Self {
        let rooms = (rooms.into_iter())
            .map(|(room, count, upto)| (room, (count, upto)))
            .collect();
        Self { rooms }
    }

    /// What the leader tells the other tabs.
    pub(super) fn note(&self) -> Note {
        Note::Unread {
            rooms: (self.rooms.iter())
                .map(|(room, (count, upto))| (room.clone(), *count, *upto))
                .collect(),
        }
    }

    /// The unread count per room, only rooms with some.
    pub(super) fn counts(&self) -> BTreeMap<String, usize> {
        (self.rooms.iter())
            .filter(|(_, (count, _))| *count > 0)
            .map(|(room, (count, _))| (room.clone(), *count))
            .collect()
    }

    pub(super) fn is_joined(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }

    /// Joins `room`, read up to `upto` (nothing read: `None`), unless it is joined already.
    pub(super) fn join(&mut self, room: String, upto: Option<Uuid>) {
        self.rooms.entry(room).or_insert((0, upto));
    }

    /// A tab showed `room` up to `id`: it is read (and joined).
    pub(super) fn read(&mut self, room: &str, id: Uuid) {
        let entry = self.rooms.entry(room.to_owned()).or_insert((0, None));
        *entry = (0, entry.1.max(Some(id)));
    }

    /// The stream brought `news` of a room; `shown`: a tab shows it, so it is read.
    pub(super) fn count(&mut self, news: &RoomNews, shown: bool) {
        let Some((count, upto)) = self.rooms.get_mut(&news.room) else {
            return;
        };
        if shown {
            *count = 0;
        } else {
            *count += (news.messages.iter())
                .filter(|message| upto.is_none_or(|upto| message.id > upto))
                .count();
        }
        let last = news.messages.last().map(|message| message.id);
        *upto = (*upto).max(last);
    }

    /// `room` is gone (or not this person's to read).
    pub(super) fn forget(&mut self, room: &str) {
        self.rooms.remove(room);
    }

    /// Keeps the rooms `listed` (who the page is changed; their joined rooms are others).
    pub(super) fn retain(&mut self, listed: impl Fn(&str) -> bool) {
        self.rooms.retain(|room, _| listed(room));
    }
}

impl Hub {
    pub(super) fn reload_joined(self: &Rc<Self>) {
        if self.book.borrow().leading {
            let hub = self.clone();
            spawn_local(async move { hub.load_joined(true).await });
        }
    }

    pub(super) fn hear_read(self: &Rc<Self>, room: String, id: Uuid) {
        let mut book = self.book.borrow_mut();
        book.unread.read(&room, id);
        book.cursors.follow(&room, Cursor::After(id));
        publish_unread(&mut book);
        if book.leading {
            let note = book.unread.note();
            drop(book);
            self.post(&note);
        }
    }

    /// The joined rooms and read positions: the account's from the server, a guest's from
    /// `localStorage`. `again`: the identity changed, so rooms no longer listed are dropped.
    pub(super) async fn load_joined(&self, again: bool) {
        let joined: Vec<(String, Option<Uuid>)> = match joined_rooms().await {
            Ok(Some(list)) => list
                .rooms
                .into_iter()
                // The stream brings what came after the read position (everything the room
                // keeps when there is none) and counts it.
                .map(|room| (room.room, room.last_read_id))
                .collect(),
            Ok(None) | Err(_) => guest_reads()
                .into_iter()
                .map(|(room, id)| (room, Some(id)))
                .collect(),
        };
        let mut book = self.book.borrow_mut();
        if again {
            (book.unread).retain(|room| joined.iter().any(|(listed, _)| listed == room));
            // The held stream is someone else's: presence counts it as who it was.
            book.changed = true;
        }
        for (room, upto) in joined {
            if book
                .cursors
                .follow(&room, upto.map_or(Cursor::Start, Cursor::After))
            {
                book.changed = true;
            }
            book.unread.join(room, upto);
        }
        book.prune();
        publish_unread(&mut book);
        let note = book.unread.note();
        drop(book);
        self.post(&note);
    }
}

/// Hands the page's unread counts to every sink still alive (only those they change).
pub(super) fn publish_unread(book: &mut Book) {
    let counts = book.unread.counts();
    book.unread_sinks.retain(|sink| !sink.is_disposed());
    for sink in &book.unread_sinks {
        if sink.with_untracked(|shown| *shown != counts) {
            sink.set(counts.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::Message;

    fn message() -> Arc<Message> {
        Arc::new(Message {
            id: Uuid::now_v7(),
            room: "r".into(),
            ..Message::default()
        })
    }

    fn news(messages: &[&Arc<Message>]) -> RoomNews {
        RoomNews {
            room: "r".into(),
            messages: messages.iter().copied().cloned().collect(),
            reset: false,
            unavailable: false,
            changes: Vec::new(),
            last_id: messages.last().map(|message| message.id),
            live: None,
        }
    }

    fn count(unread: &Unread) -> usize {
        unread.counts().get("r").copied().unwrap_or(0)
    }

    #[test]
    fn messages_after_the_read_position_are_counted_once() {
        let (read, one, two) = (message(), message(), message());
        let mut unread = Unread::default();
        unread.join("r".into(), Some(read.id));
        // A stream from the start brings what was read too.
        unread.count(&news(&[&read, &one]), false);
        assert_eq!(count(&unread), 1);
        // A rewound stream brings `one` again.
        unread.count(&news(&[&one, &two]), false);
        assert_eq!(count(&unread), 2);
        unread.count(&news(&[]), false);
        assert_eq!(count(&unread), 2);
    }

    #[test]
    fn a_shown_room_is_read_as_it_arrives() {
        let (one, two, three) = (message(), message(), message());
        let mut unread = Unread::default();
        unread.join("r".into(), None);
        unread.count(&news(&[&one]), false);
        assert_eq!(count(&unread), 1);
        unread.count(&news(&[&two]), true);
        assert_eq!(count(&unread), 0);
        assert!(unread.counts().is_empty(), "only rooms with some");
        // What the shown room brought is not counted once nobody shows it.
        unread.count(&news(&[&two, &three]), false);
        assert_eq!(count(&unread), 1);
    }

    #[test]
    fn reading_joins_a_room_and_only_moves_forward() {
        let (one, two, three) = (message(), message(), message());
        let mut unread = Unread::default();
        // Rooms not joined are not counted.
        unread.count(&news(&[&one]), false);
        assert!(!unread.is_joined("r"));
        unread.read("r", two.id);
        assert!(unread.is_joined("r"));
        unread.read("r", one.id);
        unread.count(&news(&[&one, &two, &three]), false);
        assert_eq!(count(&unread), 1);
        // Joining again keeps what is counted.
        unread.join("r".into(), None);
        assert_eq!(count(&unread), 1);
    }

    #[test]
    fn every_tab_gets_the_same_counts() {
        let mut unread = Unread::default();
        unread.join("a".into(), None);
        unread.join("b".into(), None);
        unread.count(
            &RoomNews {
                room: "a".into(),
                ..news(&[&message()])
            },
            false,
        );
        let Note::Unread { rooms } = unread.note() else {
            panic!("an unread note");
        };
        let heard = Unread::from_note(rooms);
        assert_eq!(heard.counts(), unread.counts());
        assert!(heard.is_joined("b"));
        let mut heard = heard;
        heard.retain(|room| room == "b");
        heard.forget("b");
        assert!(!heard.is_joined("a") && !heard.is_joined("b"));
    }
}
