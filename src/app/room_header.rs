//! The room header over the conversation: the drawer toggle (phones), the room's name (a
//! direct room's people), who is online, the members of a private room, what the person hears
//! of while away ([`super::notifications`]), and the connection badge.

use leptos::prelude::*;

use super::{
    direct::ShownRoom,
    following::{ConnectionBadge, ConnectionState},
    members::MembersMenu,
    notifications::notifications_bell,
    presence::{OnlineNow, RoomPresence},
};

#[component]
pub fn RoomHeader(
    shown: ShownRoom,
    presence: RoomPresence,
    /// The connection as the badge shows it.
    badge: Signal<ConnectionState>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    let room = shown.room;
    view! {
        <header class="room-header">
            <DrawerToggle drawer_open/>
            <Transition fallback=|| ()>
                <h1>{move || shown.label()}</h1>
                <OnlineNow presence/>
            </Transition>
            {notifications_bell(room)}
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
