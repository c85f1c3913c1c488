//! What a signed-in person can do to a message, shown with it: reaction chips (a click toggles
//! one's own), a toolbar that appears over the message on hover and on keyboard focus (add a
//! reaction from a picker; edit and delete one's own messages), the inline editor and the
//! inline delete confirmation. Guests see the reactions but cannot toggle them.
//!
//! Nothing here changes the list of messages: each action calls its server function, and the
//! change comes back on the room's stream to every tab and browser, this one included.

use std::{future::Future, sync::Arc};

use leptos::{html, prelude::*, task::spawn_local};
use uuid::Uuid;
use wasm_bindgen::JsCast;

use super::explain;
use crate::{
    api::{delete_message, edit_message, react_to_message},
    error::ChatError,
    model::Message,
};

/// The picker's reactions, with the names a screen reader says.
const PICKS: [(&str, &str); 8] = [
    ("👍", "thumbs up"),
    ("❤️", "heart"),
    ("😂", "tears of joy"),
    ("🎉", "party"),
    ("😮", "surprised"),
    ("😢", "sad"),
    ("👀", "eyes"),
    ("✅", "check mark"),
];

/// One message's requests: one at a time, the last failure shown under the message.
#[derive(Clone, Copy)]
pub struct MessageChanges {
    id: Uuid,
    busy: RwSignal<bool>,
    pub problem: RwSignal<Option<String>>,
}

impl MessageChanges {
    pub fn new(id: Uuid) -> Self {
        Self {
            id,
            busy: RwSignal::new(false),
            problem: RwSignal::new(None),
        }
    }

    /// Sends `call` unless a request of this message is on its way; `then` runs once it
    /// succeeded.
    fn run(
        self,
        what: &'static str,
        call: impl Future<Output = Result<Arc<Message>, ChatError>> + 'static,
        then: impl FnOnce() + 'static,
    ) {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.problem.set(None);
        spawn_local(async move {
            let answer = call.await;
            self.busy.try_set(false);
            match answer {
                Ok(_) => then(),
                Err(error) => {
                    self.problem
                        .try_set(Some(format!("Could not {what}: {}", explain(&error))));
                }
            }
        });
    }

    fn react(self, emoji: String, add: bool) {
        let call = react_to_message(self.id.to_string(), emoji, add);
        self.run("react", call, || ());
    }
}

/// Whether `me` (a display name) is among those who reacted with `emoji`.
fn reacted(message: &Message, emoji: &str, me: Option<&str>) -> bool {
    me.is_some_and(|me| {
        (message.reactions.iter())
            .any(|reaction| reaction.emoji == emoji && reaction.by.iter().any(|by| by == me))
    })
}

/// "Ann", "Ann and Bob", "Ann, Bob and Cy".
fn names(people: &[String]) -> String {
    match people {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Focuses `target` once the DOM shows it (signal changes reach the DOM on a later tick).
fn focus_soon<E>(target: NodeRef<E>)
where
    E: leptos::tachys::html::element::ElementType + 'static,
    E::Output: JsCast + Clone + 'static,
{
    request_animation_frame(move || {
        if let Some(element) = target
            .get_untracked()
            .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = element.focus();
        }
    });
}

/// The message's reactions as chips: emoji and count, pressed when `me` reacted, a click
/// toggles `me`'s (`None`: a guest, who cannot).
#[component]
pub fn Reactions(
    message: Memo<Arc<Message>>,
    me: Signal<Option<String>>,
    changes: MessageChanges,
) -> impl IntoView {
    let emojis = move || {
        message.with(|message| {
            (message.reactions.iter())
                .map(|reaction| reaction.emoji.clone())
                .collect::<Vec<_>>()
        })
    };
    view! {
        <Show when=move || message.with(|message| !message.reactions.is_empty())>
            <div class="reactions" role="group" aria-label="Reactions">
                <For each=emojis key=|emoji| emoji.clone() let:emoji>
                    <ReactionChip emoji message me changes/>
                </For>
            </div>
        </Show>
    }
}

#[component]
fn ReactionChip(
    emoji: String,
    message: Memo<Arc<Message>>,
    me: Signal<Option<String>>,
    changes: MessageChanges,
) -> impl IntoView {
    let people = {
        let emoji = emoji.clone();
        Memo::new(move |_| {
            message.with(|message| {
                (message.reactions.iter())
                    .find(|reaction| reaction.emoji == emoji)
                    .map(|reaction| reaction.by.clone())
                    .unwrap_or_default()
            })
        })
    };
    let mine = {
        let emoji = emoji.clone();
        move || message.with(|message| reacted(message, &emoji, me.get().as_deref()))
    };
    let count = move || people.with(Vec::len);
    let title = {
        let emoji = emoji.clone();
        move || {
            format!(
                "{} reacted with {emoji}",
                people.with(|people| names(people))
            )
        }
    };
    let label = {
        let emoji = emoji.clone();
        move || format!("{emoji} {}", count())
    };
    let toggle = {
        let emoji = emoji.clone();
        let mine = mine.clone();
        move |_| changes.react(emoji.clone(), !mine())
    };
    view! {
        <button
            type="button"
            class="reaction"
            aria-pressed=move || mine().to_string()
            aria-label=label
            title=title
            prop:disabled=move || me.get().is_none()
            on:click=toggle
        >
            <span class="emoji">{emoji.clone()}</span>
            <span class="count">{count}</span>
        </button>
    }
}

/// The toolbar over a message, for signed-in people: add a reaction; edit and delete one's
/// own message (`own`).
#[component]
pub fn MessageToolbar(
    message: Memo<Arc<Message>>,
    me: Signal<Option<String>>,
    own: Signal<bool>,
    editing: RwSignal<bool>,
    confirming: RwSignal<bool>,
    changes: MessageChanges,
    edit_button: NodeRef<html::Button>,
    delete_button: NodeRef<html::Button>,
) -> impl IntoView {
    let picking = RwSignal::new(false);
    let react_button = NodeRef::<html::Button>::new();
    view! {
        <div
            class="message-actions"
            role="toolbar"
            aria-label="Message actions"
            hidden=move || picking.get()
        >
            <button
                type="button"
                node_ref=react_button
                aria-label="Add reaction"
                title="Add reaction"
                aria-haspopup="true"
                aria-expanded=move || picking.get().to_string()
                on:click=move |_| picking.set(true)
            >
                <span aria-hidden="true">"☺+"</span>
            </button>
            <Show when=move || own.get()>
                <button
                    type="button"
                    node_ref=edit_button
                    on:click=move |_| {
                        confirming.set(false);
                        editing.set(true);
                    }
                >
                    "Edit"
                </button>
                <button
                    type="button"
                    class="danger"
                    node_ref=delete_button
                    on:click=move |_| confirming.set(true)
                >
                    "Delete"
                </button>
            </Show>
        </div>
        <Show when=move || picking.get()>
            <ReactionPicker message me changes picking trigger=react_button/>
        </Show>
    }
}

/// A row of common reactions; picking one toggles it. Escape closes it, and so does moving
/// the focus out of it.
#[component]
fn ReactionPicker(
    message: Memo<Arc<Message>>,
    me: Signal<Option<String>>,
    changes: MessageChanges,
    picking: RwSignal<bool>,
    trigger: NodeRef<html::Button>,
) -> impl IntoView {
    let picker = NodeRef::<html::Div>::new();
    picker.on_load(|picker| {
        if let Some(first) = picker
            .query_selector("button")
            .ok()
            .flatten()
            .and_then(|first| first.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = first.focus();
        }
    });
    let close = move || {
        picking.set(false);
        focus_soon(trigger);
    };
    let on_keydown = move |event: web_sys::KeyboardEvent| {
        if event.key() == "Escape" {
            event.stop_propagation();
            close();
        }
    };
    let on_focusout = move |event: web_sys::FocusEvent| {
        let inside = event
            .related_target()
            .and_then(|target| target.dyn_into::<web_sys::Node>().ok())
            .zip(picker.get_untracked())
            .is_some_and(|(target, picker)| picker.contains(Some(&target)));
        if !inside {
            picking.set(false);
        }
    };
    view! {
        <div
            class="reaction-picker"
            role="group"
            aria-label="Pick a reaction"
            node_ref=picker
            on:keydown=on_keydown
            on:focusout=on_focusout
        >
            {PICKS
                .iter()
                .map(|&(emoji, name)| {
                    let mine = move || {
                        message.with(|message| reacted(message, emoji, me.get().as_deref()))
                    };
                    view! {
                        <button
                            type="button"
                            aria-label=format!("React with {name}")
                            title=name
                            aria-pressed=move || mine().to_string()
                            on:click=move |_| {
                                changes.react(emoji.to_owned(), !mine());
                                close();
                            }
                        >
                            {emoji}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// The message's text in a textarea: Enter or "Save" saves, Shift+Enter is a new line,
/// Escape or "Cancel" leaves it as it was.
#[component]
pub fn MessageEditor(
    message: Memo<Arc<Message>>,
    editing: RwSignal<bool>,
    changes: MessageChanges,
    edit_button: NodeRef<html::Button>,
) -> impl IntoView {
    let text = RwSignal::new(message.get_untracked().text.clone());
    let textarea = NodeRef::<html::Textarea>::new();
    textarea.on_load(|textarea| {
        let _ = textarea.focus();
        let end = textarea.value().encode_utf16().count() as u32;
        let _ = textarea.set_selection_range(end, end);
    });
    let done = move || {
        editing.set(false);
        focus_soon(edit_button);
    };
    let save = move || {
        let typed = text.get_untracked();
        if typed == message.get_untracked().text {
            done();
        } else if !typed.trim().is_empty() {
            let call = edit_message(message.get_untracked().id.to_string(), typed);
            changes.run("save the edit", call, done);
        }
    };
    let on_keydown = move |event: web_sys::KeyboardEvent| match event.key().as_str() {
        "Enter" if !event.shift_key() && !event.is_composing() => {
            event.prevent_default();
            save();
        }
        "Escape" => {
            event.prevent_default();
            changes.problem.set(None);
            done();
        }
        _ => {}
    };
    view! {
        <form
            class="edit"
            on:submit=move |event| {
                event.prevent_default();
                save();
            }
        >
            <textarea
                node_ref=textarea
                aria-label="Edit message"
                rows="2"
                prop:value=text
                on:input=move |event| text.set(event_target_value(&event))
                on:keydown=on_keydown
            ></textarea>
            <div class="edit-buttons">
                <button
                    type="submit"
                    class="primary"
                    prop:disabled=move || text.with(|text| text.trim().is_empty())
                >
                    "Save"
                </button>
                <button
                    type="button"
                    on:click=move |_| {
                        changes.problem.set(None);
                        done();
                    }
                >
                    "Cancel"
                </button>
                <span class="hint">"Enter to save · Esc to cancel"</span>
            </div>
        </form>
    }
}

/// "Delete this message?" with the buttons to do it or not; Escape does not.
#[component]
pub fn ConfirmDelete(
    id: Uuid,
    confirming: RwSignal<bool>,
    changes: MessageChanges,
    delete_button: NodeRef<html::Button>,
) -> impl IntoView {
    let confirm = NodeRef::<html::Button>::new();
    confirm.on_load(|confirm| {
        let _ = confirm.focus();
    });
    let cancel = move || {
        confirming.set(false);
        focus_soon(delete_button);
    };
    view! {
        <div
            class="confirm-delete"
            role="group"
            aria-label="Delete this message?"
            on:keydown=move |event: web_sys::KeyboardEvent| {
                if event.key() == "Escape" {
                    event.prevent_default();
                    cancel();
                }
            }
        >
            <span>"Delete this message?"</span>
            <button
                type="button"
                class="danger"
                node_ref=confirm
                on:click=move |_| {
                    let call = delete_message(id.to_string());
                    changes.run("delete", call, move || confirming.set(false));
                }
            >
                "Delete"
            </button>
            <button type="button" on:click=move |_| cancel()>
                "Cancel"
            </button>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_as_a_sentence() {
        let people = |names: &[&str]| {
            names
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&people(&["Ann"])), "Ann");
        assert_eq!(names(&people(&["Ann", "Bob"])), "Ann and Bob");
        assert_eq!(names(&people(&["Ann", "Bob", "Cy"])), "Ann, Bob and Cy");
    }
}
