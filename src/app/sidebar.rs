//! The room list (a drawer on phones): the search box ([`super::search`]), who you are, the
//! public rooms and your private ones
//! (a lock marks those) with their unread counts, the forms to join or create a room
//! ([`super::room_forms`]), and the small stats panel. The list and the stats refresh every
//! `REFRESH_EVERY`, and whenever the room or who is signed in changes.

use std::{collections::BTreeMap, time::Duration};

use leptos::prelude::*;

use super::{
    account::AccountPanel,
    room_forms::{JoinRoom, NewPrivateRoom},
    search::search_box,
    session::Session,
};
use crate::{
    api::{chat_stats, visible_rooms, CreatePrivateRoom},
    error::ChatError,
    model::{self, RoomInfo, Stats},
};

/// Stats and the room list refresh this often: a few cheap requests a minute per tab.
const REFRESH_EVERY: Duration = Duration::from_secs(15);

/// The room list beside the conversation (a drawer on phones).
#[component]
pub fn Sidebar(
    current_room: Memo<String>,
    /// Whether the user may see the current room (listed even before its first message).
    room_open: Signal<bool>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    let session = Session::expect();
    let refreshes = RwSignal::new(0_u32);
    // One timer per page, in the browser only.
    Effect::new(move || {
        let handle =
            set_interval_with_handle(move || refreshes.update(|count| *count += 1), REFRESH_EVERY);
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    });
    let create = ServerAction::<CreatePrivateRoom>::new();
    let listed = Resource::new(
        move || {
            (
                refreshes.get(),
                current_room.get(),
                session.changes(),
                create.version().get(),
            )
        },
        |_| visible_rooms(),
    );
    let stats = Resource::new(
        move || (refreshes.get(), current_room.get(), session.changes()),
        |_| chat_stats(),
    );
    view! {
        <nav class="sidebar" aria-label="Rooms">
            <p class="brand">"longpoll-chat"</p>
            {search_box(current_room, drawer_open)}
            <AccountPanel/>
            <h2>"Rooms"</h2>
            <RoomList listed current_room room_open drawer_open/>
            <JoinRoom drawer_open/>
            <Transition fallback=|| ()>
                <Show when=move || session.signed_in()>
                    <NewPrivateRoom create drawer_open/>
                </Show>
            </Transition>
            <ServerStats stats/>
        </nav>
    }
}

/// The rooms the reader may open, the current one marked (and listed even before its first
/// message), each with its unread count.
#[component]
fn RoomList(
    listed: Resource<Result<model::RoomList, ChatError>>,
    current_room: Memo<String>,
    room_open: Signal<bool>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    let rooms = move || {
        let mut rooms = listed
            .get()
            .and_then(Result::ok)
            .map(|list| list.rooms)
            .unwrap_or_default();
        let current = current_room.get();
        if room_open.get() && !rooms.iter().any(|room| room.name == current) {
            rooms.push(RoomInfo::public(current));
            rooms.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        }
        rooms
    };
    view! {
        <Transition fallback=|| ()>
            <ul class="rooms">
                <For each=rooms key=|room| (room.name.clone(), room.private) let:room>
                    <RoomLink room current_room drawer_open/>
                </For>
            </ul>
        </Transition>
    }
}

/// One room in the list: its mark (`#`, or a lock for a private room), its name and how many
/// messages there are unread; opening it closes the drawer.
#[component]
fn RoomLink(
    room: RoomInfo,
    current_room: Memo<String>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    let href = format!("/room/{}", room.name);
    let unread = use_context::<RwSignal<BTreeMap<String, usize>>>();
    let unread = {
        let name = room.name.clone();
        Signal::derive(move || {
            unread
                .and_then(|unread| unread.with(|rooms| rooms.get(&name).copied()))
                .unwrap_or(0)
        })
    };
    let is_current = {
        let name = room.name.clone();
        move || current_room.with(|current| *current == name)
    };
    let mark = if room.private {
        view! { <LockMark/> }.into_any()
    } else {
        view! { <span class="mark" aria-hidden="true">"#"</span> }.into_any()
    };
    view! {
        <li>
            <a
                href=href
                class:current=is_current.clone()
                class:private=room.private
                aria-current=move || is_current().then_some("page")
                on:click=move |_| drawer_open.set(false)
            >
                {mark}
                <span class="room-name">{room.name}</span>
                <Show when=move || { unread.get() > 0 }>
                    <span class="unread" aria-label=move || format!("{} unread", unread.get())>
                        {unread}
                    </span>
                </Show>
            </a>
        </li>
    }
}

/// The mark of a private room.
#[component]
pub fn LockMark() -> impl IntoView {
    view! {
        <svg class="mark lock" viewBox="0 0 16 16" width="12" height="12" role="img" aria-label="private">
            <path
                fill="currentColor"
                d="M4 7V5a4 4 0 1 1 8 0v2h.5A1.5 1.5 0 0 1 14 8.5v5a1.5 1.5 0 0 1-1.5 1.5h-9A1.5 1.5 0 0 1 2 13.5v-5A1.5 1.5 0 0 1 3.5 7H4Zm2 0h4V5a2 2 0 1 0-4 0v2Z"
            />
        </svg>
    }
}

/// How many people are online and how many messages the server keeps.
#[component]
fn ServerStats(stats: Resource<Result<Stats, ChatError>>) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || {
                stats
                    .get()
                    .and_then(Result::ok)
                    .map(|stats| {
                        view! {
                            <dl class="stats" aria-label="Server stats">
                                <div>
                                    <dt>"Online"</dt>
                                    <dd>{stats.active_clients}</dd>
                                </div>
                                <div>
                                    <dt>"Messages"</dt>
                                    <dd>{stats.total_messages}</dd>
                                </div>
                            </dl>
                        }
                    })
            }}
        </Transition>
    }
}
