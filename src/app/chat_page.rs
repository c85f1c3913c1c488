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
    composer::Composer,
    explain,
    following::ConnectionState,
    identity::DisplayName,
    messages::{Conversation, Opened, RoomUnavailable},
    presence::{RoomPresence, TypingLine},
    room_header::RoomHeader,
    session::Session,
    sidebar::Sidebar,
    stream,
};
use crate::{
    api::{room_history, text_limit},
    error::ChatError,
    model::{History, RoomName, DEFAULT_ROOM, TEXT_MAX_CHARS},
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
    let unread = unread_counts(session);
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
        <RoomTitle room unread/>
        <div class="layout" class:drawer-open=drawer_open>
            <Sidebar current_room=room room_open drawer_open/>
            <main class="conversation">
                <RoomHeader room presence badge drawer_open/>
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
                            <Composer room name max_chars/>
                        </Show>
                    </Transition>
                </Show>
            </main>
        </div>
    }
}

/// Unread messages per joined room, from the tab's hub (empty on the server), provided to the
/// room list. The hub loads the joined rooms again whenever the page signs in or out.
fn unread_counts(session: Session) -> ArcRwSignal<BTreeMap<String, usize>> {
    let counts = ArcRwSignal::new(BTreeMap::<String, usize>::new());
    let unread = RwSignal::from(counts.clone());
    provide_context(unread);
    Effect::new(move || stream::hub().unread_into(unread));
    // Signed in or out: the joined rooms are someone else's.
    Effect::new(move |previous: Option<u32>| {
        let changes = session.changes();
        if previous.is_some_and(|previous| previous != changes) {
            stream::hub().identity_changed();
        }
        changes
    });
    counts
}

/// The tab's title: the room, after the number of unread messages when there are some.
#[component]
fn RoomTitle(room: Memo<String>, unread: ArcRwSignal<BTreeMap<String, usize>>) -> impl IntoView {
    // The server may render the title after the page's reactive values are gone, or on a
    // worker thread where the request's arena is not entered (leptos_meta reads it once the
    // body is done): it reads only reference-counted signals, which live outside the arena,
    // the room kept in one by an effect in the browser (on the server it never changes).
    let title_room = ArcRwSignal::new(room.get_untracked());
    {
        let title_room = title_room.clone();
        Effect::new(move || title_room.set(room.get()));
    }
    let title = move || {
        let unread = unread.with(|rooms| rooms.values().sum::<usize>());
        let room = title_room.get();
        match unread {
            0 => format!("#{room} · longpoll-chat"),
            unread => format!("({unread}) #{room} · longpoll-chat"),
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
