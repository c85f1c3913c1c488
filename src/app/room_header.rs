//! The room header over the conversation: the drawer toggle (phones), the room's name (a
//! direct room's people), who is online, the members of a private room, what the person hears
//! of while away ([`super::notifications`]), and the connection badge.

use leptos::prelude::*;

use super::{
    following::{ConnectionBadge, ConnectionState},
    members::MembersMenu,
    notifications::notifications_bell,
    presence::{OnlineNow, RoomPresence},
    session::Session,
};

#[component]
pub fn RoomHeader(
    room: Memo<String>,
    /// How the page names the room (read under a `Transition`).
    label: Signal<String>,
    presence: RoomPresence,
    /// The connection as the badge shows it.
    badge: Signal<ConnectionState>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    let session = Session::expect();
    view! {
        <header class="room-header">
            <DrawerToggle drawer_open/>
            <Transition fallback=|| ()>
                <h1>{label}</h1>
                <OnlineNow presence/>
                <Show when=move || session.signed_in()>{notifications_bell(room)}</Show>
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
