//! A message's reactions: chips under it (a click toggles one's own) and the picker the
//! toolbar opens. Guests see the reactions but cannot toggle them. The page knows who reacted
//! by display name (see [`super::changes`]), which is also how it tells its own.

use std::sync::Arc;

use leptos::{html, prelude::*};
use wasm_bindgen::JsCast;

use super::message_actions::{focus_soon, MessageChanges};
use crate::model::Message;

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

/// A row of common reactions; picking one toggles it. Escape closes it, and so does moving
/// the focus out of it.
#[component]
pub fn ReactionPicker(
    message: Memo<Arc<Message>>,
    me: Signal<Option<String>>,
    changes: MessageChanges,
    picking: RwSignal<bool>,
    trigger: NodeRef<html::Button>,
) -> impl IntoView {
    let picker = NodeRef::<html::Div>::new();
    // Once in the page: the picker is a lazy panel, made before it is inserted.
    picker.on_load(|picker| {
        request_animation_frame(move || {
            if let Some(first) = picker
                .query_selector("button")
                .ok()
                .flatten()
                .and_then(|first| first.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = first.focus();
            }
        });
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
