//! Unread counting: the joined rooms, how much of each is unread, and read positions.

use std::{collections::BTreeMap, rc::Rc};

use leptos::{prelude::*, task::spawn_local};
use uuid::Uuid;

use super::{cursor_book::Cursor, guest_reads::guest_reads, tabs::Note, Book, Hub};
use crate::api::joined_rooms;

impl Hub {
    pub(super) fn reload_joined(self: &Rc<Self>) {
        if self.book.borrow().leading {
            let hub = self.clone();
            spawn_local(async move { hub.load_joined(true).await });
        }
    }

    pub(super) fn hear_read(self: &Rc<Self>, room: String, id: Uuid) {
        let mut book = self.book.borrow_mut();
        let entry = book.joined.entry(room.clone()).or_insert((0, None));
        *entry = (0, entry.1.max(Some(id)));
        book.cursors.follow(&room, Cursor::After(id));
        publish_unread(&mut book);
        if book.leading {
            let note = unread_note(&book.joined);
            drop(book);
            self.post(&note);
        }
    }

    /// The joined rooms and read positions: the account's from the server, a guest's from
    /// `localStorage`. `again`: the identity changed, so rooms no longer listed are dropped.
    pub(super) async fn load_joined(&self, again: bool) {
        let joined: Vec<(String, usize, Option<Uuid>)> = match joined_rooms().await {
            Ok(Some(list)) => list
                .rooms
                .into_iter()
                // The stream brings what came after the read position (everything the room
                // keeps when there is none) and counts it.
                .map(|room| (room.room, 0, room.last_read_id))
                .collect(),
            Ok(None) | Err(_) => guest_reads()
                .into_iter()
                .map(|(room, id)| (room, 0, Some(id)))
                .collect(),
        };
        let mut book = self.book.borrow_mut();
        if again {
            book.joined
                .retain(|room, _| joined.iter().any(|(listed, _, _)| listed == room));
            // The held stream is someone else's: presence counts it as who it was.
            book.changed = true;
        }
        for (room, count, upto) in joined {
            if book
                .cursors
                .follow(&room, upto.map_or(Cursor::Start, Cursor::After))
            {
                book.changed = true;
            }
            book.joined.entry(room).or_insert((count, upto));
        }
        book.prune();
        publish_unread(&mut book);
        let note = unread_note(&book.joined);
        drop(book);
        self.post(&note);
    }
}

pub(super) fn unread_counts(
    joined: &BTreeMap<String, (usize, Option<Uuid>)>,
) -> BTreeMap<String, usize> {
    joined
        .iter()
        .filter(|(_, (count, _))| *count > 0)
        .map(|(room, (count, _))| (room.clone(), *count))
        .collect()
}

pub(super) fn unread_note(joined: &BTreeMap<String, (usize, Option<Uuid>)>) -> Note {
    Note::Unread {
        rooms: joined
            .iter()
            .map(|(room, (count, upto))| (room.clone(), *count, *upto))
            .collect(),
    }
}

pub(super) fn publish_unread(book: &mut Book) {
    let counts = unread_counts(&book.joined);
    book.unread_sinks.retain(|sink| !sink.is_disposed());
    for sink in &book.unread_sinks {
        if sink.with_untracked(|shown| *shown != counts) {
            sink.set(counts.clone());
        }
    }
}
