//! Notifications: what a signed-in person hears of while away, and how.
//!
//! - The bell in the room header ([`notifications_bell`]) opens a panel ([`panel`], its code
//!   loaded on the first click) that sets the room's level (all / mentions / nothing, kept on
//!   the server with the read position) and turns this browser's notifications on or off:
//!   the permission is asked on that click only, never on load; Web Push ([`push`]) then
//!   reaches the browser while no page of the chat is open.
//! - While a page is open but hidden, the page notifies itself ([`notify_away`]): the tabs'
//!   leader alone, for the messages the room's level asks for (see `stream::unread`), not the
//!   person's own. A push of the same room replaces it (one tag per room, as the service
//!   worker's), so nobody sees a message twice.
//!
//! The person can turn this browser's notifications off without the browser's settings: a
//! flag in `localStorage` the page's own notifications respect (the permission stays granted,
//! as no page can take it back), and the push subscription is ended.

mod panel;
mod push;

use std::{
    cell::{Cell, RefCell},
    collections::BTreeMap,
    rc::Rc,
    sync::Arc,
};

use leptos::{
    html,
    prelude::*,
    tachys::view::{Mountable, Render},
    task::spawn_local,
};
use wasm_bindgen::{closure::Closure, JsValue};

use super::{
    js::{call, construct, get, object, set},
    stream::is_for,
};
use crate::{
    api::joined_rooms,
    model::{is_direct_room, Message, NotifyLevel},
};

/// Where the person's "off on this browser" is kept.
const OFF_KEY: &str = "longpoll-chat.notifications-off";

/// The id of the panel, which the bell controls (written out in the bell's view: a literal
/// is part of its static HTML).
const PANEL_ID: &str = "notifications-panel";

/// Characters of a message a notification shows.
const BODY_MAX_CHARS: usize = 160;

/// The bell in the room header: its first click loads the panel's controller
/// ([`notifications_controller`]), which opens the panel and keeps the bell's state from then
/// on. Levels and notifications are an account's: the stylesheet shows the bell only on a
/// signed-in page (no code to load for that).
///
/// A plain function, not a component: one erased view less in the first load.
pub fn notifications_bell(room: Memo<String>) -> impl IntoView {
    let root = NodeRef::<html::Div>::new();
    let owner = Owner::current();
    let started = Rc::new(Cell::new(false));
    let on_click = move |_| {
        if let Some(owner) = owner.clone().filter(|_| !started.replace(true)) {
            spawn_local(notifications_controller(root, room, owner));
        }
    };
    view! {
        <div class="notifications-menu" node_ref=root>
            <button
                type="button"
                class="bell"
                aria-label="Notifications"
                title="Notifications"
                aria-controls="notifications-panel"
                aria-expanded="false"
                on:click=on_click
            >
                <BellMark/>
            </button>
        </div>
    }
}

/// Mounts [`panel::NotificationsController`] beside the bell under `owner` (the bell's: its
/// router, its cleanup), opening the panel.
#[lazy]
fn notifications_controller(root: NodeRef<html::Div>, room: Memo<String>, owner: Owner) {
    owner.with(|| {
        let Some(element) = root.get_untracked() else {
            return;
        };
        let mut mounted = view! { <panel::NotificationsController root room/> }
            .into_any()
            .build();
        mounted.mount(&element, None);
        // The DOM goes with the bell; its reactive parts end with the owner.
        StoredValue::new_local(mounted);
    });
}

#[component]
fn BellMark() -> impl IntoView {
    view! {
        <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
            <path
                fill="currentColor"
                d="M8 1.5a4.5 4.5 0 0 0-4.5 4.5v2.7L2.2 11a.75.75 0 0 0 .65 1.12h10.3a.75.75 0 0 0 .65-1.12L12.5 8.7V6A4.5 4.5 0 0 0 8 1.5ZM6.3 13.3a1.75 1.75 0 0 0 3.4 0H6.3Z"
            />
        </svg>
    }
}

/// Whether the person turned this browser's notifications off (see the module's header).
fn turned_off() -> bool {
    storage().is_some_and(|storage| storage.get_item(OFF_KEY).ok().flatten().is_some())
}

fn set_turned_off(off: bool) {
    if let Some(storage) = storage() {
        let _ = match off {
            true => storage.set_item(OFF_KEY, "1"),
            false => storage.remove_item(OFF_KEY),
        };
    }
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// The page's own notifications of `messages` (new in joined rooms, not the person's own; `me`
/// is the person's account key), shown while the page is hidden, the person let this browser
/// notify, and the room's level asks for them: one per room, its newest such message (a newer
/// one replaces it, as a push of the room does). A click focuses the tab and opens the room at
/// the message. Its code loads with the first new message while the page is hidden.
#[lazy]
pub async fn notify_away(messages: Vec<Arc<Message>>, me: String) {
    if push::permission() != push::Permission::Granted || turned_off() {
        return;
    }
    let Some(levels) = levels().await else {
        return;
    };
    if !get(&document(), "hidden").is_truthy() {
        return;
    }
    for (room, (message, count)) in newest_worth_notifying(&messages, &levels, &me) {
        let title = match (is_direct_room(room), count) {
            (true, 1) => message.sender.clone(),
            (true, count) => format!("{} ({count} new)", message.sender),
            (false, 1) => format!("{} in #{room}", message.sender),
            (false, count) => format!("{} in #{room} ({count} new)", message.sender),
        };
        let body: String = message.text.chars().take(BODY_MAX_CHARS).collect();
        let url = format!("/room/{room}?at={}", message.id);
        show(&title, &body, room, url);
    }
}

/// How long the rooms' levels are used before they are read again: a level set on another
/// device applies within it (one set in any tab of this browser applies at once, see
/// [`forget_levels`]).
const LEVELS_LAST_MS: f64 = 60_000.0;

/// Where a tab notes when the person last set a level in this browser (every tab sees it).
const LEVELS_SET_KEY: &str = "longpoll-chat.levels-set";

/// Each joined room's level, by room.
type Levels = Rc<BTreeMap<String, NotifyLevel>>;

thread_local! {
    /// The rooms' levels as last read, and when (milliseconds since the Unix epoch).
    static LEVELS: RefCell<Option<(f64, Levels)>> = const { RefCell::new(None) };
}

/// Each joined room's level, read from the server at most every [`LEVELS_LAST_MS`] (or once a
/// tab set one): a busy room while the page is hidden costs no request per message.
async fn levels() -> Option<Levels> {
    let now = js_sys::Date::now();
    let set_at = (storage().and_then(|storage| storage.get_item(LEVELS_SET_KEY).ok().flatten()))
        .and_then(|at| at.parse::<f64>().ok())
        .unwrap_or_default();
    let kept = LEVELS.with_borrow(|kept| kept.clone());
    if let Some((_, levels)) = kept.filter(|(at, _)| now - at < LEVELS_LAST_MS && *at > set_at) {
        return Some(levels);
    }
    let joined = joined_rooms().await.ok().flatten()?;
    let levels: Rc<BTreeMap<String, NotifyLevel>> = Rc::new(
        (joined.rooms.into_iter())
            .map(|room| (room.room, room.notify))
            .collect(),
    );
    LEVELS.set(Some((now, levels.clone())));
    Some(levels)
}

/// The person set a level in this tab: the tab that notifies (the leader, maybe another) reads
/// them again before its next notification.
pub fn forget_levels() {
    if let Some(storage) = storage() {
        let _ = storage.set_item(LEVELS_SET_KEY, &js_sys::Date::now().to_string());
    }
}

/// Of `messages`, those the room's level (`levels`, per joined room) asks `me` to hear of, by
/// room: the newest of each, and how many.
fn newest_worth_notifying<'a>(
    messages: &'a [Arc<Message>],
    levels: &BTreeMap<String, NotifyLevel>,
    me: &str,
) -> BTreeMap<&'a str, (&'a Message, usize)> {
    let mut newest: BTreeMap<&str, (&Message, usize)> = BTreeMap::new();
    for message in messages {
        let wanted = match levels.get(&message.room) {
            Some(NotifyLevel::All) => true,
            Some(NotifyLevel::Mentions) => is_for(me, &message.room, message),
            Some(NotifyLevel::None) | None => false,
        };
        if wanted {
            let entry = newest.entry(&message.room).or_insert((message, 0));
            *entry = (message, entry.1 + 1);
        }
    }
    newest
}

/// One notification, tagged with its room; a click focuses the tab and opens `url` in it.
fn show(title: &str, body: &str, room: &str, url: String) {
    let options = object(&[
        ("body", body.into()),
        ("tag", room.into()),
        ("icon", "/icon-192.png".into()),
    ]);
    let Ok(notification) = construct(&push::notification_api(), &[&title.into(), &options]) else {
        return;
    };
    let shown = notification.clone();
    let on_click = Closure::once_into_js(move || {
        let _ = call(&window(), "focus", &[]);
        open_in_page(&url);
        let _ = call(&shown, "close", &[]);
    });
    set(&notification, "onclick", &on_click);
}

/// Opens `url` (a path of the chat) in this page without loading it again: the router follows
/// the history's `popstate`.
fn open_in_page(url: &str) {
    let Ok(history) = window().history() else {
        return;
    };
    if history
        .push_state_with_url(&JsValue::NULL, "", Some(url))
        .is_ok()
    {
        if let Ok(event) = construct(&get(&window(), "PopStateEvent"), &[&"popstate".into()]) {
            let _ = call(&window(), "dispatchEvent", &[&event]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(room: &str, text: &str, mentions: &[&str]) -> Arc<Message> {
        Arc::new(Message {
            id: uuid::Uuid::now_v7(),
            room: room.into(),
            text: text.into(),
            sender: "bob".into(),
            author: Some("bob".into()),
            mentions: mentions.iter().map(|key| key.to_string()).collect(),
            ..Message::default()
        })
    }

    #[test]
    fn the_rooms_level_says_what_is_worth_a_notification_one_per_room() {
        let messages = [
            message("all", "one", &[]),
            message("all", "two", &[]),
            message("mentions", "plain", &[]),
            message("mentions", "for ann", &["ann"]),
            message("mentions", "for cy", &["cy"]),
            message("none", "for ann too", &["ann"]),
            message("dm--x", "direct", &[]),
            message("not-joined", "for ann", &["ann"]),
        ];
        let levels = BTreeMap::from([
            ("all".to_owned(), NotifyLevel::All),
            ("mentions".to_owned(), NotifyLevel::Mentions),
            ("none".to_owned(), NotifyLevel::None),
            ("dm--x".to_owned(), NotifyLevel::Mentions),
        ]);
        let shown: Vec<(&str, &str, usize)> = newest_worth_notifying(&messages, &levels, "ann")
            .into_iter()
            .map(|(room, (message, count))| (room, message.text.as_str(), count))
            .collect();
        assert_eq!(
            shown,
            [
                ("all", "two", 2),
                ("dm--x", "direct", 1),
                ("mentions", "for ann", 1)
            ]
        );
    }
}
