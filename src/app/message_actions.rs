//! What a signed-in person can do to a message, shown with it: a toolbar that appears over the
//! message on hover and on keyboard focus (add a reaction from a picker, see
//! [`super::reactions`]; edit and delete one's own messages), the inline editor and the inline
//! delete confirmation.
//!
//! Nothing here changes the list of messages: each action calls its server function, and the
//! change comes back on the room's stream to every tab and browser, this one included.

use std::{future::Future, sync::Arc};

use leptos::{html, prelude::*, task::spawn_local};
use uuid::Uuid;
use wasm_bindgen::JsCast;

use super::{explain, reactions::ReactionPicker};
use crate::{
    api::{delete_message, edit_message, react_to_message},
    error::ChatError,
    model::Message,
};

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

    pub fn react(self, emoji: String, add: bool) {
        let call = react_to_message(self.id.to_string(), emoji, add);
        self.run("react", call, || ());
    }
}

/// Focuses `target` once the DOM shows it (signal changes reach the DOM on a later tick).
pub fn focus_soon<E>(target: NodeRef<E>)
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
            {move || Suspend::new(reaction_picker(message, me, changes, picking, react_button))}
        </Show>
    }
}

/// [`ReactionPicker`], its code loaded the first time a picker opens.
#[lazy]
fn reaction_picker(
    message: Memo<Arc<Message>>,
    me: Signal<Option<String>>,
    changes: MessageChanges,
    picking: RwSignal<bool>,
    trigger: NodeRef<html::Button>,
) -> AnyView {
    view! { <ReactionPicker message me changes picking trigger/> }.into_any()
}

/// [`MessageEditor`], its code loaded the first time someone edits a message.
#[lazy]
pub fn message_editor(
    message: Memo<Arc<Message>>,
    editing: RwSignal<bool>,
    changes: MessageChanges,
    edit_button: NodeRef<html::Button>,
) -> AnyView {
    view! { <MessageEditor message editing changes edit_button/> }.into_any()
}

/// [`ConfirmDelete`], its code loaded the first time someone deletes a message.
#[lazy]
pub fn confirm_delete(
    id: Uuid,
    confirming: RwSignal<bool>,
    changes: MessageChanges,
    delete_button: NodeRef<html::Button>,
) -> AnyView {
    view! { <ConfirmDelete id confirming changes delete_button/> }.into_any()
}

/// The message's text in a textarea: Enter or "Save" saves, Shift+Enter is a new line,
/// Escape or "Cancel" leaves it as it was.
#[component]
fn MessageEditor(
    message: Memo<Arc<Message>>,
    editing: RwSignal<bool>,
    changes: MessageChanges,
    edit_button: NodeRef<html::Button>,
) -> impl IntoView {
    let text = RwSignal::new(message.get_untracked().text.clone());
    let textarea = NodeRef::<html::Textarea>::new();
    textarea.on_load(|textarea| {
        // Loaded before it is in the page (a lazy panel's view is made, then inserted), and
        // only an element in the page takes the focus.
        request_animation_frame(move || {
            let _ = textarea.focus();
            let end = textarea.value().encode_utf16().count() as u32;
            let _ = textarea.set_selection_range(end, end);
        });
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
fn ConfirmDelete(
    id: Uuid,
    confirming: RwSignal<bool>,
    changes: MessageChanges,
    delete_button: NodeRef<html::Button>,
) -> impl IntoView {
    let confirm = NodeRef::<html::Button>::new();
    // Once in the page (see `MessageEditor`).
    confirm.on_load(move |_| focus_soon(confirm));
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
