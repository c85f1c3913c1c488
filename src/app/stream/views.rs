//! The tab's views of rooms (one per room component following the stream): what each gets of
//! a stream's answer, of the connection state, and of its room's presence. The rules of what a
//! view takes are the cursor book's ([`super::cursor_book::take`]); this file hands the result
//! to the view's signals.
//!
//! Invariants:
//! - An answer advances the book (cursors, unread counts) before any view sees it, so a view
//!   that finds a gap announces against the book as it is now.
//! - A view told its room is unavailable is no longer announced, and gets no more connection
//!   state or presence.
//! - Only the leader notifies of new messages, so one browser shows one notification of each,
//!   and only while its page is hidden (see [`crate::app::notifications`]).

use std::{rc::Rc, sync::Arc};

use leptos::{prelude::*, task::spawn_local};

use super::{
    cursor_book::{take, Cursor},
    tabs::Note,
    unread::publish_unread,
    Book, Hub,
};
use crate::{
    app::{following::ConnectionState, notifications::notify_away, presence::RoomPresence},
    model::{LiveState, Message, RoomNews},
};

/// A room view following the stream.
pub(super) struct View {
    pub(super) room: String,
    pub(super) messages: RwSignal<Vec<Arc<Message>>>,
    /// How far the view has its room: the last message or change applied to `messages`.
    pub(super) position: Cursor,
    pub(super) connection: RwSignal<ConnectionState>,
    /// Who is in the room and who types there.
    pub(super) presence: RoomPresence,
    pub(super) unavailable: bool,
}

impl View {
    /// Takes the room's news when it continues the view's position (see [`take`]); `held` is
    /// the cursor the stream held. Returns false when there is a gap.
    fn receive(&mut self, news: &RoomNews, held: Option<Cursor>) -> bool {
        let Some(taken) = take(&mut self.position, news, held) else {
            return false;
        };
        if !taken.is_empty() {
            self.messages.try_update(|list| taken.apply(list));
        }
        true
    }
}

impl Hub {
    pub(super) fn apply_state(&self, state: ConnectionState) {
        let mut book = self.book.borrow_mut();
        book.connection = Some(state);
        for view in book.views.values() {
            if !view.unavailable {
                view.connection.try_set(state);
            }
        }
    }

    pub(super) fn set_state(&self, state: ConnectionState) {
        if self.book.borrow().connection != Some(state) {
            self.post(&Note::State { state });
            self.apply_state(state);
        }
    }

    /// An answer of the stream, in every tab: advances the cursors, counts unread messages,
    /// and hands each view its room's news.
    pub(super) fn apply_news(self: &Rc<Self>, after: &[(String, Cursor)], rooms: Vec<RoomNews>) {
        let mut gap = false;
        let now = js_sys::Date::now();
        // New messages of joined rooms, for the leader to notify a hidden page of.
        let mut fresh = Vec::new();
        let me;
        {
            let mut book = self.book.borrow_mut();
            let book = &mut *book;
            let mut gone = Vec::new();
            for news in &rooms {
                if news.unavailable {
                    gone.push(news.room.clone());
                    continue;
                }
                book.cursors.advance(news);
                let shown = book.cursors.is_shown(&news.room);
                let new = book.unread.count(news, shown);
                if book.leading {
                    fresh.extend(new);
                }
            }
            for room in gone {
                book.cursors.drop_room(&room);
                book.unread.forget(&room);
            }
            publish_unread(book);
            me = book.unread.me().map(str::to_owned);
            for news in &rooms {
                if let Some(state) = &news.live {
                    take_presence(book, news.room.clone(), LiveState::clone(state), now);
                }
            }
            for view in book.views.values_mut() {
                let Some(news) = rooms.iter().find(|news| news.room == view.room) else {
                    continue;
                };
                if news.unavailable {
                    view.unavailable = true;
                    view.connection.try_set(ConnectionState::Unavailable);
                    view.presence.clear();
                    continue;
                }
                let held = after
                    .iter()
                    .find(|(room, _)| *room == view.room)
                    .map(|(_, cursor)| *cursor);
                gap |= !view.receive(news, held);
            }
        }
        if gap {
            self.announce();
        }
        // Only an account hears of anything.
        let hidden = || crate::app::js::get(&document(), "hidden").is_truthy();
        if let Some(me) = me.filter(|_| !fresh.is_empty() && hidden()) {
            spawn_local(notify_away(fresh, me));
        }
    }
}

/// Keeps a shown room's new presence and typing, and hands it to the tab's views of the room.
/// A state kept already (a repeat) changes nothing.
pub(super) fn take_presence(book: &mut Book, room: String, state: LiveState, at: f64) {
    let shown = book.cursors.is_shown(&room);
    let known = (book.presence.get(&room)).is_some_and(|(held, _)| held.version == state.version);
    if !shown || known {
        return;
    }
    for view in book.views.values() {
        if view.room == room && !view.unavailable {
            view.presence.receive(&state, at);
        }
    }
    book.presence.insert(room, (state, at));
}
