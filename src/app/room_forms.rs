//! The room list's two forms: join (or create, by sending to it) any room by name, and create a
//! private room (signed in only). Each opens the room and closes the drawer: a joined one once
//! its name is valid, a new one once the server made it.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_navigate;

use super::explain;
use crate::{api::CreatePrivateRoom, model::RoomName};

/// Creates a private room owned by the signed-in user, then opens it. A plain form: without
/// JavaScript the post creates it and returns to the page, where the list shows it.
#[component]
pub fn NewPrivateRoom(
    create: ServerAction<CreatePrivateRoom>,
    drawer_open: RwSignal<bool>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let navigate = use_navigate();
    let error = move || {
        create
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| explain(&error))
    };
    // Opens the room once it exists (the action's value changes only when a call completes).
    Effect::new(move |_| {
        if let Some(Ok(room)) = create.value().get() {
            name.set(String::new());
            drawer_open.set(false);
            navigate(&format!("/room/{}", room.name), Default::default());
        }
    });
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        create.dispatch(CreatePrivateRoom {
            name: name.get_untracked().trim().to_owned(),
        });
    };
    view! {
        <form class="join new-room" method="post" action=CreatePrivateRoom::url() on:submit=on_submit>
            <label for="new-private-room">"New private room"</label>
            <div class="join-row">
                <input
                    id="new-private-room"
                    type="text"
                    name="name"
                    required
                    placeholder="room-name"
                    autocomplete="off"
                    bind:value=name
                    aria-invalid=move || error().is_some().then_some("true")
                />
                <button type="submit" prop:disabled=move || create.pending().get()>
                    "Create"
                </button>
            </div>
            {move || error().map(|error| view! { <p class="field-error" role="alert">{error}</p> })}
        </form>
    }
}

/// Joins (or creates, by sending to it) any room by name.
#[component]
pub fn JoinRoom(drawer_open: RwSignal<bool>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        match RoomName::parse(name.get_untracked().trim()) {
            Ok(room) => {
                error.set(None);
                name.set(String::new());
                drawer_open.set(false);
                navigate(&format!("/room/{room}"), Default::default());
            }
            Err(invalid) => error.set(Some(invalid.to_string())),
        }
    };
    view! {
        <form class="join" on:submit=on_submit>
            <label for="join-room">"Join or create a room"</label>
            <div class="join-row">
                <input
                    id="join-room"
                    type="text"
                    placeholder="room-name"
                    autocomplete="off"
                    prop:value=name
                    on:input=move |event| name.set(event_target_value(&event))
                    aria-invalid=move || error.get().is_some().then_some("true")
                />
                <button type="submit">"Join"</button>
            </div>
            {move || error.get().map(|error| view! { <p class="field-error" role="alert">{error}</p> })}
        </form>
    }
}
