//! The page of one room: the room list beside the conversation, the composer under it.
//!
//! The page is rendered on the server with the room's recent history already in the HTML
//! (`SsrMode::Async`), so it reads and sends without JavaScript.
//!
//! Invariant: the page's resources (the history, the text limit) are made here, once per page,
//! never in a component rendered under a `Suspense` or `Transition`: on the server those render
//! their children again each time a resource resolves, and would make a new resource each time.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::Redirect,
    hooks::{use_params_map, use_query_map},
    params::ParamsMap,
};
use uuid::Uuid;

use super::{
    account::sign_in_url,
    changes::author_key,
    composer::Composer,
    direct::{room_label, ShownRoom},
    explain,
    following::ConnectionState,
    identity::DisplayName,
    messages::{Conversation, Opened, RoomUnavailable},
    presence::{RoomPresence, TypingLine},
    room_header::RoomHeader,
    session::Session,
    sidebar::{listed_rooms, Sidebar},
    stream::{self, UnreadCount},
};
use crate::{
    api::{room_history, text_limit},
    error::ChatError,
    model::{History, RoomList, RoomName, DEFAULT_ROOM, TEXT_MAX_CHARS},
};

/// Messages shown when a room opens.
const HISTORY_ON_OPEN: u32 = 50;

/// One room: the room list beside the conversation, the composer under it.
#[component]
pub fn ChatPage() -> impl IntoView {
    let session = Session::provide();
    let params = use_params_map();
    let room = Memo::new(move |_| {
        params
            .read()
            .get("room")
            .unwrap_or_else(|| DEFAULT_ROOM.to_owned())
    });
    let room_error = move || RoomName::parse(&room.get()).err();
    // `?at=ID`: the room around that message (where a search result opens).
    let query = use_query_map();
    let history = Resource::new(
        move || (room.get(), query.read().get("at"), session.changes()),
        |(room, at, _)| room_history(room, Some(HISTORY_ON_OPEN), at),
    );
    // Made here, once per page, not in the composer: the composer is rendered under a
    // `Transition`, which on the server renders its children again each time a resource it
    // waits on resolves, and a resource made there would be a new one every time.
    let text_limit = OnceResource::new(text_limit());
    let max_chars = Signal::derive(move || {
        // The protocol's limit until the server's is known.
        text_limit
            .get()
            .and_then(Result::ok)
            .unwrap_or(TEXT_MAX_CHARS)
    });
    // The rooms the user may see: the room list shows them, and names a direct room (here,
    // in the header and the composer) by its people.
    let refreshes = RwSignal::new(0_u32);
    let listed = listed_rooms(room, refreshes);
    let unread = unread_counts(session, listed);
    let shown = ShownRoom {
        room,
        listed,
        session,
    };
    let name = DisplayName::new();
    let connection = RwSignal::new(ConnectionState::Connecting);
    // Who is in the shown room and who types there, from the stream.
    let presence = RoomPresence::new();
    let drawer_open = RwSignal::new(false);
    // Read under a `Suspense` or `Transition` (they read the history).
    let refused = move || matches!(history.get(), Some(Err(ChatError::NoSuchRoom)));
    let badge = Signal::derive(move || {
        if refused() {
            ConnectionState::Unavailable
        } else {
            connection.get()
        }
    });
    let room_open = Signal::derive(move || {
        matches!(history.get(), Some(Ok(_))) && connection.get() != ConnectionState::Unavailable
    });

    view! {
        <RoomTitle shown unread/>
        <div class="layout" class:drawer-open=drawer_open>
            <Sidebar current_room=room room_open drawer_open listed refreshes/>
            <main class="conversation">
                <RoomHeader shown presence badge drawer_open/>
                <Show
                    when=move || room_error().is_none()
                    fallback=move || {
                        view! {
                            <p class="notice" role="alert">
                                "Not a room name: " {room_error().map(|error| error.to_string())}
                            </p>
                        }
                    }
                >
                    <RoomConversation room query history name connection presence/>
                    <Transition fallback=|| ()>
                        <Show when=move || room_open.get()>
                            <TypingLine presence/>
                            <Composer shown name max_chars presence/>
                        </Show>
                    </Transition>
                </Show>
            </main>
        </div>
    }
}

/// Unread messages and mentions per joined room, from the tab's hub (empty on the server),
/// provided to the room list. The hub loads the joined rooms again whenever the page signs in
/// or out, counts mentions of who is signed in, and joins the direct rooms `listed` that
/// someone else started, so they are counted too.
fn unread_counts(
    session: Session,
    listed: Resource<Result<RoomList, ChatError>>,
) -> ArcRwSignal<BTreeMap<String, UnreadCount>> {
    let counts = ArcRwSignal::new(BTreeMap::<String, UnreadCount>::new());
    let unread = RwSignal::from(counts.clone());
    provide_context(unread);
    Effect::new(move || stream::hub().unread_into(unread));
    // One effect for what the hub learns of the page: each is a little more code to load.
    Effect::new(move |previous: Option<u32>| {
        let hub = stream::hub();
        let changes = session.changes();
        // Signed in or out: the joined rooms are someone else's.
        if previous.is_some_and(|previous| previous != changes) {
            hub.identity_changed();
        }
        hub.signed_in_as(session.user().map(|me| author_key(&me)));
        let direct = (listed.get().and_then(Result::ok)).map(|list| {
            (list.rooms.into_iter())
                .filter(|room| room.direct)
                .map(|room| room.name)
                .collect()
        });
        hub.direct_rooms(direct.unwrap_or_default());
        changes
    });
    counts
}

/// The tab's title: the room (a direct room's people), after the number of unread messages
/// when there are some, and of those for the reader (`@`: mentions and direct messages).
#[component]
fn RoomTitle(
    shown: ShownRoom,
    unread: ArcRwSignal<BTreeMap<String, UnreadCount>>,
) -> impl IntoView {
    // The server may render the title after the page's reactive values are gone, or on a
    // worker thread where the request's arena is not entered (leptos_meta reads it once the
    // body is done): it reads only reference-counted signals, which live outside the arena,
    // the room's name kept in one by an effect in the browser (on the server it never
    // changes, and a direct room is not named by its hash while the list is unknown).
    let title_room = ArcRwSignal::new(room_label(&shown.room.get_untracked(), None, None));
    {
        let title_room = title_room.clone();
        Effect::new(move || title_room.set(shown.label()));
    }
    let title = move || {
        let (messages, mentions) = unread.with(|rooms| {
            (rooms.values()).fold((0, 0), |(messages, mentions), count| {
                (messages + count.messages, mentions + count.mentions)
            })
        });
        let room = title_room.get();
        match (messages, mentions) {
            (0, _) => format!("{room} · longpoll-chat"),
            (messages, 0) => format!("({messages}) {room} · longpoll-chat"),
            (messages, mentions) => format!("({messages} · @{mentions}) {room} · longpoll-chat"),
        }
    };
    view! { <Title text=title/> }
}

/// The conversation once the room's history came (around `at`, when given); in its place, why
/// not (the room is not the reader's, guests must sign in, or another error, such as a message
/// the room no longer keeps).
#[component]
fn RoomConversation(
    room: Memo<String>,
    /// The page's query: `at` names the message opened at.
    query: Memo<ParamsMap>,
    history: Resource<Result<History, ChatError>>,
    name: DisplayName,
    connection: RwSignal<ConnectionState>,
    presence: RoomPresence,
) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="notice">"Loading messages…"</p> }>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(history) => {
                        let opened = Opened::of(
                            &history.messages,
                            (query.read_untracked().get_str("at"))
                                .and_then(|at| Uuid::parse_str(at).ok()),
                            HISTORY_ON_OPEN as usize,
                        );
                        view! { <Conversation history opened name connection presence/> }
                            .into_any()
                    }
                    Err(ChatError::NoSuchRoom) => view! { <RoomUnavailable/> }.into_any(),
                    // Guests are not allowed here (`--guests off`).
                    Err(ChatError::Unauthenticated(_)) => {
                        view! { <Redirect path=sign_in_url(&room.get_untracked())/> }.into_any()
                    }
                    Err(error) => {
                        view! {
                            <p class="notice" role="alert">
                                "Could not load this room: " {explain(&error)}
                            </p>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
