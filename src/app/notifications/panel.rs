//! The panel the bell opens: what the person hears of in this room (all messages, mentions
//! only, or nothing; a direct room: every message or nothing), and this browser's
//! notifications, with their state (on, on while a tab is open, off, blocked, unsupported)
//! and the button that turns them on (asking the permission then, and only then) or off.
//! Escape, or a press outside, closes it.

use leptos::{ev, html, prelude::*, task::spawn_local};
use wasm_bindgen::{closure::Closure, JsCast};

use super::{
    forget_levels,
    push::{self, Permission},
    set_turned_off, turned_off, PANEL_ID,
};
use crate::{
    api::{joined_rooms, mark_read},
    app::explain,
    model::{is_direct_room, NotifyLevel},
};

/// This browser's notifications, as far as the page can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BrowserState {
    Checking,
    /// No Notification API here.
    Unsupported,
    /// The permission was refused: only the browser's settings change that.
    Blocked,
    Off,
    /// Allowed, but without a push subscription: only a page of the chat notifies.
    WhileOpen,
    /// Allowed and subscribed: pushes come while no page is open.
    On,
}

/// The bell's button, in `root`.
fn bell_of(root: NodeRef<html::Div>) -> Option<web_sys::HtmlElement> {
    let button = root.get_untracked()?.query_selector("button.bell").ok()??;
    button.dyn_into().ok()
}

/// The bell from its first click on: it opens and closes the panel (open now: that click
/// loaded this), and says so (`aria-expanded`).
#[component]
pub fn NotificationsController(root: NodeRef<html::Div>, room: Memo<String>) -> impl IntoView {
    let open = RwSignal::new(true);
    let toggle = Closure::<dyn Fn()>::new(move || open.update(|open| *open = !*open));
    if let Some(bell) = bell_of(root) {
        let _ = bell.add_event_listener_with_callback("click", toggle.as_ref().unchecked_ref());
    }
    // As long as the bell: they go together.
    toggle.forget();
    Effect::new(move || {
        let expanded = open.get().to_string();
        if let Some(bell) = bell_of(root) {
            let _ = bell.set_attribute("aria-expanded", &expanded);
        }
    });
    view! {
        <Show when=move || open.get()>
            <NotificationsPanel root room open/>
        </Show>
    }
}

/// The panel; Escape closes it (the focus goes back to the bell), as does a press outside it
/// and the bell.
#[component]
fn NotificationsPanel(
    root: NodeRef<html::Div>,
    room: Memo<String>,
    open: RwSignal<bool>,
) -> impl IntoView {
    let listeners = [
        window_event_listener(ev::keydown, move |event| {
            if event.key() == "Escape" {
                open.set(false);
                if let Some(bell) = bell_of(root) {
                    let _ = bell.focus();
                }
            }
        }),
        window_event_listener(ev::pointerdown, move |event| {
            let target = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Node>().ok());
            let inside = root
                .get_untracked()
                .is_some_and(|root| root.contains(target.as_ref()));
            if !inside {
                open.set(false);
            }
        }),
    ];
    on_cleanup(move || listeners.into_iter().for_each(|listener| listener.remove()));
    view! {
        <section id=PANEL_ID class="members-popover notifications-popover" aria-label="Notifications">
            <h2>"Notifications"</h2>
            <RoomLevel room/>
            <ThisBrowser/>
        </section>
    }
}

/// The room's level: a radio group, set on the server as soon as one is picked.
#[component]
fn RoomLevel(room: Memo<String>) -> impl IntoView {
    let level = RwSignal::new(None::<NotifyLevel>);
    let problem = RwSignal::new(None::<String>);
    Effect::new(move || {
        let room = room.get();
        spawn_local(async move {
            let joined = joined_rooms().await.ok().flatten();
            let kept = (joined.into_iter().flat_map(|list| list.rooms))
                .find(|joined| joined.room == room)
                .map(|joined| joined.notify);
            level.try_set(Some(kept.unwrap_or(NotifyLevel::default_for(&room))));
        });
    });
    let choose = move |chosen: NotifyLevel| {
        let room = room.get_untracked();
        let before = level.get_untracked();
        level.set(Some(chosen));
        problem.set(None);
        spawn_local(async move {
            match mark_read(room.clone(), None, Some(chosen)).await {
                Ok(joined) => {
                    forget_levels();
                    level.try_set(Some(joined.notify));
                }
                Err(error) => {
                    level.try_set(before);
                    problem.try_set(Some(format!("Not changed: {}", explain(&error))));
                }
            }
        });
    };
    let options = move || {
        let direct = is_direct_room(&room.get());
        let mut options = vec![(NotifyLevel::All, "Every message")];
        if !direct {
            options.push((NotifyLevel::Mentions, "Mentions of me"));
        }
        options.push((NotifyLevel::None, "Nothing"));
        options
    };
    let checked = move |option: NotifyLevel| {
        let direct = is_direct_room(&room.get_untracked());
        // In a direct room every message mentions the person: "mentions" is every message.
        level.get().map(|level| match level {
            NotifyLevel::Mentions if direct => NotifyLevel::All,
            level => level,
        }) == Some(option)
    };
    view! {
        <fieldset class="notify-levels" prop:disabled=move || level.get().is_none()>
            <legend>"In this room, tell me of"</legend>
            <For each=options key=|(option, _)| *option let:option>
                <label>
                    <input
                        type="radio"
                        name="notify-level"
                        prop:checked=move || checked(option.0)
                        on:change=move |_| choose(option.0)
                    />
                    {option.1}
                </label>
            </For>
            {move || problem.get().map(|problem| view! { <p class="field-error" role="alert">{problem}</p> })}
        </fieldset>
    }
}

/// This browser's notifications: their state, and the button that changes it.
#[component]
fn ThisBrowser() -> impl IntoView {
    let state = RwSignal::new(BrowserState::Checking);
    let subscription = StoredValue::new_local(None::<wasm_bindgen::JsValue>);
    let busy = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    // Only reads what the browser says: the permission is asked on a click, never here.
    spawn_local(async move {
        let now = match push::permission() {
            Permission::Unsupported => BrowserState::Unsupported,
            Permission::Denied => BrowserState::Blocked,
            Permission::Default => BrowserState::Off,
            Permission::Granted if turned_off() => BrowserState::Off,
            Permission::Granted => match push::current_subscription().await {
                Some(found) => {
                    subscription.try_set_value(Some(found));
                    BrowserState::On
                }
                None => BrowserState::WhileOpen,
            },
        };
        state.try_set(now);
    });
    let enable = move || {
        busy.set(true);
        problem.set(None);
        set_turned_off(false);
        spawn_local(async move {
            let now = match push::request_permission().await {
                Permission::Granted => match push::subscribe().await {
                    Ok(made) => {
                        subscription.try_set_value(Some(made));
                        BrowserState::On
                    }
                    Err(why) => {
                        problem.try_set(Some(format!("Only while the chat is open: {why}.")));
                        BrowserState::WhileOpen
                    }
                },
                Permission::Denied => BrowserState::Blocked,
                Permission::Default => {
                    problem.try_set(Some("The browser did not allow notifications.".into()));
                    BrowserState::Off
                }
                Permission::Unsupported => BrowserState::Unsupported,
            };
            state.try_set(now);
            busy.try_set(false);
        });
    };
    let turn_off = move || {
        busy.set(true);
        problem.set(None);
        set_turned_off(true);
        spawn_local(async move {
            let held = subscription.try_get_value().flatten();
            let held = match held {
                Some(held) => Some(held),
                None => push::current_subscription().await,
            };
            if let Some(held) = held {
                if let Err(why) = push::unsubscribe(&held).await {
                    problem.try_set(Some(format!("Off here, but {why}.")));
                }
            }
            subscription.try_set_value(None);
            state.try_set(BrowserState::Off);
            busy.try_set(false);
        });
    };
    let sentence = move || match state.get() {
        BrowserState::Checking => "…",
        BrowserState::Unsupported => "This browser cannot show notifications.",
        BrowserState::Blocked => {
            "Blocked: allow notifications for this site in the browser's settings."
        }
        BrowserState::Off => "Off: nothing shows while the chat is in the background.",
        BrowserState::WhileOpen => "On while the chat is open in a tab.",
        BrowserState::On => "On, even while the chat is closed.",
    };
    let kind = move || format!("{:?}", state.get()).to_lowercase();
    view! {
        <div class="this-browser">
            <h3>"On this browser"</h3>
            <p class="browser-state" data-state=kind role="status">{sentence}</p>
            <div class="browser-buttons">
                <Show when=move || matches!(state.get(), BrowserState::Off | BrowserState::WhileOpen)>
                    <button
                        type="button"
                        class="primary"
                        prop:disabled=move || busy.get()
                        on:click=move |_| enable()
                    >
                        "Enable notifications on this browser"
                    </button>
                </Show>
                <Show when=move || matches!(state.get(), BrowserState::WhileOpen | BrowserState::On)>
                    <button
                        type="button"
                        prop:disabled=move || busy.get()
                        on:click=move |_| turn_off()
                    >
                        "Turn off"
                    </button>
                </Show>
            </div>
            {move || problem.get().map(|problem| view! { <p class="field-error" role="alert">{problem}</p> })}
        </div>
    }
}
