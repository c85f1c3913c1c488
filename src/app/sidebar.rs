//! The room list (a drawer on phones): who you are, the public rooms and your private ones
//! (a lock marks those), "join or create", a new private room, and the small stats panel.

use std::{collections::BTreeMap, time::Duration};

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_navigate;

use super::{account::AccountPanel, explain, session::Session};
use crate::{
    api::{chat_stats, visible_rooms, CreatePrivateRoom},
    model::{RoomInfo, RoomName},
};

/// Stats and the room list refresh this often: a few cheap requests a minute per tab.
const REFRESH_EVERY: Duration = Duration::from_secs(15);

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
    let rooms = move || {
        let mut rooms = listed
            .get()
            .and_then(Result::ok)
            .map(|list| list.rooms)
            .unwrap_or_default();
        let current = current_room.get();
        if room_open.get() && !rooms.iter().any(|room| room.name == current) {
            rooms.push(RoomInfo {
                name: current,
                private: false,
                owner: None,
            });
            rooms.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        }
        rooms
    };

    view! {
        <nav class="sidebar" aria-label="Rooms">
            <p class="brand">"longpoll-chat"</p>
            <AccountPanel/>
            <h2>"Rooms"</h2>
            <Transition fallback=|| ()>
                <ul class="rooms">
                    <For each=rooms key=|room| (room.name.clone(), room.private) let:room>
                        <RoomLink room current_room drawer_open/>
                    </For>
                </ul>
            </Transition>
            <JoinRoom drawer_open/>
            <Transition fallback=|| ()>
                <Show when=move || session.signed_in()>
                    <NewPrivateRoom create drawer_open/>
                </Show>
            </Transition>
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
        </nav>
    }
}

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

/// Creates a private room owned by the signed-in user, then opens it. A plain form: without
/// JavaScript the post creates it and returns to the page, where the list shows it.
#[component]
fn NewPrivateRoom(
    create: ServerAction<CreatePrivateRoom>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let navigate = use_navigate();
    let error = move || {
        create
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| explain(&error))
    };
    // Opens the room once it exists (the action's value changes only when a call completes).
    Effect::new(move |_| {
        if let Some(Ok(room)) = create.value().get() {
            name.set(String::new());
            drawer_open.set(false);
            navigate(&format!("/room/{}", room.name), Default::default());
        }
    });
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        create.dispatch(CreatePrivateRoom {
            name: name.get_untracked().trim().to_owned(),
        });
    };
    view! {
        <form class="join new-room" method="post" action=CreatePrivateRoom::url() on:submit=on_submit>
            <label for="new-private-room">"New private room"</label>
            <div class="join-row">
                <input
                    id="new-private-room"
                    type="text"
                    name="name"
                    required
                    placeholder="room-name"
                    autocomplete="off"
                    bind:value=name
                    aria-invalid=move || error().is_some().then_some("true")
                />
                <button type="submit" prop:disabled=move || create.pending().get()>
                    "Create"
                </button>
            </div>
            {move || error().map(|error| view! { <p class="field-error" role="alert">{error}</p> })}
        </form>
    }
}

/// Joins (or creates, by sending to it) any room by name.
#[component]
fn JoinRoom(drawer_open: RwSignal<bool>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        match RoomName::parse(name.get_untracked().trim()) {
            Ok(room) => {
                error.set(None);
                name.set(String::new());
                drawer_open.set(false);
                navigate(&format!("/room/{room}"), Default::default());
            }
            Err(invalid) => error.set(Some(invalid.to_string())),
        }
    };
    view! {
        <form class="join" on:submit=on_submit>
            <label for="join-room">"Join or create a room"</label>
            <div class="join-row">
                <input
                    id="join-room"
                    type="text"
                    placeholder="room-name"
                    autocomplete="off"
                    prop:value=name
                    on:input=move |event| name.set(event_target_value(&event))
                    aria-invalid=move || error.get().is_some().then_some("true")
                />
                <button type="submit">"Join"</button>
            </div>
            {move || error.get().map(|error| view! { <p class="field-error" role="alert">{error}</p> })}
        </form>
    }
}
