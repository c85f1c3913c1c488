//! The room header over the conversation: the drawer toggle (phones), the room's name, who is
//! online, the members of a private room, and the connection badge.

use leptos::prelude::*;

use super::{
    following::{ConnectionBadge, ConnectionState},
    members::MembersMenu,
    presence::{OnlineNow, RoomPresence},
};

#[component]
pub fn RoomHeader(
    room: Memo<String>,
    presence: RoomPresence,
    /// The connection as the badge shows it.
    badge: Signal<ConnectionState>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <header class="room-header">
            <DrawerToggle drawer_open/>
            <h1>"#" {room}</h1>
            <Transition fallback=|| ()>
                <OnlineNow presence/>
            </Transition>
            <MembersMenu room/>
            <Transition fallback=|| ()>
                <ConnectionBadge state=badge/>
            </Transition>
        </header>
    }
}

/// Opens and closes the room list where it is a drawer (narrow screens; CSS hides it elsewhere).
#[component]
pub fn DrawerToggle(drawer_open: RwSignal<bool>) -> impl IntoView {
    view! {
        <button
            class="drawer-toggle"
            aria-label="Rooms"
            aria-expanded=move || drawer_open.get().to_string()
            on:click=move |_| drawer_open.update(|open| *open = !*open)
        >
            "☰"
        </button>
    }
}
