//! The conversation: the room's messages, grouped by sender like other chats, kept scrolled
//! to the newest unless the reader scrolled up (then a "new messages" button appears). A
//! guest's self-chosen name carries a "guest" tag, so it is never mistaken for an account's.
//! Opening a room shows a "new" divider where the reader left off, and marks what is shown as
//! read: the account's position on the server (every device), a guest's in `localStorage`.
//! A message shows as it is now: edited ones are marked, deleted ones leave a muted line, and
//! reactions and actions are under and over it ([`super::message_actions`]).

use std::sync::Arc;

use leptos::{html, prelude::*, task::spawn_local};
use uuid::Uuid;

use super::{
    changes::{author_key, position_of},
    following::{follow_room, ConnectionState},
    identity::DisplayName,
    message_actions::{ConfirmDelete, MessageChanges, MessageEditor, MessageToolbar, Reactions},
    presence::RoomPresence,
    session::Session,
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

/// The room's messages from its history on, followed live (with who is there, into `presence`).
#[component]
pub fn Conversation(
    history: History,
    name: DisplayName,
    connection: RwSignal<ConnectionState>,
    presence: RoomPresence,
) -> impl IntoView {
    let messages = RwSignal::new(history.messages);
    let room = history.room;
    follow_room(room.clone(), messages, connection, presence);
    // Where the reader left off; `None` until known (and for a room never opened).
    let left_off = RwSignal::new(None::<Uuid>);
    // Whether the reader is a signed-in account, once the read position is known.
    let account = RwSignal::new(None::<bool>);
    {
        let room = room.clone();
        Effect::new(move || {
            let room = room.clone();
            spawn_local(async move {
                let (position, is_account) = read_position(&room).await;
                left_off.try_set(position);
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
                let _ = mark_read(room, Some(last.to_string())).await;
            });
        } else {
            keep_guest_read(&room, last);
        }
        Some(last)
    });
    view! {
        <Show
            when=move || connection.get() != ConnectionState::Unavailable
            fallback=|| view! { <RoomUnavailable/> }
        >
            <MessageList messages name left_off/>
        </Show>
    }
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
struct Row {
    message: Arc<Message>,
    starts_group: bool,
    /// The first message after where the reader left off.
    first_new: bool,
}

fn rows(messages: &[Arc<Message>], left_off: Option<Uuid>) -> Vec<Row> {
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
            }
        })
        .collect()
}

#[component]
fn MessageList(
    messages: RwSignal<Vec<Arc<Message>>>,
    name: DisplayName,
    left_off: RwSignal<Option<Uuid>>,
) -> impl IntoView {
    let list = NodeRef::<html::Div>::new();
    let at_bottom = RwSignal::new(true);
    let unseen = RwSignal::new(0_usize);
    let hydrated = RwSignal::new(false);

    let scroll_to_bottom = move || {
        if let Some(list) = list.get_untracked() {
            list.set_scroll_top(list.scroll_height());
        }
        unseen.set(0);
    };
    // After each change of the list (and once after hydration): follow the newest message,
    // or count what the reader has not seen yet.
    Effect::new(move |previous_len: Option<usize>| {
        let len = messages.with(Vec::len);
        hydrated.set(true);
        if at_bottom.get_untracked() {
            scroll_to_bottom();
        } else if let Some(previous_len) = previous_len {
            unseen.update(|count| *count += len.saturating_sub(previous_len));
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
                    each=move || messages.with(|messages| rows(messages, left_off.get()))
                    key=|row| (row.message.id, row.starts_group, row.first_new)
                    let:row
                >
                    <MessageRow row messages name hydrated/>
                </For>
            </div>
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

#[component]
fn MessageRow(
    row: Row,
    messages: RwSignal<Vec<Arc<Message>>>,
    name: DisplayName,
    hydrated: RwSignal<bool>,
) -> impl IntoView {
    let first = row.message;
    let id = first.id;
    let timestamp = first.timestamp;
    let sender = first.sender.clone();
    let verified = first.verified;
    let session = Session::expect();
    // The message as it is now: a change replaces it in the list, under the same id (the
    // list's `For` keeps the row, so the focus stays where it was).
    let message = Memo::new(move |_| {
        messages
            .with(|list| position_of(list, id).map(|at| list[at].clone()))
            .unwrap_or_else(|| first.clone())
    });
    // Signed in: messages the server stamped with the account's name; a guest: messages
    // under the name they picked that nobody vouched for.
    let own = {
        let sender = sender.clone();
        move || match session.user() {
            Some(me) => verified && me.name.eq_ignore_ascii_case(&sender),
            None => !verified && name.with(|name| *name == sender),
        }
    };
    // Who may react (a signed-in person, once the page can act), by display name: reactions
    // list people by it.
    let me = Signal::derive(move || session.user().filter(|_| hydrated.get()).map(|me| me.name));
    // Editing and deleting are the author's.
    let authored = Signal::derive(move || {
        session.user().is_some_and(|me| {
            let key = author_key(&me);
            message.with(|message| message.author.as_deref() == Some(key.as_str()))
        })
    });
    let deleted = move || message.with(|message| message.deleted);
    let editing = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let changes = MessageChanges::new(id);
    let edit_button = NodeRef::<html::Button>::new();
    let delete_button = NodeRef::<html::Button>::new();
    // The server renders UTC; once hydrated the browser shows its local time.
    let time = move || clock_time(timestamp, hydrated.get());
    let edited = move || message.with(|message| message.edited_at);
    view! {
        <Show when=move || row.first_new>
            <div class="new-divider" role="separator" aria-label="New messages">
                <span>"New"</span>
            </div>
        </Show>
        <article
            class="message"
            class:starts-group=row.starts_group
            class:own=own
            class:deleted=deleted
            class:editing=move || editing.get()
        >
            <Show when=move || row.starts_group>
                <header>
                    <span class="sender">{sender.clone()}</span>
                    <Show when=move || !verified>
                        <span class="guest-tag" title="A guest: anyone can pick this name">
                            "guest"
                        </span>
                    </Show>
                    <time datetime=iso_utc(timestamp)>{time}</time>
                </header>
            </Show>
            <Show
                when=move || !deleted()
                fallback=|| view! { <p class="tombstone">"message deleted"</p> }
            >
                <Show
                    when=move || editing.get()
                    fallback=move || {
                        view! {
                            <p class="line">
                                <span class="text">{move || message.with(|m| m.text.clone())}</span>
                                {move || {
                                    edited()
                                        .map(|at| {
                                            let title = move || {
                                                format!("Edited {}", date_time(at, hydrated.get()))
                                            };
                                            view! { <span class="edited" title=title>"(edited)"</span> }
                                        })
                                }}
                            </p>
                        }
                    }
                >
                    <MessageEditor message editing changes edit_button/>
                </Show>
                <Reactions message me changes/>
                <Show when=move || confirming.get()>
                    <ConfirmDelete id confirming changes delete_button/>
                </Show>
                {move || {
                    changes
                        .problem
                        .get()
                        .map(|problem| view! { <p class="change-error" role="alert">{problem}</p> })
                }}
                <Show when=move || me.get().is_some() && !editing.get()>
                    <MessageToolbar
                        message
                        me
                        own=authored
                        editing
                        confirming
                        changes
                        edit_button
                        delete_button
                    />
                </Show>
            </Show>
        </article>
    }
}

/// `HH:MM`, in the browser's local time when `local`, else UTC.
fn clock_time(timestamp: f64, local: bool) -> String {
    if local {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(timestamp * 1000.0));
        format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
    } else {
        let seconds_of_day = (timestamp.max(0.0) as u64) % 86_400;
        format!(
            "{:02}:{:02}",
            seconds_of_day / 3_600,
            seconds_of_day % 3_600 / 60
        )
    }
}

/// `YYYY-MM-DD HH:MM`, in the browser's local time when `local`, else UTC (and says so).
fn date_time(timestamp: f64, local: bool) -> String {
    if local {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(timestamp * 1000.0));
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            date.get_full_year(),
            date.get_month() + 1,
            date.get_date(),
            date.get_hours(),
            date.get_minutes()
        )
    } else {
        let iso = iso_utc(timestamp);
        format!("{} {} UTC", &iso[..10], &iso[11..16])
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix timestamp.
fn iso_utc(timestamp: f64) -> String {
    let seconds = timestamp.max(0.0) as i64;
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3_600,
        second_of_day % 3_600 / 60,
        second_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_utc_formats_known_instants() {
        assert_eq!(iso_utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400.0), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_795_774_123.58), "2026-11-27T10:08:43Z");
    }

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
        let starts: Vec<bool> = rows(&list, None)
            .iter()
            .map(|row| row.starts_group)
            .collect();
        assert_eq!(starts, [true, false, true, true]);
        // The divider goes before the first message after where the reader left off, and
        // starts a group there.
        let rows = rows(&list, Some(list[0].id));
        let new: Vec<bool> = rows.iter().map(|row| row.first_new).collect();
        assert_eq!(new, [false, true, false, false]);
        assert!(rows[1].starts_group);
    }
}
