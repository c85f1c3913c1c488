//! One stream per browser: the tabs of one browser share ONE held `POST /api/stream`.
//!
//! Every tab runs a [`Hub`] (one per page load, in the browser only). One tab leads and holds
//! the stream for every tab, following the rooms every tab shows plus the rooms the person
//! joined; the others hear its answers. The parts, one job each:
//! - `tabs`: the tabs' protocol (who leads, the notes they exchange over a `BroadcastChannel`);
//! - `cursor_book`: how far the browser has each room, and what a view takes of the news (the
//!   gap and rewind rules), plain Rust tested natively;
//! - `fetch_loop`: the leader's HTTP loop, its backoff and the browser's client id;
//! - `views`: what the tab's views of rooms get of each answer (signals);
//! - `unread`: the joined rooms, their unread counts and mentions, and what is new in them
//!   (the leader notifies a hidden page of it, see [`crate::app::notifications`]);
//! - `guest_reads`: a guest's read positions in `localStorage`.
//!
//! This file holds the `Book` every tab keeps and the hub's face to the page.
//!
//! Invariants:
//! - Every tab keeps the same book as the leader (what each tab shows, each room's cursor,
//!   the unread counts), from the notes it hears, so a new leader resumes from the cursors
//!   and loses nothing; it also asks every tab to announce again.
//! - The held stream follows what the book says: whatever changes the followed rooms, their
//!   cursors, or the rooms whose presence it asks sets `changed`, and the leader starts a new
//!   stream (aborting the held one, or ending its wait for a room to follow).
//! - The stream asks for presence and typing (`live_version`) of the rooms tabs show, and of
//!   those only, so typing elsewhere wakes nobody. Every tab keeps each shown room's last
//!   state with when it came, hands it to its views of the room, and gives it to a view that
//!   opens the room later; the leader tells a tab that starts showing a room what it has.

mod cursor_book;
mod fetch_loop;
mod guest_reads;
mod tabs;
mod unread;
mod views;

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet, HashMap},
    rc::Rc,
    sync::Arc,
};

use leptos::prelude::*;
use uuid::Uuid;

use super::{following::ConnectionState, presence::RoomPresence};
use crate::model::{LiveState, Message};
use cursor_book::{Cursor, CursorBook};
pub use guest_reads::{guest_reads, keep_guest_read};
use tabs::{Note, CHANNEL};
use unread::Unread;
pub use unread::{is_for, UnreadCount};
use views::View;

#[derive(Default)]
struct Book {
    views: HashMap<u64, View>,
    next_view: u64,
    leading: bool,
    /// What each tab shows, and how far the stream has each followed room.
    cursors: CursorBook,
    /// The last presence and typing of each shown room, with when it came (milliseconds since
    /// the Unix epoch): the stream asks from its version.
    presence: HashMap<String, (LiveState, f64)>,
    /// The rooms whose presence the held stream asks for.
    presence_asked: BTreeSet<String>,
    /// The joined rooms and how much of each is unread.
    unread: Unread,
    /// Whether the joined rooms were loaded (the leader's; it joins direct rooms after).
    joined_loaded: bool,
    /// The person's direct rooms, as the room list last showed them.
    direct: Vec<String>,
    connection: Option<ConnectionState>,
    /// Set when the followed rooms or cursors changed while a stream is held.
    changed: bool,
    /// Set when the page signed in or out: the next stream takes a new client id, since the
    /// old one stays the other identity's until it idles (a stream under it would be refused).
    identity_changed: bool,
    /// The held request, aborted when the rooms change.
    abort: Option<web_sys::AbortController>,
    /// Resolves the leader's wait while it has no room to follow.
    park: Option<js_sys::Function>,
    unread_sinks: Vec<RwSignal<BTreeMap<String, UnreadCount>>>,
}

impl Book {
    /// The rooms the next stream follows, shown ones first should there be more than a stream
    /// takes, and for each shown one the presence version it asks from (0: none yet).
    fn next_stream(&self) -> (Vec<(String, Cursor)>, BTreeMap<String, u64>) {
        let rooms = self.cursors.next_stream();
        let presence = (rooms.iter())
            .filter(|(_, _, shown)| *shown)
            .map(|(room, _, _)| {
                let version = self
                    .presence
                    .get(room)
                    .map_or(0, |(state, _)| state.version);
                (room.clone(), version)
            })
            .collect();
        let rooms = (rooms.into_iter())
            .map(|(room, cursor, _)| (room, cursor))
            .collect();
        (rooms, presence)
    }

    /// Drops rooms no tab shows and nobody joined, and the presence of rooms no tab shows; wakes
    /// the leader when the followed rooms changed, or the rooms it asks presence of.
    fn prune(&mut self) {
        if self.cursors.retain(|room| self.unread.is_joined(room)) {
            self.changed = true;
        }
        self.presence.retain(|room, _| self.cursors.is_shown(room));
        if !self.next_stream().1.keys().eq(self.presence_asked.iter()) {
            self.changed = true;
        }
        if self.changed && self.leading {
            if let Some(abort) = &self.abort {
                abort.abort();
            }
            if let Some(resolve) = self.park.take() {
                let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
            }
        }
    }
}

/// This tab's end of the browser's one stream.
pub struct Hub {
    tab: String,
    channel: Option<web_sys::BroadcastChannel>,
    book: RefCell<Book>,
}

thread_local! {
    static HUB: RefCell<Option<Rc<Hub>>> = const { RefCell::new(None) };
}

/// The tab's hub, started on first use (in the browser only: call it from effects).
pub fn hub() -> Rc<Hub> {
    HUB.with(|cell| {
        if let Some(hub) = cell.borrow().as_ref() {
            return hub.clone();
        }
        let hub = Rc::new(Hub {
            tab: Uuid::now_v7().to_string(),
            channel: web_sys::BroadcastChannel::new(CHANNEL).ok(),
            book: RefCell::new(Book::default()),
        });
        *cell.borrow_mut() = Some(hub.clone());
        hub.start();
        hub
    })
}

impl Hub {
    /// Follows `room` for a view: its messages go to `messages` (which holds the room up to
    /// its last message), the connection to `connection`, who is there and typing to `presence`.
    /// Returns the id [`Hub::unfollow`] takes.
    pub fn follow(
        self: &Rc<Self>,
        room: String,
        messages: RwSignal<Vec<Arc<Message>>>,
        connection: RwSignal<ConnectionState>,
        presence: RoomPresence,
    ) -> u64 {
        let id = {
            let mut book = self.book.borrow_mut();
            let id = book.next_view;
            book.next_view += 1;
            if let Some(state) = book.connection {
                connection.set(state);
            }
            match book.presence.get(&room) {
                Some((state, at)) => presence.receive(state, *at),
                None => presence.clear(),
            }
            // The history shows its messages as they are now: changes after the last one that
            // it already shows may come again, and applying them again changes nothing.
            let position = messages.with_untracked(|list| Cursor::of(list));
            book.views.insert(
                id,
                View {
                    room,
                    messages,
                    position,
                    connection,
                    presence,
                    unavailable: false,
                },
            );
            id
        };
        self.announce();
        id
    }

    pub fn unfollow(self: &Rc<Self>, id: u64) {
        let view = self.book.borrow_mut().views.remove(&id);
        if let Some(view) = view {
            view.presence.clear();
        }
        self.announce();
    }

    /// Where the page's unread counts go (per room, only rooms with some).
    pub fn unread_into(&self, sink: RwSignal<BTreeMap<String, UnreadCount>>) {
        let mut book = self.book.borrow_mut();
        sink.set(book.unread.counts());
        book.unread_sinks.retain(|sink| !sink.is_disposed());
        book.unread_sinks.push(sink);
    }

    /// This tab showed `room` up to `id`: it is read, and joined.
    pub fn read(self: &Rc<Self>, room: String, id: Uuid) {
        self.post(&Note::Read {
            room: room.clone(),
            id,
        });
        self.hear_read(room, id);
    }

    /// The page signed in or out: the leader loads the joined rooms of who it is now.
    pub fn identity_changed(self: &Rc<Self>) {
        self.post(&Note::Identity);
        self.hear_identity();
    }

    /// Signed in or out, here or in another tab: the held stream ends, the next takes a new
    /// client id, and the joined rooms are loaded again.
    fn hear_identity(self: &Rc<Self>) {
        {
            let mut book = self.book.borrow_mut();
            book.identity_changed = true;
            book.changed = true;
            if let Some(abort) = book.abort.take() {
                abort.abort();
            }
        }
        self.reload_joined();
    }

    /// Who the page is signed in as (an account key; `None`: a guest): whom mentions are for.
    pub fn signed_in_as(&self, me: Option<String>) {
        self.book.borrow_mut().unread.set_me(me);
    }

    /// The person's direct rooms, as the room list shows them: the leader joins those someone
    /// else started, so they are counted.
    pub fn direct_rooms(self: &Rc<Self>, rooms: Vec<String>) {
        self.book.borrow_mut().direct = rooms;
        self.join_direct_rooms();
    }
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}
