//! Who is in the shown room and who is typing there ([`RoomPresence`]), as the stream tells it
//! (the `live` of a room's news, see [`super::stream`]): the room header says who is online
//! ([`OnlineNow`]), a line over the composer who is typing ([`TypingLine`]).
//!
//! Invariants:
//! - a typist shows until `TYPING_LASTS_SECS` after the last state that listed them, or until
//!   a state no longer lists them (their message was sent): the server sends no new state when
//!   a signal merely runs out, so each tab lets it run out itself;
//! - the page never shows its own person as typing; it does list them as online.

use std::time::Duration;

use leptos::prelude::*;

use super::{initial, session::Session};
use crate::model::{LiveState, TYPING_LASTS_SECS};

/// Names the header spells out before it counts the rest.
const NAMES_SHOWN: usize = 3;

/// Who is online in a room.
#[derive(Debug, Clone, PartialEq)]
struct Online {
    /// Signed-in people, by name, in the server's order.
    names: Vec<String>,
    guests: usize,
}

/// The shown room's presence and typing: the tab's hub hands it each state of the room.
#[derive(Clone, Copy)]
pub struct RoomPresence {
    /// `None` until a state of the room came.
    online: RwSignal<Option<Online>>,
    /// Who is typing, by name (the page's own person included: the views leave them out).
    typing: RwSignal<Vec<String>>,
    /// Counts the states received, so only the last one's timer hides its typists.
    received: StoredValue<u64>,
}

impl RoomPresence {
    pub fn new() -> Self {
        Self {
            online: RwSignal::new(None),
            typing: RwSignal::new(Vec::new()),
            received: StoredValue::new(0),
        }
    }

    /// A state of the room, received at `at` (milliseconds since the Unix epoch).
    pub fn receive(&self, state: &LiveState, at: f64) {
        let online = Online {
            names: state.online.clone(),
            guests: state.guests,
        };
        // Typing comes every few seconds: the header is left alone when only that changed.
        let moved = (self.online).try_with_untracked(|shown| shown.as_ref() != Some(&online));
        if moved == Some(true) {
            self.online.try_set(Some(online));
        }
        let typed = (self.typing).try_with_untracked(|shown| *shown != state.typing);
        if typed == Some(true) {
            self.typing.try_set(state.typing.clone());
        }
        let Some(this) = self.received.try_update_value(|count| {
            *count += 1;
            *count
        }) else {
            return;
        };
        if state.typing.is_empty() {
            return;
        }
        // Every typist listed was listed last now: they all run out together, unless a newer
        // state comes first (which sets its own timer).
        let lasts = Duration::from_secs(TYPING_LASTS_SECS).as_millis() as f64;
        let delay = (at + lasts - js_sys::Date::now()).max(0.0) as u32;
        let presence = *self;
        gloo_timers::callback::Timeout::new(delay, move || {
            if presence.received.try_get_value() == Some(this) {
                presence.typing.try_set(Vec::new());
            }
        })
        .forget();
    }

    /// Who is online in the room (signed-in people, by name), as last told.
    pub fn online_names(&self) -> Vec<String> {
        (self.online).with(|online| online.as_ref().map(|o| o.names.clone()).unwrap_or_default())
    }

    /// Shows nothing: no room shown, or none whose state came yet.
    pub fn clear(&self) {
        self.received.try_update_value(|count| *count += 1);
        self.online.try_set(None);
        self.typing.try_set(Vec::new());
    }
}

/// The room header's "alice, bob and 2 guests online", opening the whole list (with the
/// page's own person marked). Nothing until the stream said who is there.
#[component]
pub fn OnlineNow(presence: RoomPresence) -> impl IntoView {
    let session = Session::expect();
    let online = presence.online;
    let summary = Memo::new(move |_| {
        online.with(|online| {
            online
                .as_ref()
                .map(|online| online_summary(&online.names, online.guests))
        })
    });
    let names = move || online.with(|online| online.as_ref().map(|o| o.names.clone()));
    let guests = move || online.with(|online| online.as_ref().map_or(0, |o| o.guests));
    let everyone =
        move || online.with(|online| online.as_ref().map_or(0, |o| o.names.len() + o.guests));
    let me = Signal::derive(move || session.user().map(|me| me.name));
    view! {
        <Show when=move || summary.with(Option::is_some)>
            <details class="online-menu">
                <summary>
                    <span class="faces" aria-hidden="true">
                        {move || {
                            names()
                                .unwrap_or_default()
                                .into_iter()
                                .take(NAMES_SHOWN)
                                .map(|name| view! { <span class="face">{initial(&name)}</span> })
                                .collect_view()
                        }}
                    </span>
                    <span class="online-summary">{move || summary.get()}</span>
                    // In place of the sentence where the header is narrow.
                    <span class="online-count" aria-hidden="true">{everyone}</span>
                </summary>
                <div class="members-popover">
                    <h2>"Online here"</h2>
                    <ul class="online-people">
                        <For each=move || names().unwrap_or_default() key=|name| name.clone() let:name>
                            <OnlinePerson name me/>
                        </For>
                    </ul>
                    <Show when=move || { guests() > 0 }>
                        <p class="online-guests">{move || count_of(guests(), "guest", "guests")}</p>
                    </Show>
                </div>
            </details>
        </Show>
    }
}

#[component]
fn OnlinePerson(name: String, me: Signal<Option<String>>) -> impl IntoView {
    let is_me = {
        let name = name.clone();
        move || me.with(|me| me.as_ref().is_some_and(|me| me.eq_ignore_ascii_case(&name)))
    };
    view! {
        <li class="online-person">
            <span class="avatar small" aria-hidden="true">{initial(&name)}</span>
            <span class="online-name">{name.clone()}</span>
            <Show when=is_me.clone()>
                <span class="tag">"you"</span>
            </Show>
        </li>
    }
}

/// "alice is typing…" over the composer, read out politely by screen readers (only when the
/// sentence changes, not with each state that repeats it).
#[component]
pub fn TypingLine(presence: RoomPresence) -> impl IntoView {
    let session = Session::expect();
    let sentence = Memo::new(move |_| {
        let me = session.user().map(|me| me.name);
        presence.typing.with(|typing| {
            let others: Vec<&str> = (typing.iter())
                .filter(|name| me.as_ref().is_none_or(|me| !me.eq_ignore_ascii_case(name)))
                .map(String::as_str)
                .collect();
            typing_sentence(&others)
        })
    });
    view! {
        <p class="typing" aria-live="polite" aria-atomic="true">
            {move || sentence.get()}
        </p>
    }
}

/// "1 guest", "2 guests".
fn count_of(count: usize, one: &str, many: &str) -> String {
    match count {
        1 => format!("1 {one}"),
        count => format!("{count} {many}"),
    }
}

/// "alice, bob and 2 guests online"; past [`NAMES_SHOWN`] names the rest (guests too) are
/// "others".
fn online_summary(names: &[String], guests: usize) -> String {
    let mut parts: Vec<String> = names.iter().take(NAMES_SHOWN).cloned().collect();
    if names.len() > NAMES_SHOWN {
        parts.push(count_of(
            names.len() - NAMES_SHOWN + guests,
            "other",
            "others",
        ));
    } else if guests > 0 {
        parts.push(count_of(guests, "guest", "guests"));
    }
    match parts.as_slice() {
        [] => "Nobody online".to_owned(),
        [one] => format!("{one} online"),
        [first @ .., last] => format!("{} and {last} online", first.join(", ")),
    }
}

/// "alice is typing…", "alice and bob are typing…", "3 people are typing…"; empty for nobody.
fn typing_sentence(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [one, two] => format!("{one} and {two} are typing…"),
        many => format!("{} people are typing…", many.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn the_header_names_a_few_and_counts_the_rest() {
        assert_eq!(online_summary(&names(&["alice"]), 0), "alice online");
        assert_eq!(online_summary(&[], 1), "1 guest online");
        assert_eq!(
            online_summary(&names(&["alice", "bob"]), 2),
            "alice, bob and 2 guests online"
        );
        assert_eq!(
            online_summary(&names(&["a", "b", "c"]), 0),
            "a, b and c online"
        );
        assert_eq!(
            online_summary(&names(&["a", "b", "c", "d"]), 2),
            "a, b, c and 3 others online"
        );
        assert_eq!(online_summary(&[], 0), "Nobody online");
    }

    #[test]
    fn typists_are_named_up_to_two() {
        assert_eq!(typing_sentence(&[]), "");
        assert_eq!(typing_sentence(&["alice"]), "alice is typing…");
        assert_eq!(
            typing_sentence(&["alice", "bob"]),
            "alice and bob are typing…"
        );
        assert_eq!(typing_sentence(&["a", "b", "c"]), "3 people are typing…");
    }
}
