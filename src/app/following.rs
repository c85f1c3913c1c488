//! Following a room: a room view's place on the browser's one stream, and the badge that says
//! how the connection goes ([`ConnectionState`], [`ConnectionBadge`]).
//!
//! A room view asks the tab's [`hub`] for its room (see [`super::stream`]: the cursor of each
//! room, so nothing is lost or repeated, and a backoff with a `/health` check after an error, so
//! the badge turns live as soon as the server is back). Invariant: a room answered `unavailable`
//! (a private room not, or no longer, the user's, or one deleted) is
//! [`ConnectionState::Unavailable`] for good.

use std::sync::Arc;

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use serde::{Deserialize, Serialize};

use super::{presence::RoomPresence, stream::hub};
use crate::model::Message;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ConnectionState {
    /// Before the first poll is on its way.
    Connecting,
    /// A poll is held by the server: messages arrive as they are sent.
    Live,
    /// The last poll failed; the next try is in this many seconds.
    Reconnecting { retry_in_secs: u32 },
    /// The browser itself reports having no network.
    Offline,
    /// The server refuses this room to this user (private, removed, or deleted): no more polls.
    Unavailable,
}

#[component]
pub fn ConnectionBadge(#[prop(into)] state: Signal<ConnectionState>) -> impl IntoView {
    let label = move || match state.get() {
        ConnectionState::Connecting => "Connecting…".to_owned(),
        ConnectionState::Live => "Live".to_owned(),
        ConnectionState::Reconnecting { retry_in_secs: 0 } => "Reconnecting…".to_owned(),
        ConnectionState::Reconnecting { retry_in_secs } => {
            format!("Reconnecting · retry in {retry_in_secs} s")
        }
        ConnectionState::Offline => "Offline".to_owned(),
        ConnectionState::Unavailable => "Unavailable".to_owned(),
    };
    let kind = move || match state.get() {
        ConnectionState::Connecting => "connecting",
        ConnectionState::Live => "live",
        ConnectionState::Reconnecting { .. } => "reconnecting",
        ConnectionState::Offline => "offline",
        ConnectionState::Unavailable => "unavailable",
    };
    view! {
        <span class="badge" data-state=kind role="status">
            <span class="dot" aria-hidden="true"></span>
            {label}
        </span>
    }
}

/// Follows `room` on the browser's one stream (see [`super::stream`]), appending what arrives
/// to `messages` and handing who is there and typing to `presence`. The room is dropped from the
/// stream when the calling component is cleaned up.
pub fn follow_room(
    room: String,
    messages: RwSignal<Vec<Arc<Message>>>,
    connection: RwSignal<ConnectionState>,
    presence: RoomPresence,
) {
    // Effects run only in the browser; the server just renders the history.
    Effect::new(move || {
        let hub = hub();
        let view = hub.follow(room.clone(), messages, connection, presence);
        let hub = SendWrapper::new(hub);
        on_cleanup(move || hub.take().unfollow(view));
    });
}
