//! One message as it is now, in its sender group: a guest's self-chosen name carries a "guest"
//! tag, so it is never mistaken for an account's; a message that mentions the reader stands
//! out; edited messages are marked, deleted ones
//! leave a muted line, and reactions and actions are under and over it
//! ([`super::reactions`], [`super::message_actions`]).

use std::sync::Arc;

use leptos::{html, prelude::*};

use super::{
    changes::{author_key, position_of},
    identity::DisplayName,
    message_actions::{confirm_delete, message_editor, MessageChanges, MessageToolbar},
    messages::Row,
    reactions::Reactions,
    session::Session,
    timestamps::{clock_time, date_time, iso_utc},
};
use crate::model::Message;

/// A message in the list: the "new" divider before it when the reader left off there, its
/// sender line when it starts a group, and its text (or editor, or tombstone) with what can be
/// done to it.
#[component]
pub fn MessageRow(
    row: Row,
    /// Where the message is as it is now (or was last: then as it came in `row`).
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
    let mentions_me = move || {
        (session.user()).is_some_and(|me| {
            let key = author_key(&me);
            message.with(|message| message.mentions.contains(&key))
        })
    };
    let deleted = move || message.with(|message| message.deleted);
    let editing = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let changes = MessageChanges::new(id);
    let edit_button = NodeRef::<html::Button>::new();
    let delete_button = NodeRef::<html::Button>::new();
    view! {
        <Show when=move || row.first_new>
            <NewDivider/>
        </Show>
        <article
            class="message"
            class:highlight=row.target
            class:starts-group=row.starts_group
            class:own=own
            class:mentions-me=mentions_me
            class:deleted=deleted
            class:editing=move || editing.get()
        >
            <Show when=move || row.starts_group>
                <SenderLine sender=sender.clone() verified timestamp hydrated/>
            </Show>
            <Show
                when=move || !deleted()
                fallback=|| view! { <p class="tombstone">"message deleted"</p> }
            >
                <Show
                    when=move || editing.get()
                    fallback=move || view! { <MessageText message hydrated/> }
                >
                    {move || Suspend::new(message_editor(message, editing, changes, edit_button))}
                </Show>
                <Reactions message me changes/>
                <Show when=move || confirming.get()>
                    {move || Suspend::new(confirm_delete(id, confirming, changes, delete_button))}
                </Show>
                <ChangeProblem changes/>
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

/// Where the reader left off: the messages after it are new.
#[component]
fn NewDivider() -> impl IntoView {
    view! {
        <div class="new-divider" role="separator" aria-label="New messages">
            <span>"New"</span>
        </div>
    }
}

/// Who sent a group of messages and when: a name nobody vouched for carries a "guest" tag.
#[component]
fn SenderLine(
    sender: String,
    verified: bool,
    timestamp: f64,
    hydrated: RwSignal<bool>,
) -> impl IntoView {
    // The server renders UTC; once hydrated the browser shows its local time.
    let time = move || clock_time(timestamp, hydrated.get());
    view! {
        <header>
            <span class="sender">{sender}</span>
            <Show when=move || !verified>
                <span class="guest-tag" title="A guest: anyone can pick this name">
                    "guest"
                </span>
            </Show>
            <time datetime=iso_utc(timestamp)>{time}</time>
        </header>
    }
}

/// The message's text as it is now, marked "(edited)" (with when) once edited.
#[component]
fn MessageText(message: Memo<Arc<Message>>, hydrated: RwSignal<bool>) -> impl IntoView {
    let edited = move || message.with(|message| message.edited_at);
    view! {
        <p class="line">
            <span class="text">{move || message.with(|m| m.text.clone())}</span>
            {move || {
                edited()
                    .map(|at| {
                        let title = move || format!("Edited {}", date_time(at, hydrated.get()));
                        view! { <span class="edited" title=title>"(edited)"</span> }
                    })
            }}
        </p>
    }
}

/// Why the last edit, deletion or reaction of the message failed, under it.
#[component]
fn ChangeProblem(changes: MessageChanges) -> impl IntoView {
    move || {
        changes
            .problem
            .get()
            .map(|problem| view! { <p class="change-error" role="alert">{problem}</p> })
    }
}
