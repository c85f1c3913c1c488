//! The tabs' protocol: which tab leads, and what the tabs tell each other.
//!
//! The tabs elect a leader with the Web Locks API: the first tab to get the lock
//! `longpoll-chat.leader` holds it for its whole life (the lock's callback answers a promise that
//! never settles), and when that tab closes or crashes the browser grants it at once to the next
//! tab waiting for it. Tabs announce what they show (with their cursors) over a
//! `BroadcastChannel`, and the leader posts every answer there ([`Note`]).
//!
//! Invariants:
//! - A tab hears its own notes by applying them to its book as it posts them (a channel does not
//!   deliver a tab's messages to itself), so its book is the one the others build.
//! - A tab that finds a gap announces its position again, which rewinds the stream for all.
//! - Without Web Locks or `BroadcastChannel` the tab leads alone, with a client id of its own
//!   (sharing the browser's would make the tabs supersede each other's streams).

use std::rc::Rc;

use leptos::{prelude::*, task::spawn_local};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};

use super::{
    cursor_book::Cursor,
    fetch_loop::browser_client_id,
    unread::{publish_unread, JoinedNote},
    views::take_presence,
    Hub,
};
use crate::{
    app::following::ConnectionState,
    model::{LiveState, RoomNews},
};

pub(super) const CHANNEL: &str = "longpoll-chat.stream";
const LOCK: &str = "longpoll-chat.leader";

/// What the tabs tell each other over the channel.
// Externally tagged (serde's default): smaller in the WASM than an internal tag.
#[derive(Serialize, Deserialize)]
pub(super) enum Note {
    /// A tab shows these rooms and has each up to this position.
    Shows {
        tab: String,
        rooms: Vec<(String, Cursor)>,
    },
    /// A tab is going away.
    Gone { tab: String },
    /// A new leader asks every tab what it shows.
    Ask,
    /// The stream answered; `after` is the cursor it held for each room.
    News {
        after: Vec<(String, Cursor)>,
        rooms: Vec<RoomNews>,
    },
    /// The leader's connection.
    State { state: ConnectionState },
    /// The joined rooms, how much of each is unread, and up to which message that was counted.
    Unread { rooms: Vec<JoinedNote> },
    /// A tab showed `room` up to `id`.
    Read { room: String, id: Uuid },
    /// A tab signed in or out (for every tab: they share the cookie): joined rooms change.
    Identity,
    /// The leader's last presence and typing of rooms a tab just started showing, each with
    /// when it came (milliseconds since the Unix epoch).
    Live {
        rooms: Vec<(String, LiveState, f64)>,
    },
}

impl Hub {
    pub(super) fn start(self: &Rc<Self>) {
        let shared = self.channel.is_some() && {
            let hub = self.clone();
            request_lock(move || hub.lead(browser_client_id()))
        };
        if !shared {
            // Each tab on its own: its own client id, or the tabs would supersede each other.
            self.lead(format!("tab-{}", self.tab));
            return;
        }
        if let Some(channel) = &self.channel {
            let hub = self.clone();
            let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |event: web_sys::MessageEvent| {
                    let text = event.data().as_string().unwrap_or_default();
                    if let Ok(note) = serde_json::from_str::<Note>(&text) {
                        hub.hear(note);
                    }
                },
            );
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            on_message.forget();
        }
        let hub = self.clone();
        let on_pagehide = Closure::<dyn FnMut()>::new(move || {
            hub.post(&Note::Gone {
                tab: hub.tab.clone(),
            });
        });
        let _ = window()
            .add_event_listener_with_callback("pagehide", on_pagehide.as_ref().unchecked_ref());
        on_pagehide.forget();
    }

    pub(super) fn post(&self, note: &Note) {
        if let (Some(channel), Ok(text)) = (&self.channel, serde_json::to_string(note)) {
            let _ = channel.post_message(&JsValue::from_str(&text));
        }
    }

    /// Tells every tab (and this one's book) what this tab shows, with its cursors.
    pub(super) fn announce(self: &Rc<Self>) {
        let rooms: Vec<(String, Cursor)> = {
            let book = self.book.borrow();
            book.views
                .values()
                .filter(|view| !view.unavailable && !view.messages.is_disposed())
                .map(|view| (view.room.clone(), view.position))
                .collect()
        };
        self.post(&Note::Shows {
            tab: self.tab.clone(),
            rooms: rooms.clone(),
        });
        self.hear_shows(self.tab.clone(), rooms);
    }

    fn hear(self: &Rc<Self>, note: Note) {
        match note {
            Note::Shows { tab, rooms } => {
                let names: Vec<String> = rooms.iter().map(|(room, _)| room.clone()).collect();
                self.hear_shows(tab, rooms);
                // A tab that just came, or opened a room, needs the leader's state: the stream
                // brings a room's presence only once it changes.
                let book = self.book.borrow();
                if book.leading {
                    let state = book.connection;
                    let unread = book.unread.note();
                    let presence: Vec<_> = (names.into_iter())
                        .filter_map(|room| {
                            let (state, at) = book.presence.get(&room)?.clone();
                            Some((room, state, at))
                        })
                        .collect();
                    drop(book);
                    if let Some(state) = state {
                        self.post(&Note::State { state });
                    }
                    self.post(&unread);
                    if !presence.is_empty() {
                        self.post(&Note::Live { rooms: presence });
                    }
                }
            }
            Note::Gone { tab } => {
                let mut book = self.book.borrow_mut();
                book.cursors.gone(&tab);
                book.prune();
            }
            Note::Ask => self.announce(),
            Note::News { after, rooms } => self.apply_news(&after, rooms),
            Note::State { state } => self.apply_state(state),
            Note::Unread { rooms } => {
                let mut book = self.book.borrow_mut();
                book.unread.heard(rooms);
                publish_unread(&mut book);
            }
            Note::Read { room, id } => self.hear_read(room, id),
            Note::Identity => self.hear_identity(),
            Note::Live { rooms } => {
                let mut book = self.book.borrow_mut();
                for (room, state, at) in rooms {
                    take_presence(&mut book, room, state, at);
                }
            }
        }
    }

    fn hear_shows(&self, tab: String, rooms: Vec<(String, Cursor)>) {
        let mut book = self.book.borrow_mut();
        if book.cursors.shows(tab, rooms) {
            book.changed = true;
        }
        book.prune();
    }

    /// Becomes the leader: holds the stream until the tab goes away.
    fn lead(self: &Rc<Self>, client_id: String) {
        self.book.borrow_mut().leading = true;
        // For tests and the curious: which tab holds the stream.
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-stream-leader", "true");
        }
        self.post(&Note::Ask);
        // A held request outlives the network the browser lost, until its timeout: end it, so
        // the page says it is offline and resumes from its cursors once back online.
        let hub = self.clone();
        let on_offline = Closure::<dyn FnMut()>::new(move || {
            if let Some(abort) = &hub.book.borrow().abort {
                abort.abort();
            }
        });
        let _ = window()
            .add_event_listener_with_callback("offline", on_offline.as_ref().unchecked_ref());
        on_offline.forget();
        let hub = self.clone();
        spawn_local(async move {
            hub.load_joined(false).await;
            hub.hold_stream(client_id).await;
        });
    }
}

/// Asks for the leader lock; `on_granted` runs once this tab holds it, which it then keeps
/// for its whole life. False when the browser has no Web Locks (web-sys has no stable binding:
/// `navigator.locks.request` is called through `Reflect`).
fn request_lock(on_granted: impl FnOnce() + 'static) -> bool {
    let navigator: JsValue = window().navigator().into();
    let Ok(locks) = js_sys::Reflect::get(&navigator, &JsValue::from_str("locks")) else {
        return false;
    };
    let Some(request) = js_sys::Reflect::get(&locks, &JsValue::from_str("request"))
        .ok()
        .and_then(|request| request.dyn_into::<js_sys::Function>().ok())
    else {
        return false;
    };
    let mut on_granted = Some(on_granted);
    let callback = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |_lock| {
        if let Some(on_granted) = on_granted.take() {
            on_granted();
        }
        // Never settles: the lock is released only when the tab goes away.
        js_sys::Promise::new(&mut |_, _| {})
    });
    let asked = request
        .call2(
            &locks,
            &JsValue::from_str(LOCK),
            callback.as_ref().unchecked_ref(),
        )
        .is_ok();
    callback.forget();
    asked
}
