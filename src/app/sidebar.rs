//! The room list (a drawer on phones): the search box ([`super::search`]), who you are, the
//! public rooms and your private ones
//! (a lock marks those) with their unread counts and mentions, the person's direct messages
//! ([`super::direct`]), the forms to join or create a room ([`super::room_forms`]), and the
//! small stats panel. The list and the stats refresh every `REFRESH_EVERY`, and whenever the
//! room or who is signed in changes.

use std::{collections::BTreeMap, time::Duration};

use leptos::prelude::*;

use super::{
    account::AccountPanel,
    direct::{direct_messages, people_label},
    initial,
    room_forms::{join_room_form, new_private_room_form, on_room_form},
    search::search_box,
    session::Session,
    stream::UnreadCount,
};
use crate::{
    api::{chat_stats, visible_rooms},
    error::ChatError,
    model::{self, is_direct_room, RoomInfo, Stats},
};

/// Stats and the room list refresh this often: a few cheap requests a minute per tab.
pub const REFRESH_EVERY: Duration = Duration::from_secs(15);

/// The rooms the user may see, fetched again every `REFRESH_EVERY` (`refreshes`), when the
/// room shown changes, and when the page signs in or out. The page makes it once: the room
/// list shows it, and the page names a direct room by its people from it.
pub fn listed_rooms(
    current_room: Memo<String>,
    refreshes: RwSignal<u32>,
) -> Resource<Result<model::RoomList, ChatError>> {
    let session = Session::expect();
    Resource::new(
        move || (refreshes.get(), current_room.get(), session.changes()),
        |_| visible_rooms(),
    )
}

/// The room list beside the conversation (a drawer on phones).
#[component]
pub fn Sidebar(
    current_room: Memo<String>,
    /// Whether the user may see the current room (listed even before its first message).
    room_open: Signal<bool>,
    drawer_open: RwSignal<bool>,
    /// The rooms the user may see ([`listed_rooms`]).
    listed: Resource<Result<model::RoomList, ChatError>>,
    /// Bumped every `REFRESH_EVERY`: the list and the stats are fetched again.
    refreshes: RwSignal<u32>,
) -> impl IntoView {
    let session = Session::expect();
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
        move || (refreshes.get(), current_room.get(), session.changes()),
        |_| chat_stats(),
    );
    view! {
        <nav class="sidebar" aria-label="Rooms" on:submit=on_room_form(drawer_open)>
            <p class="brand">"longpoll-chat"</p>
            {search_box(current_room, drawer_open)}
            <AccountPanel/>
            <h2>"Rooms"</h2>
            <RoomList listed current_room room_open drawer_open direct=false/>
            {join_room_form()}
            <Transition fallback=|| ()>
                <Show when=move || session.signed_in()>
                    {new_private_room_form()}
                    {direct_messages(listed, current_room, drawer_open)}
                </Show>
            </Transition>
            <ServerStats stats/>
        </nav>
    }
}

/// The rooms the reader may open, `direct` ones or the others, the current one marked (and
/// listed even before its first message, unless direct), each with its unread count.
#[component]
pub fn RoomList(
    listed: Resource<Result<model::RoomList, ChatError>>,
    current_room: Memo<String>,
    room_open: Signal<bool>,
    drawer_open: RwSignal<bool>,
    direct: bool,
) -> impl IntoView {
    let rooms = move || {
        let mut rooms: Vec<RoomInfo> = (listed.get().and_then(Result::ok))
            .map(|list| {
                list.rooms
                    .into_iter()
                    .filter(|room| room.direct == direct)
                    .collect()
            })
            .unwrap_or_default();
        let current = current_room.get();
        let unlisted = !is_direct_room(&current) && !rooms.iter().any(|room| room.name == current);
        if room_open.get() && unlisted && !direct {
            rooms.push(RoomInfo::public(current));
            rooms.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        }
        rooms
    };
    view! {
        <Transition fallback=|| ()>
            <ul class="rooms" class:direct=direct>
                <For each=rooms key=|room| (room.name.clone(), room.private) let:room>
                    <RoomLink room current_room drawer_open/>
                </For>
            </ul>
        </Transition>
    }
}

/// One room in the list: its mark (`#`, a lock for a private room, a direct room's first
/// person's initial), its name (a direct room's people) and how many messages there are
/// unread, or, when some are for the reader (mentions, or a direct room's messages), how many
/// of those, in a badge of its own; opening it closes the drawer.
#[component]
fn RoomLink(
    room: RoomInfo,
    current_room: Memo<String>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    let session = Session::expect();
    let href = format!("/room/{}", room.name);
    let unread = use_context::<RwSignal<BTreeMap<String, UnreadCount>>>();
    let count = {
        let name = room.name.clone();
        Signal::derive(move || {
            unread
                .and_then(|unread| unread.with(|rooms| rooms.get(&name).copied()))
                .unwrap_or_default()
        })
    };
    let is_current = {
        let name = room.name.clone();
        move || current_room.with(|current| *current == name)
    };
    let direct = room.direct;
    let label = match direct {
        true => {
            let me = session.user().map(|me| me.name.to_ascii_lowercase());
            people_label(&room.people, me.as_deref())
        }
        false => room.name.clone(),
    };
    let mark = match (direct, room.private) {
        (true, _) => {
            let initial = initial(&label);
            view! { <span class="avatar small mark" aria-hidden="true">{initial}</span> }.into_any()
        }
        (_, true) => view! { <LockMark/> }.into_any(),
        _ => view! { <span class="mark" aria-hidden="true">"#"</span> }.into_any(),
    };
    let badge = move || {
        let UnreadCount { messages, mentions } = count.get();
        let (text, label) = match (mentions, direct) {
            (0, _) => (messages.to_string(), format!("{messages} unread")),
            (_, true) => (mentions.to_string(), format!("{mentions} unread, for you")),
            (_, false) => (
                format!("@{mentions}"),
                format!("{mentions} mentioning you, {messages} unread"),
            ),
        };
        (messages > 0).then(|| {
            view! {
                <span class="unread" class:mention=(mentions > 0) aria-label=label>
                    {text}
                </span>
            }
        })
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
                <span class="room-name">{label}</span>
                {badge}
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
