//! Unread counting: the rooms the person joined, how many messages of each are unread and how
//! many of those are for them (a mention, or any message in a direct room), and up to which
//! message that was counted (or read); the page's counts follow it.
//!
//! Invariants:
//! - A joined room's messages after its read position are counted only while no tab shows it:
//!   a shown room is read as it arrives (its count stays 0, its position moves on).
//! - A message is counted once: only messages after the last one counted add to the count, so a
//!   stream that rewinds, or a new leader, counts nothing twice.
//! - The person's own messages (sent from another tab or device) are never unread.
//! - Every tab keeps the same counts: the leader tells them after each answer and each read.

use std::{collections::BTreeMap, rc::Rc, sync::Arc};

use leptos::{prelude::*, task::spawn_local};
use uuid::Uuid;

use super::{cursor_book::Cursor, guest_reads::guest_reads, tabs::Note, Book, Hub};
use crate::{
    api::joined_rooms,
    model::{is_direct_room, Message, RoomNews},
};

/// What the page shows of a joined room: its unread messages, and how many of those are for
/// the person (mention them, or are in a direct room).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnreadCount {
    pub messages: usize,
    pub mentions: usize,
}

/// A joined room as the tabs count it: its unread messages and mentions, and the last message
/// counted (or read).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Joined {
    count: UnreadCount,
    upto: Option<Uuid>,
}

/// A joined room as the leader tells the other tabs: its name, its unread messages and
/// mentions, the last message counted.
pub(super) type JoinedNote = (String, usize, usize, Option<Uuid>);

/// Whether `message` of `room` is for `me` (an account key): it mentions them, or it is in a
/// direct room, and it is not their own.
pub fn is_for(me: &str, room: &str, message: &Message) -> bool {
    message.author.as_deref() != Some(me)
        && (is_direct_room(room) || message.mentions.iter().any(|key| key == me))
}

/// The joined rooms and who counts them.
#[derive(Debug, Default)]
pub(super) struct Unread {
    rooms: BTreeMap<String, Joined>,
    /// The signed-in account's key, whom mentions are for; `None` for a guest.
    me: Option<String>,
}

impl Unread {
    /// As the leader tells it (who is signed in is this tab's own to know).
    pub(super) fn heard(&mut self, rooms: Vec<JoinedNote>) {
        self.rooms = (rooms.into_iter())
            .map(|(room, messages, mentions, upto)| {
                let count = UnreadCount { messages, mentions };
                (room, Joined { count, upto })
            })
            .collect();
    }

    /// What the leader tells the other tabs.
    pub(super) fn note(&self) -> Note {
        Note::Unread {
            rooms: (self.rooms.iter())
                .map(|(room, Joined { count, upto })| {
                    (room.clone(), count.messages, count.mentions, *upto)
                })
                .collect(),
        }
    }

    /// The counts per room, only rooms with messages unread.
    pub(super) fn counts(&self) -> BTreeMap<String, UnreadCount> {
        (self.rooms.iter())
            .filter(|(_, joined)| joined.count.messages > 0)
            .map(|(room, joined)| (room.clone(), joined.count))
            .collect()
    }

    pub(super) fn is_joined(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }

    /// Who is signed in (an account key), or a guest (`None`).
    pub(super) fn me(&self) -> Option<&str> {
        self.me.as_deref()
    }

    pub(super) fn set_me(&mut self, me: Option<String>) {
        self.me = me;
    }

    /// Joins `room`, read up to `upto` (nothing read: `None`), unless it is joined already.
    pub(super) fn join(&mut self, room: String, upto: Option<Uuid>) {
        self.rooms.entry(room).or_insert(Joined {
            count: UnreadCount::default(),
            upto,
        });
    }

    /// A tab showed `room` up to `id`: it is read (and joined).
    pub(super) fn read(&mut self, room: &str, id: Uuid) {
        let joined = self.rooms.entry(room.to_owned()).or_default();
        *joined = Joined {
            count: UnreadCount::default(),
            upto: joined.upto.max(Some(id)),
        };
    }

    /// The stream brought `news` of a room; `shown`: a tab shows it, so it is read. Returns
    /// the messages new to the joined room that are not the person's own (worth notifying of,
    /// should the room's level ask for them).
    pub(super) fn count(&mut self, news: &RoomNews, shown: bool) -> Vec<Arc<Message>> {
        let Some(mut joined) = self.rooms.get(&news.room).copied() else {
            return Vec::new();
        };
        let me = self.me.as_deref();
        let fresh: Vec<Arc<Message>> = (news.messages.iter())
            .filter(|message| joined.upto.is_none_or(|upto| message.id > upto))
            .filter(|message| me.is_none_or(|me| message.author.as_deref() != Some(me)))
            .cloned()
            .collect();
        if shown {
            joined.count = UnreadCount::default();
        } else {
            joined.count.messages += fresh.len();
            joined.count.mentions += (fresh.iter())
                .filter(|message| me.is_some_and(|me| is_for(me, &news.room, message)))
                .count();
        }
        let last = news.messages.last().map(|message| message.id);
        joined.upto = joined.upto.max(last);
        self.rooms.insert(news.room.clone(), joined);
        fresh
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
    pub(super) async fn load_joined(self: &Rc<Self>, again: bool) {
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
            // Until the room list shows the new person's.
            book.direct.clear();
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
        book.joined_loaded = true;
        drop(book);
        self.join_direct_rooms();
    }

    /// Joins the person's direct rooms they have not joined yet (someone else started them),
    /// so their messages are counted from the first: the leader's job, once it knows what is
    /// joined. Tells every tab the counts. (The server joins a room when it is first read: a
    /// second caller of `mark_read` here would cost the first load more than it gives.)
    pub(super) fn join_direct_rooms(self: &Rc<Self>) {
        let mut book = self.book.borrow_mut();
        if !book.leading || !book.joined_loaded {
            return;
        }
        let new: Vec<String> = (book.direct.iter())
            .filter(|room| !book.unread.is_joined(room))
            .cloned()
            .collect();
        for room in new {
            if book.cursors.follow(&room, Cursor::Start) {
                book.changed = true;
            }
            book.unread.join(room.clone(), None);
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
    use super::*;

    fn message() -> Arc<Message> {
        Arc::new(Message {
            id: Uuid::now_v7(),
            room: "r".into(),
            ..Message::default()
        })
    }

    fn from(author: &str, mentions: &[&str]) -> Arc<Message> {
        Arc::new(Message {
            author: Some(author.into()),
            mentions: mentions.iter().map(|key| key.to_string()).collect(),
            ..Message::clone(&message())
        })
    }

    fn news(messages: &[&Arc<Message>]) -> RoomNews {
        news_of("r", messages)
    }

    fn news_of(room: &str, messages: &[&Arc<Message>]) -> RoomNews {
        RoomNews {
            room: room.into(),
            messages: messages.iter().copied().cloned().collect(),
            reset: false,
            unavailable: false,
            changes: Vec::new(),
            last_id: messages.last().map(|message| message.id),
            live: None,
        }
    }

    fn count_of(unread: &Unread, room: &str) -> UnreadCount {
        unread.counts().get(room).copied().unwrap_or_default()
    }

    fn count(unread: &Unread) -> usize {
        count_of(unread, "r").messages
    }

    fn signed_in_as(me: &str) -> Unread {
        let mut unread = Unread::default();
        unread.set_me(Some(me.into()));
        unread
    }

    fn ids(messages: &[Arc<Message>]) -> Vec<Uuid> {
        messages.iter().map(|message| message.id).collect()
    }

    #[test]
    fn messages_after_the_read_position_are_counted_once() {
        let (read, one, two) = (message(), message(), message());
        let mut unread = Unread::default();
        unread.join("r".into(), Some(read.id));
        // A stream from the start brings what was read too.
        assert_eq!(ids(&unread.count(&news(&[&read, &one]), false)), [one.id]);
        assert_eq!(count(&unread), 1);
        // A rewound stream brings `one` again.
        assert_eq!(ids(&unread.count(&news(&[&one, &two]), false)), [two.id]);
        assert_eq!(count(&unread), 2);
        assert!(unread.count(&news(&[]), false).is_empty());
        assert_eq!(count(&unread), 2);
    }

    #[test]
    fn a_shown_room_is_read_as_it_arrives() {
        let (one, two, three) = (message(), message(), message());
        let mut unread = Unread::default();
        unread.join("r".into(), None);
        unread.count(&news(&[&one]), false);
        assert_eq!(count(&unread), 1);
        // Read, but still new (worth a notification when nobody looks at the tab).
        assert_eq!(ids(&unread.count(&news(&[&two]), true)), [two.id]);
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
        assert!(unread.count(&news(&[&one]), false).is_empty());
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
    fn mentions_of_me_and_direct_messages_are_counted_apart_and_my_own_not_at_all() {
        let mut unread = signed_in_as("ann");
        unread.join("r".into(), None);
        unread.join("dm--x".into(), None);
        let (plain, for_me, for_bob) = (
            from("bob", &[]),
            from("bob", &["ann"]),
            from("cy", &["bob"]),
        );
        let (mine, mine_naming_bob) = (from("ann", &[]), from("ann", &["bob"]));
        let fresh = unread.count(
            &news(&[&plain, &for_me, &for_bob, &mine, &mine_naming_bob]),
            false,
        );
        assert_eq!(ids(&fresh), [plain.id, for_me.id, for_bob.id]);
        let counted = UnreadCount {
            messages: 3,
            mentions: 1,
        };
        assert_eq!(count_of(&unread, "r"), counted);
        let (hi, again, mine) = (from("bob", &[]), from("bob", &[]), from("ann", &[]));
        unread.count(&news_of("dm--x", &[&hi, &mine, &again]), false);
        let counted = UnreadCount {
            messages: 2,
            mentions: 2,
        };
        assert_eq!(count_of(&unread, "dm--x"), counted);
        // Read: both counts clear.
        unread.read("dm--x", again.id);
        assert_eq!(count_of(&unread, "dm--x"), UnreadCount::default());
    }

    #[test]
    fn a_guest_has_unread_messages_but_no_mentions() {
        let mut unread = Unread::default();
        unread.join("r".into(), None);
        unread.count(&news(&[&from("bob", &["ann"])]), false);
        let counted = UnreadCount {
            messages: 1,
            mentions: 0,
        };
        assert_eq!(count_of(&unread, "r"), counted);
    }

    #[test]
    fn a_message_is_for_me_when_it_mentions_me_or_is_direct_and_not_mine() {
        assert!(is_for("ann", "r", &from("bob", &["ann"])));
        assert!(!is_for("ann", "r", &from("bob", &["bob", "annie"])));
        assert!(is_for("ann", "dm--x", &from("bob", &[])));
        assert!(!is_for("ann", "dm--x", &from("ann", &[])));
    }

    #[test]
    fn every_tab_gets_the_same_counts() {
        let mut unread = signed_in_as("ann");
        unread.join("a".into(), None);
        unread.join("b".into(), None);
        unread.count(&news_of("a", &[&from("bob", &["ann"])]), false);
        let Note::Unread { rooms } = unread.note() else {
            panic!("an unread note");
        };
        let mut heard = signed_in_as("ann");
        heard.heard(rooms);
        assert_eq!(heard.counts(), unread.counts());
        assert!(heard.is_joined("b"));
        heard.retain(|room| room == "b");
        heard.forget("b");
        assert!(!heard.is_joined("a") && !heard.is_joined("b"));
    }
}
