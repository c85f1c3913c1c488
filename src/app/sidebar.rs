//! The room list (a drawer on phones), "join or create", and the small stats panel.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::{api::chat_stats, model::RoomName};

/// Stats and the room list refresh this often: a few cheap requests a minute per tab.
const REFRESH_EVERY: Duration = Duration::from_secs(15);

#[component]
pub fn Sidebar(current_room: Memo<String>, drawer_open: RwSignal<bool>) -> impl IntoView {
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
    let stats = Resource::new(
        move || (refreshes.get(), current_room.get()),
        |_| chat_stats(),
    );
    let rooms = move || {
        let mut rooms = stats
            .get()
            .and_then(Result::ok)
            .map(|stats| stats.rooms)
            .unwrap_or_default();
        let current = current_room.get();
        if !rooms.contains(&current) {
            rooms.push(current);
            rooms.sort_unstable();
        }
        rooms
    };

    view! {
        <nav class="sidebar" aria-label="Rooms">
            <p class="brand">"longpoll-chat"</p>
            <h2>"Rooms"</h2>
            <Transition fallback=|| ()>
                <ul class="rooms">
                    <For each=rooms key=|room| room.clone() let:room>
                        <RoomLink room current_room drawer_open/>
                    </For>
                </ul>
            </Transition>
            <JoinRoom drawer_open/>
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
    room: String,
    current_room: Memo<String>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    let href = format!("/room/{room}");
    let is_current = {
        let room = room.clone();
        move || current_room.with(|current| *current == room)
    };
    view! {
        <li>
            <a
                href=href
                class:current=is_current.clone()
                aria-current=move || is_current().then_some("page")
                on:click=move |_| drawer_open.set(false)
            >
                "# "
                {room}
            </a>
        </li>
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
