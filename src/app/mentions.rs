//! Mentions in the composer: `@` suggests the room's people (who is online, then a direct
//! room's people, a private room's members, or in a public room who spoke in the messages
//! shown) as the person types the start of their name, in a list over the composer.
//!
//! The keys follow the combobox pattern, with the focus kept in the message field: the arrows
//! move through the suggestions (`aria-activedescendant` names the one picked), Enter or Tab
//! puts it in the text (`@name `), Escape closes the list and leaves the text as typed, and a
//! click picks one too. The field keeps its own role (a multi-line textbox: `textarea` may take
//! no `combobox` role) and points at the list as a combobox's input does, with `aria-controls`,
//! `aria-autocomplete="list"` and `aria-activedescendant`; a polite live line says how many
//! people are suggested and which keys pick one.
//!
//! The code loads with the first `@` typed ([`mention_completer`], `#[lazy]`): most messages
//! mention nobody, and the first load stays as it was.

use leptos::{
    ev, html,
    prelude::*,
    tachys::view::{Mountable, Render},
};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};

use super::{direct::ShownRoom, initial, js, presence::RoomPresence};
use crate::model::ACCOUNT_NAME_MAX_CHARS;

/// Suggestions shown at once.
const SHOWN: usize = 6;
/// The id of the list of suggestions, which the field controls.
const LIST_ID: &str = "mention-suggestions";

/// The field's attribute while the list is open: the composer's own Enter leaves the key to
/// the list (a textbox has no `aria-expanded` to say it).
pub const COMPLETING: &str = "data-completing";

/// The id of the `n`th suggestion shown.
fn option_id(n: usize) -> String {
    format!("mention-{n}")
}

/// What the composer hands the completer.
#[derive(Clone, Copy)]
pub struct MentionField {
    pub shown: ShownRoom,
    pub text: RwSignal<String>,
    pub textarea: NodeRef<html::Textarea>,
    /// Where the list is mounted (over the composer).
    pub anchor: NodeRef<html::Div>,
    pub presence: RoomPresence,
    /// The signed-in person's name, never suggested.
    pub me: Signal<Option<String>>,
}

/// Mounts [`MentionCompleter`] in the composer under `owner` (the composer's: its cleanup),
/// its code loaded then.
#[lazy]
pub fn mention_completer(field: MentionField, owner: Owner) {
    owner.with(|| {
        let Some(anchor) = field.anchor.get_untracked() else {
            return;
        };
        let mut mounted = view! { <MentionCompleter field/> }.into_any().build();
        mounted.mount(&anchor, None);
        // Its DOM goes with the composer; its reactive parts end with the owner.
        StoredValue::new_local(mounted);
    });
}

/// The `@name` being typed: where its `@` is (a byte offset of `text`) and what follows it up
/// to `caret` (a byte offset), if the caret is in one. An `@` starts a name only at the start
/// of a word, as the server reads mentions.
fn typed_name(text: &str, caret: usize) -> Option<(usize, &str)> {
    let before = text.get(..caret)?;
    let at = before.rfind('@')?;
    let name = &before[at + 1..];
    let starts_word = before[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_alphanumeric() || "._-@".contains(c)));
    let is_name = name.len() <= ACCOUNT_NAME_MAX_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    (starts_word && is_name).then_some((at, name))
}

/// The people whose name starts with `typed` (any case), each once, in the order given, at
/// most [`SHOWN`]; `me` never.
fn suggestions(people: &[String], typed: &str, me: Option<&str>) -> Vec<String> {
    let typed = typed.to_ascii_lowercase();
    let mut shown: Vec<String> = Vec::new();
    for name in people {
        let wanted = name.to_ascii_lowercase().starts_with(&typed)
            && me.is_none_or(|me| !name.eq_ignore_ascii_case(me))
            && !shown.iter().any(|kept| kept.eq_ignore_ascii_case(name));
        if wanted {
            shown.push(name.clone());
        }
        if shown.len() == SHOWN {
            break;
        }
    }
    shown
}

/// Byte offset in `text` of the UTF-16 offset `units` (a field's caret).
fn byte_offset(text: &str, units: u32) -> usize {
    let mut counted = 0;
    for (at, c) in text.char_indices() {
        if counted >= units as usize {
            return at;
        }
        counted += c.len_utf16();
    }
    text.len()
}

/// The room's people the completer suggests after who is online: a direct room's people, a
/// private room's members (the server's list), else the signed-in senders of the messages
/// shown, newest first. (The page's own data, and the REST API for the members: what the page
/// loads first gains no code for this.)
async fn people_of(shown: ShownRoom) -> Vec<String> {
    let room = shown.room.get_untracked();
    let listed = (shown.listed.get_untracked().and_then(Result::ok))
        .and_then(|list| list.rooms.into_iter().find(|info| info.name == room));
    match listed {
        Some(info) if info.direct => info.people,
        Some(info) if info.private => members(&room).await.unwrap_or_default(),
        _ => senders_shown(),
    }
}

/// `GET /api/rooms/{room}/members`: the owner, then the members.
async fn members(room: &str) -> Option<Vec<String>> {
    let answer = gloo_net::http::Request::get(&format!("/api/rooms/{room}/members"))
        .send()
        .await
        .ok()?;
    let text: JsValue = answer.text().await.ok()?.into();
    let members = js::call(&js::get(&js_sys::global(), "JSON"), "parse", &[&text]).ok()?;
    let mut people: Vec<String> = js::text(&members, "owner").into_iter().collect();
    let others = js::get(&members, "members");
    let count = js::get(&others, "length").as_f64().unwrap_or_default() as u32;
    people.extend((0..count).filter_map(|at| js::get(&others, &at.to_string()).as_string()));
    Some(people)
}

/// The names over the groups of messages shown that are accounts' (no "guest" tag), newest
/// first.
fn senders_shown() -> Vec<String> {
    let Ok(headers) = js::call(
        &document(),
        "querySelectorAll",
        &[&".messages .message > header".into()],
    ) else {
        return Vec::new();
    };
    let count = js::get(&headers, "length").as_f64().unwrap_or_default() as u32;
    (0..count)
        .rev()
        .filter_map(|at| {
            js::get(&headers, &at.to_string())
                .dyn_into::<web_sys::Element>()
                .ok()
        })
        .filter(|header| header.query_selector(".guest-tag").ok().flatten().is_none())
        .filter_map(|header| header.query_selector(".sender").ok()??.text_content())
        .collect()
}

#[component]
fn MentionCompleter(field: MentionField) -> impl IntoView {
    let people = LocalResource::new(move || {
        field.shown.room.track();
        people_of(field.shown)
    });
    // The `@name` at the caret: where its `@` is and what is typed after it.
    let typed = RwSignal::new(None::<(usize, String)>);
    // The `@` whose list Escape closed: not opened again until the caret leaves it.
    let dismissed = RwSignal::new(None::<usize>);
    let active = RwSignal::new(0_usize);
    let shown = Memo::new(move |_| {
        let Some((_, name)) = typed.get() else {
            return Vec::new();
        };
        let mut all: Vec<String> = field.presence.online_names();
        all.extend(people.get().unwrap_or_default());
        suggestions(&all, &name, field.me.get().as_deref())
    });
    let open = move || typed.with(Option::is_some) && shown.with(|shown| !shown.is_empty());

    let read_caret = move || {
        let Some(textarea) = field.textarea.get_untracked() else {
            return;
        };
        let text = textarea.value();
        let caret = js::get(&textarea, "selectionStart")
            .as_f64()
            .unwrap_or_default() as u32;
        let found = typed_name(&text, byte_offset(&text, caret))
            .filter(|(at, _)| dismissed.get_untracked() != Some(*at))
            .map(|(at, name)| (at, name.to_owned()));
        if found.is_none() {
            dismissed.set(None);
        }
        if found.as_ref().map(|(at, _)| *at) != typed.get_untracked().map(|(at, _)| at) {
            active.set(0);
        }
        typed.set(found);
    };
    let pick = move |name: String| {
        let (Some(textarea), Some((at, typed_now))) =
            (field.textarea.get_untracked(), typed.get_untracked())
        else {
            return;
        };
        let text = textarea.value();
        let end = at + 1 + typed_now.len();
        let inserted = format!("@{name} ");
        let mut changed = String::with_capacity(text.len() + inserted.len());
        changed.push_str(&text[..at]);
        changed.push_str(&inserted);
        changed.push_str(&text[end..]);
        let caret = text[..at].encode_utf16().count() + inserted.encode_utf16().count();
        textarea.set_value(&changed);
        let _ = textarea.set_selection_range(caret as u32, caret as u32);
        field.text.set(changed);
        typed.set(None);
    };

    // The field's own listeners (not the page's delegated ones): they run first, so Enter
    // picking a name is not also the composer's Enter that sends.
    Effect::new(move || {
        let Some(textarea) = field.textarea.get() else {
            return;
        };
        let on_key =
            Closure::<dyn Fn(web_sys::KeyboardEvent)>::new(move |event: web_sys::KeyboardEvent| {
                if !open() || event.is_composing() {
                    return;
                }
                let count = shown.with_untracked(Vec::len);
                match event.key().as_str() {
                    "ArrowDown" => active.update(|at| *at = (*at + 1) % count),
                    "ArrowUp" => active.update(|at| *at = (*at + count - 1) % count),
                    "Enter" | "Tab" if !event.shift_key() => {
                        let name = shown
                            .with_untracked(|shown| shown.get(active.get_untracked()).cloned());
                        if let Some(name) = name {
                            pick(name);
                        }
                    }
                    "Escape" => {
                        dismissed.set(typed.get_untracked().map(|(at, _)| at));
                        typed.set(None);
                    }
                    _ => return,
                }
                event.prevent_default();
            });
        let on_caret = Closure::<dyn Fn()>::new(read_caret);
        let on_blur = Closure::<dyn Fn()>::new(move || typed.set(None));
        let target: &web_sys::EventTarget = textarea.as_ref();
        let _ = target.add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref());
        for kind in ["input", "click", "keyup"] {
            let _ =
                target.add_event_listener_with_callback(kind, on_caret.as_ref().unchecked_ref());
        }
        let _ = target.add_event_listener_with_callback("blur", on_blur.as_ref().unchecked_ref());
        // The listeners live as long as the field: it goes with the composer.
        on_key.forget();
        on_caret.forget();
        on_blur.forget();
    });
    // What was typed before the code came (the `@` that loaded it, at least).
    read_caret();
    Effect::new(move || {
        let Some(textarea) = field.textarea.get() else {
            return;
        };
        let _ = textarea.set_attribute("aria-autocomplete", "list");
        let _ = textarea.set_attribute("aria-controls", LIST_ID);
        let _ = match open() {
            true => {
                let _ = textarea.set_attribute(COMPLETING, "");
                textarea.set_attribute("aria-activedescendant", &option_id(active.get()))
            }
            false => {
                let _ = textarea.remove_attribute(COMPLETING);
                textarea.remove_attribute("aria-activedescendant")
            }
        };
    });
    let on_pointerdown = move |event: ev::PointerEvent| {
        // The field keeps the focus (and its caret).
        event.prevent_default();
    };
    view! {
        <p class="visually-hidden" aria-live="polite">
            {move || match (open(), shown.with(Vec::len)) {
                (false, _) => String::new(),
                (true, 1) => "1 person: Enter or Tab to mention".to_owned(),
                (true, count) => format!("{count} people: arrows to choose, Enter or Tab to mention"),
            }}
        </p>
        <ul id=LIST_ID class="mention-list" role="listbox" aria-label="People" hidden=move || !open()>
            <For
                each=move || shown.get().into_iter().enumerate()
                key=|(at, name)| (*at, name.clone())
                let:option
            >
                <li
                    id=option_id(option.0)
                    role="option"
                    class:active=move || active.get() == option.0
                    aria-selected=move || (active.get() == option.0).to_string()
                    on:pointerdown=on_pointerdown
                    on:click={
                        let name = option.1.clone();
                        move |_| pick(name.clone())
                    }
                >
                    <span class="avatar small" aria-hidden="true">
                        {initial(&option.1)}
                    </span>
                    <span class="person-name">{option.1.clone()}</span>
                </li>
            </For>
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn the_name_at_the_caret_starts_a_word() {
        assert_eq!(typed_name("hi @al", 6), Some((3, "al")));
        assert_eq!(typed_name("@", 1), Some((0, "")));
        assert_eq!(typed_name("hi @al there", 6), Some((3, "al")));
        assert_eq!(typed_name("hi @al there", 12), None);
        assert_eq!(typed_name("mail@example", 12), None);
        assert_eq!(typed_name("(@bo", 4), Some((1, "bo")));
        assert_eq!(
            typed_name("é @bo", byte_offset("é @bo", 5)),
            Some((3, "bo"))
        );
    }

    #[test]
    fn names_starting_with_what_is_typed_are_suggested_once_and_never_mine() {
        let people = names(&["Carol", "al", "Alice", "bal", "alice", "ann"]);
        assert_eq!(suggestions(&people, "AL", None), ["al", "Alice"]);
        assert_eq!(
            suggestions(&people, "", Some("carol")),
            ["al", "Alice", "bal", "ann"]
        );
        assert!(suggestions(&people, "zed", None).is_empty());
        let many = names(&["a1", "a2", "a3", "a4", "a5", "a6", "a7"]);
        assert_eq!(suggestions(&many, "a", None).len(), SHOWN);
    }

    #[test]
    fn a_caret_counts_utf16_units() {
        assert_eq!(byte_offset("a😀b", 0), 0);
        assert_eq!(byte_offset("a😀b", 3), 5);
        assert_eq!(byte_offset("a😀b", 9), 6);
    }
}
