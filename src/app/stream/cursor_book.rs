//! The cursor book: how far the browser has each followed room, which rooms the next stream
//! follows, and when a view may take a room's news (the gap and rewind rules).

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
};

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wasm_bindgen::JsValue;

use super::{views::View, Book};
use crate::app::changes;
use crate::model::{Message, RoomNews, MAX_STREAM_ROOMS};

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
    pub(super) fn of(messages: &[Arc<Message>]) -> Self {
        messages
            .last()
            .map_or(Cursor::Start, |message| Cursor::After(message.id))
    }
}

/// The rooms the next stream follows, shown ones first should there be more than a stream
/// takes, and for each shown one the presence version it asks from (0: none yet).
pub(super) fn stream_rooms(book: &Book) -> (Vec<(String, Cursor)>, BTreeMap<String, u64>) {
    let shown: HashSet<&String> = book.shows.values().flatten().collect();
    let mut rooms: Vec<(String, Cursor)> = (book.cursors.iter())
        .map(|(room, cursor)| (room.clone(), *cursor))
        .collect();
    rooms.sort_unstable_by(|(a, _), (b, _)| (!shown.contains(a), a).cmp(&(!shown.contains(b), b)));
    rooms.truncate(MAX_STREAM_ROOMS);
    let live = (rooms.iter())
        .filter(|(room, _)| shown.contains(room))
        .map(|(room, _)| {
            let version = book.live.get(room).map_or(0, |(state, _)| state.version);
            (room.clone(), version)
        })
        .collect();
    (rooms, live)
}

/// Drops rooms no tab shows and nobody joined, and the presence of rooms no tab shows; wakes
/// the leader when the followed rooms changed, or the rooms it asks presence of.
pub(super) fn prune(book: &mut Book) {
    let shown: HashSet<String> = book.shows.values().flatten().cloned().collect();
    let before = book.cursors.len();
    let joined = &book.joined;
    book.cursors
        .retain(|room, _| shown.contains(room) || joined.contains_key(room));
    if book.cursors.len() != before {
        book.changed = true;
    }
    book.live.retain(|room, _| shown.contains(room));
    if !stream_rooms(book).1.keys().eq(book.live_asked.iter()) {
        book.changed = true;
    }
    if book.changed && book.leading {
        if let Some(abort) = &book.abort {
            abort.abort();
        }
        if let Some(resolve) = book.park.take() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    }
}

/// Adds a room's news to a view's list and applies its changes when it continues the view's
/// position (or replaces the list after a reset), and moves the position on. `held` is the
/// cursor the stream held. Returns false when there is a gap: the stream read the room from
/// further on than the view has it.
pub(super) fn receive(view: &mut View, news: &RoomNews, held: Option<Cursor>) -> bool {
    let upto = news.last_id.map(Cursor::After);
    if news.reset {
        let mut list = news.messages.clone();
        changes::apply_all(&mut list, &news.changes);
        view.messages.try_set(list);
        view.position = upto.unwrap_or(Cursor::of(&news.messages));
        return true;
    }
    let at = view.position;
    match held {
        // From where the view is, or from before it (another tab's rewind): what the view has
        // already is dropped below.
        Some(held) if held <= at => {}
        None if at == Cursor::Start => {}
        _ => return false,
    }
    let is_new = |id: Uuid| Cursor::After(id) > at;
    let fresh: Vec<Arc<Message>> = (news.messages.iter())
        .filter(|message| is_new(message.id))
        .cloned()
        .collect();
    let changes = news.changes.iter().filter(|change| is_new(change.id));
    if !fresh.is_empty() || news.changes.iter().any(|change| is_new(change.id)) {
        view.messages.try_update(|list| {
            list.extend(fresh);
            changes::apply_all(list, changes);
            let excess = list.len().saturating_sub(MAX_ON_SCREEN);
            list.drain(..excess);
        });
    }
    if let Some(upto) = upto {
        view.position = view.position.max(upto);
    }
    true
}
