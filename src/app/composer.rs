//! The composer: type, Enter sends (Shift+Enter for a new line). A signed-in user sends as
//! their account (the server stamps the name); a guest picks a display name once. It is a
//! plain form posting to the `send_message` server function, so it works without JavaScript;
//! with it, the submit handler calls the server function itself (lighter in the WASM than
//! `ActionForm`'s form decoding), and a failed send keeps the text and offers a retry.
//! While a signed-in person types, the composer says so ([`TypingSignal`]); the first `@`
//! typed loads the completer of people's names ([`super::mentions`]).

use std::{cell::Cell, rc::Rc};

use leptos::{html, prelude::*, server_fn::ServerFn, task::spawn_local};

use super::{
    direct::ShownRoom,
    identity::DisplayName,
    mentions::{mention_completer, MentionField, COMPLETING},
    presence::RoomPresence,
    session::Session,
    typing_signal::TypingSignal,
};
use crate::{api::SendMessage, model::SENDER_MAX_CHARS};

/// The form under the conversation: who sends, the message, and how the last send went.
#[component]
pub fn Composer(
    /// The room, and how the page names it (`#name`, or a direct room's people).
    shown: ShownRoom,
    name: DisplayName,
    /// The server's limit on a message's characters (`--max-text-chars`).
    max_chars: Signal<usize>,
    /// Who is in the room: the first people `@` suggests.
    presence: RoomPresence,
) -> impl IntoView {
    let session = Session::expect();
    let room = shown.room;
    let send = ServerAction::<SendMessage>::new();
    let typing = TypingSignal::new();
    // A send waiting for the typing signal before it.
    let queued = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    let editing_name = RwSignal::new(false);
    let form = NodeRef::<html::Form>::new();
    let textarea = NodeRef::<html::Textarea>::new();
    let sender_input = NodeRef::<html::Input>::new();
    let mentions = MentionField {
        shown,
        text,
        textarea,
        anchor: NodeRef::new(),
        presence,
        me: Signal::derive(move || session.user().map(|me| me.name)),
    };

    let length = Signal::derive(move || text.with(|text| text.chars().count()));
    let too_long = Signal::derive(move || length.get() > max_chars.get());
    let can_send = Signal::derive(move || {
        !send.pending().get()
            && !queued.get()
            && !too_long.get()
            && text.with(|text| !text.trim().is_empty())
    });

    // A sent message leaves the composer; a failed one stays for the retry.
    Effect::new(move || {
        if let Some(Ok(_)) = send.value().get() {
            text.set(String::new());
            if let Some(textarea) = textarea.get_untracked() {
                let _ = textarea.focus();
            }
        }
    });

    // With JavaScript the form calls the server function itself (the page stays); without, the
    // browser posts it and the server function redirects back to the room.
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if !can_send.get() {
            return;
        }
        let sender = match sender_input.get_untracked() {
            // Signed in: the server stamps the account's name.
            _ if session.signed_in() => String::new(),
            Some(input) => {
                let typed = input.value().trim().to_owned();
                if !typed.is_empty() {
                    name.set(typed.clone());
                    editing_name.set(false);
                }
                typed
            }
            None => name.get_untracked(),
        };
        let message = SendMessage {
            room: room.get_untracked(),
            sender,
            text: text.get_untracked(),
        };
        // The server ends the person's typing when the message comes: a signal still on its
        // way would start it again, so the message goes after it.
        match typing.stop() {
            Some(signal) => {
                queued.set(true);
                spawn_local(async move {
                    let _ = wasm_bindgen_futures::JsFuture::from(signal.take()).await;
                    // Unless the page went on meanwhile.
                    if !queued.is_disposed() {
                        queued.set(false);
                        send.dispatch(message);
                    }
                });
            }
            None => {
                send.dispatch(message);
            }
        }
    };

    let send_url = <SendMessage as ServerFn>::url();
    view! {
        <form method="post" action=send_url node_ref=form on:submit=on_submit>
            <div class="composer">
                <div class="mention-anchor" node_ref=mentions.anchor></div>
                <input type="hidden" name="room" value=room/>
                <SenderField name editing_name sender_input/>
                <MessageField shown text textarea typing can_send form mentions/>
                <SendStatus send length too_long max_chars/>
            </div>
        </form>
    }
}

/// Who the message is from: the signed-in account, or a guest's display name (asked for until
/// there is one, and changeable).
#[component]
fn SenderField(
    name: DisplayName,
    editing_name: RwSignal<bool>,
    sender_input: NodeRef<html::Input>,
) -> impl IntoView {
    let session = Session::expect();
    let asking_name = move || editing_name.get() || name.with(String::is_empty);
    let signed_in = move || session.signed_in();
    view! {
        <Show when=move || !signed_in() fallback=move || view! { <SendingAsAccount/> }>
            <Show
                when=asking_name
                fallback=move || view! { <SendingAsGuest name editing_name/> }
            >
                <NamePicker name editing_name sender_input/>
            </Show>
        </Show>
    }
}

/// "Sending as" a guest's display name, with the "guest" tag and a button to change it.
#[component]
fn SendingAsGuest(name: DisplayName, editing_name: RwSignal<bool>) -> impl IntoView {
    view! {
        <input type="hidden" name="sender" value=move || name.get()/>
        <p class="identity">
            "Sending as "
            <strong>{move || name.get()}</strong>
            <span class="guest-tag">"guest"</span>
            <button type="button" class="link" on:click=move |_| editing_name.set(true)>
                "change"
            </button>
        </p>
    }
}

/// A guest's display name, picked once (and kept) or changed.
#[component]
fn NamePicker(
    name: DisplayName,
    editing_name: RwSignal<bool>,
    sender_input: NodeRef<html::Input>,
) -> impl IntoView {
    view! {
        <label class="identity">
            "Your name "
            <input
                type="text"
                name="sender"
                node_ref=sender_input
                required
                maxlength=SENDER_MAX_CHARS
                autocomplete="nickname"
                placeholder="Pick a display name"
                prop:value=move || name.get()
                on:change=move |event| {
                    let chosen = event_target_value(&event).trim().to_owned();
                    if !chosen.is_empty() {
                        name.set(chosen);
                        editing_name.set(false);
                    }
                }
            />
        </label>
    }
}

/// The message's text and the Send button: Enter sends, Shift+Enter is a new line. A
/// signed-in person's typing is signalled as they type; the first `@` loads the completer.
#[component]
fn MessageField(
    shown: ShownRoom,
    text: RwSignal<String>,
    textarea: NodeRef<html::Textarea>,
    typing: TypingSignal,
    can_send: Signal<bool>,
    form: NodeRef<html::Form>,
    mentions: MentionField,
) -> impl IntoView {
    let session = Session::expect();
    let room = shown.room;
    // The completer lives as long as this field.
    let owner = Owner::current();
    let completing = Rc::new(Cell::new(false));
    let on_keydown = move |event: web_sys::KeyboardEvent| {
        // The `@` completer's list is open (its Enter picks a name), or it took the key.
        let completing =
            (textarea.get_untracked()).is_some_and(|field| field.has_attribute(COMPLETING));
        if completing || event.default_prevented() {
            return;
        }
        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
            event.prevent_default();
            if can_send.get() {
                if let Some(form) = form.get_untracked() {
                    let _ = form.request_submit();
                }
            }
        }
    };
    view! {
        <div class="compose-row">
            <textarea
                name="text"
                node_ref=textarea
                rows="1"
                required
                aria-label=move || format!("Message {}", shown.label())
                placeholder=move || format!("Message {}", shown.label())
                prop:value=text
                on:input=move |event| {
                    let typed = event_target_value(&event);
                    if session.signed_in() {
                        typing.typed(&room.get_untracked(), &typed);
                    }
                    if typed.contains('@') && !completing.replace(true) {
                        if let Some(owner) = owner.clone() {
                            spawn_local(mention_completer(mentions, owner));
                        }
                    }
                    text.set(typed);
                }
                on:keydown=on_keydown
            ></textarea>
            <button type="submit" class="send" prop:disabled=move || !can_send.get()>
                "Send"
            </button>
        </div>
    }
}

/// Under the message: the character counter near the limit, and why the last send failed,
/// with a retry (the text stays).
#[component]
fn SendStatus(
    send: ServerAction<SendMessage>,
    length: Signal<usize>,
    too_long: Signal<bool>,
    max_chars: Signal<usize>,
) -> impl IntoView {
    // The counter shows over the last eighth of the limit.
    let near_limit = move || length.get() > max_chars.get() - max_chars.get() / 8;
    let error = move || send.value().get().and_then(Result::err);
    view! {
        <div class="compose-status">
            <Show when=near_limit>
                <span class="counter" class:over=too_long>
                    {move || format!("{} / {}", length.get(), max_chars.get())}
                </span>
            </Show>
            {move || {
                error()
                    .map(|error| {
                        view! {
                            <p class="send-error" role="alert">
                                "Not sent: " {error.to_string()} " "
                                <button type="submit" class="link">
                                    "Retry"
                                </button>
                            </p>
                        }
                    })
            }}
        </div>
    }
}

/// "Sending as" the signed-in account: no name to pick or change.
#[component]
fn SendingAsAccount() -> impl IntoView {
    let session = Session::expect();
    view! {
        <p class="identity">
            "Sending as "
            <strong>{move || session.user().map(|me| me.name)}</strong>
        </p>
    }
}
