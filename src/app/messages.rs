//! The conversation: the room's messages, grouped by sender like other chats, kept scrolled
//! to the newest unless the reader scrolled up (then a "new messages" button appears).
//! Opening a room shows a "new" divider where the reader left off, and marks what is shown as
//! read: the account's position on the server (every device), a guest's in `localStorage`.
//! Each message is a [`MessageRow`].
//!
//! Opened at a message (a search result, [`Opened::At`]), the list shows the messages around
//! it, the message scrolled into view and highlighted (a highlight that fades, in CSS). When those reach the room's end the
//! list follows the room as usual; otherwise it shows that part of the room (kept as its
//! messages change) while the stream still follows the room, and "Jump to latest" goes back
//! to the live end.

use std::sync::Arc;

use leptos::{html, prelude::*, task::spawn_local};
use uuid::Uuid;
use wasm_bindgen::JsCast;

use super::{
    following::{follow_room, ConnectionState},
    identity::DisplayName,
    message::MessageRow,
    presence::RoomPresence,
    stream::{guest_reads, hub, keep_guest_read},
};
use crate::{
    api::{joined_rooms, mark_read},
    error::ChatError,
    model::{History, Message},
};

/// Consecutive messages of one sender within this many seconds share one name and time.
const GROUP_WINDOW_SECS: f64 = 5.0 * 60.0;
/// How close to the bottom (in pixels) still counts as "at the bottom".
const BOTTOM_SLACK_PX: i32 = 48;

/// Where a room view opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Opened {
    /// At the room's most recent messages.
    Latest,
    /// Around the message `id`; `detached` when the messages shown stop before the room's end.
    At { id: Uuid, detached: bool },
}

impl Opened {
    /// Where a view of `messages` opens, asked for `limit` messages around `at`: detached when
    /// the answer is full (the server gives what comes after the message as far as the limit
    /// allows, so fewer means the room ends within it).
    pub fn of(messages: &[Arc<Message>], at: Option<Uuid>, limit: usize) -> Self {
        match at.filter(|at| messages.iter().any(|m| m.id == *at)) {
            Some(id) => Opened::At {
                id,
                detached: messages.len() >= limit,
            },
            None => Opened::Latest,
        }
    }

    fn target(self) -> Option<Uuid> {
        match self {
            Opened::Latest => None,
            Opened::At { id, .. } => Some(id),
        }
    }

    fn detached(self) -> bool {
        matches!(self, Opened::At { detached: true, .. })
    }
}

/// The room's messages from its history on, followed live (with who is there, into `presence`).
#[component]
pub fn Conversation(
    history: History,
    opened: Opened,
    name: DisplayName,
    connection: RwSignal<ConnectionState>,
    presence: RoomPresence,
) -> impl IntoView {
    let messages = RwSignal::new(history.messages);
    let room = history.room;
    // Where the reader left off; `None` until known (and for a room never opened).
    let left_off = RwSignal::new(None::<Uuid>);
    // What the stream keeps up to date: the messages shown, or, under a detached part of the
    // room, a list of its own that follows the room from the last message shown (the badge,
    // who is there, and the messages shown as they change stay live).
    let live = if opened.detached() {
        RwSignal::new(messages.get_untracked())
    } else {
        mark_shown_read(room.clone(), messages, connection, left_off, opened);
        messages
    };
    follow_room(room.clone(), live, connection, presence);
    view! {
        <Show
            when=move || connection.get() != ConnectionState::Unavailable
            fallback=|| view! { <RoomUnavailable/> }
        >
            <MessageList messages live name left_off opened room=room.clone()/>
        </Show>
    }
}

/// Marks what the view shows as read once the read position is known, and whenever a message
/// arrives; learns where the reader left off (not shown when opened at a message).
fn mark_shown_read(
    room: String,
    messages: RwSignal<Vec<Arc<Message>>>,
    connection: RwSignal<ConnectionState>,
    left_off: RwSignal<Option<Uuid>>,
    opened: Opened,
) {
    // Whether the reader is a signed-in account, once the read position is known.
    let account = RwSignal::new(None::<bool>);
    {
        let room = room.clone();
        Effect::new(move || {
            let room = room.clone();
            spawn_local(async move {
                let (position, is_account) = read_position(&room).await;
                if opened == Opened::Latest {
                    left_off.try_set(position);
                }
                account.try_set(Some(is_account));
            });
        });
    }
    // What is shown is read: after the position is known, and whenever a message arrives.
    Effect::new(move |marked: Option<Option<Uuid>>| {
        let marked = marked.flatten();
        let (Some(is_account), Some(last)) = (
            account.get(),
            messages.with(|list| list.last().map(|message| message.id)),
        ) else {
            return marked;
        };
        if connection.get_untracked() == ConnectionState::Unavailable || Some(last) <= marked {
            return marked;
        }
        hub().read(room.clone(), last);
        if is_account {
            let room = room.clone();
            spawn_local(async move {
                let _ = mark_read(room, Some(last.to_string()), None).await;
            });
        } else {
            keep_guest_read(&room, last);
        }
        Some(last)
    });
}

/// The reader's read position in `room` and whether they are an account: the account's from
/// the server, else the guest's from `localStorage`.
async fn read_position(room: &str) -> (Option<Uuid>, bool) {
    match joined_rooms().await {
        Ok(Some(list)) => (
            list.rooms
                .into_iter()
                .find(|joined| joined.room == room)
                .and_then(|joined| joined.last_read_id),
            true,
        ),
        Ok(None) | Err(ChatError::Unauthenticated(_)) => (guest_reads().get(room).copied(), false),
        Err(_) => (None, false),
    }
}

/// In place of the messages of a room the user may not see: a private room of others', one
/// they were removed from, or one deleted.
#[component]
pub fn RoomUnavailable() -> impl IntoView {
    view! {
        <div class="unavailable" role="alert">
            <p class="notice">"This room is private or no longer exists."</p>
            <p class="notice"><a href="/">"Go to #general"</a></p>
        </div>
    }
}

/// A message with whether it starts a new sender group.
#[derive(Clone)]
pub struct Row {
    pub message: Arc<Message>,
    pub starts_group: bool,
    /// The first message after where the reader left off.
    pub first_new: bool,
    /// The message the view opened at.
    pub target: bool,
}

fn rows(messages: &[Arc<Message>], left_off: Option<Uuid>, target: Option<Uuid>) -> Vec<Row> {
    let mut previous: Option<&Message> = None;
    let first_new =
        left_off.and_then(|left_off| messages.iter().position(|message| message.id > left_off));
    messages
        .iter()
        .enumerate()
        .map(|(at, message)| {
            let starts_group = previous.is_none_or(|previous| {
                previous.sender != message.sender
                    || previous.verified != message.verified
                    || message.timestamp - previous.timestamp > GROUP_WINDOW_SECS
            });
            previous = Some(message);
            Row {
                message: message.clone(),
                starts_group: starts_group || first_new == Some(at),
                first_new: first_new == Some(at),
                target: target == Some(message.id),
            }
        })
        .collect()
}

/// The rows of `messages`, each message shown as `live` has it now (as it was when shown,
/// once `live` no longer keeps it).
#[component]
fn MessageList(
    messages: RwSignal<Vec<Arc<Message>>>,
    live: RwSignal<Vec<Arc<Message>>>,
    name: DisplayName,
    left_off: RwSignal<Option<Uuid>>,
    opened: Opened,
    room: String,
) -> impl IntoView {
    let list = NodeRef::<html::Div>::new();
    let target = opened.target();
    let at_bottom = RwSignal::new(target.is_none());
    let unseen = RwSignal::new(0_usize);
    let hydrated = RwSignal::new(false);

    let scroll_to_bottom = move || {
        if let Some(list) = list.get_untracked() {
            list.set_scroll_top(list.scroll_height());
        }
        unseen.set(0);
    };
    // After each change of the list (and once after hydration): first show the message the
    // view opened at, then follow the newest message, or count what the reader has not seen.
    Effect::new(move |previous_len: Option<usize>| {
        let len = messages.with(Vec::len);
        hydrated.set(true);
        match (previous_len, target) {
            (None, Some(_)) => reveal(list),
            _ if at_bottom.get_untracked() => scroll_to_bottom(),
            (Some(previous_len), _) => {
                unseen.update(|count| *count += len.saturating_sub(previous_len));
            }
            (None, None) => {}
        }
        len
    });

    let on_scroll = move |_| {
        if let Some(list) = list.get_untracked() {
            let distance = list.scroll_height() - list.scroll_top() - list.client_height();
            let bottom = distance <= BOTTOM_SLACK_PX;
            at_bottom.set(bottom);
            if bottom {
                unseen.set(0);
            }
        }
    };

    view! {
        <div class="messages-frame">
            <div
                class="messages"
                node_ref=list
                on:scroll=on_scroll
                role="log"
                aria-live="polite"
                aria-label="Messages"
                tabindex="0"
            >
                <Show when=move || messages.with(Vec::is_empty)>
                    <p class="empty">"No messages yet. Say hello!"</p>
                </Show>
                <For
                    each=move || messages.with(|messages| rows(messages, left_off.get(), target))
                    key=|row| (row.message.id, row.starts_group, row.first_new)
                    let:row
                >
                    <MessageRow row messages=live name hydrated/>
                </For>
            </div>
            // Under a detached part of the room: a plain link (the router takes it), as HTML.
            <div class="jump" inner_html=jump_html(&room, opened.detached())></div>
            <Show when=move || { unseen.get() > 0 }>
                <button class="new-messages" on:click=move |_| scroll_to_bottom()>
                    {move || match unseen.get() {
                        1 => "1 new message ↓".to_owned(),
                        count => format!("{count} new messages ↓"),
                    }}
                </button>
            </Show>
        </div>
    }
}

/// "Jump to latest" under a detached part of the room (a room's name needs no escaping).
fn jump_html(room: &str, detached: bool) -> String {
    match detached {
        true => format!("<a class=\"jump-latest\" href=\"/room/{room}\">Jump to latest ↓</a>"),
        false => String::new(),
    }
}

/// Scrolls the highlighted message to the middle of the list and gives it the focus, once
/// laid out.
fn reveal(list: NodeRef<html::Div>) {
    request_animation_frame(move || {
        let Some(Ok(Some(element))) = list
            .get_untracked()
            .map(|list| list.query_selector(".highlight"))
        else {
            return;
        };
        let options = web_sys::ScrollIntoViewOptions::new();
        options.set_block(web_sys::ScrollLogicalPosition::Center);
        element.scroll_into_view_with_scroll_into_view_options(&options);
        // Focusable from here on, so the keyboard goes on from the message.
        let _ = element.set_attribute("tabindex", "-1");
        if let Ok(element) = element.dyn_into::<web_sys::HtmlElement>() {
            let _ = element.focus();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_messages_of_one_sender_form_a_group() {
        let message = |sender: &str, timestamp: f64| {
            Arc::new(Message {
                id: uuid::Uuid::now_v7(),
                sender: sender.into(),
                text: "x".into(),
                timestamp,
                room: "r".into(),
                ..Message::default()
            })
        };
        let list = [
            message("a", 0.0),
            message("a", 10.0),
            message("b", 20.0),
            message("b", 20.0 + GROUP_WINDOW_SECS + 1.0),
        ];
        let starts: Vec<bool> = rows(&list, None, None)
            .iter()
            .map(|row| row.starts_group)
            .collect();
        assert_eq!(starts, [true, false, true, true]);
        // The divider goes before the first message after where the reader left off, and
        // starts a group there.
        let rows = rows(&list, Some(list[0].id), Some(list[2].id));
        let new: Vec<bool> = rows.iter().map(|row| row.first_new).collect();
        assert_eq!(new, [false, true, false, false]);
        assert!(rows[1].starts_group);
        let target: Vec<bool> = rows.iter().map(|row| row.target).collect();
        assert_eq!(target, [false, false, true, false]);
    }

    #[test]
    fn a_view_opened_at_a_message_is_detached_unless_the_room_ends_within_it() {
        let list: Vec<_> = (0..30)
            .map(|n| {
                Arc::new(Message {
                    id: uuid::Uuid::now_v7(),
                    text: n.to_string(),
                    ..Message::default()
                })
            })
            .collect();
        assert_eq!(Opened::of(&list, None, 30), Opened::Latest);
        // Not shown: opened at the latest.
        assert_eq!(
            Opened::of(&list, Some(uuid::Uuid::now_v7()), 30),
            Opened::Latest
        );
        let at = |n: usize, limit| Opened::of(&list, Some(list[n].id), limit);
        // As many as asked for: the room may go on after them.
        assert_eq!(
            at(5, 30),
            Opened::At {
                id: list[5].id,
                detached: true
            }
        );
        // Fewer: the room ends within them.
        assert_eq!(
            at(29, 50),
            Opened::At {
                id: list[29].id,
                detached: false
            }
        );
    }
}
