//! A private room's people, from the room header: a "members" button opening the list, owner
//! first; the owner adds members by account name and removes them, a member may leave. It is
//! a `<details>` with plain forms inside, so it opens and works without JavaScript too. Public
//! rooms show nothing, nor do direct rooms (their people never change, and the header names
//! them).

use leptos::{prelude::*, server_fn::ServerFn};

use super::{explain, initial, session::Session};
use crate::{
    api::{members_if_private, AddMember, RemoveMember},
    model::{is_direct_room, RoomMembers, ACCOUNT_NAME_MAX_CHARS},
};

#[component]
pub fn MembersMenu(room: Memo<String>) -> impl IntoView {
    let session = Session::expect();
    let add = ServerAction::<AddMember>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let members = Resource::new(
        move || {
            (
                room.get(),
                session.changes(),
                add.version().get(),
                remove.version().get(),
            )
        },
        |(room, ..)| members_if_private(room),
    );
    // Read under the `Transition` below, so the server waits for them.
    let people = move || members.get().and_then(Result::ok).flatten();
    let me = move || session.user().map(|me| me.name.to_ascii_lowercase());
    let i_own = move || people().is_some_and(|people| me().is_some_and(|me| me == people.owner));
    let count = move || people().map_or(0, |people| people.members.len() + 1);

    view! {
        <Transition fallback=|| ()>
            <Show when=move || people().is_some() && !is_direct_room(&room.get())>
                <details class="members-menu">
                    <summary aria-label=move || format!("Members: {}", count())>
                        <PeopleMark/>
                        <span class="count">{count}</span>
                    </summary>
                    <div class="members-popover">
                        <h2>"Members"</h2>
                        <ul class="members">
                            <For
                                each=move || people().map(everyone).unwrap_or_default()
                                key=|person| person.clone()
                                let:person
                            >
                                <MemberItem person room people=Signal::derive(people) me=Signal::derive(me) remove/>
                            </For>
                        </ul>
                        <Show when=i_own>
                            <AddMemberForm room add/>
                        </Show>
                        <RemoveError remove/>
                    </div>
                </details>
            </Show>
        </Transition>
    }
}

/// The owner first, then the members in order.
fn everyone(people: RoomMembers) -> Vec<String> {
    std::iter::once(people.owner)
        .chain(people.members)
        .collect()
}

/// One person of the room: the owner is marked; the owner may remove the others, a member
/// may leave.
#[component]
fn MemberItem(
    person: String,
    room: Memo<String>,
    people: Signal<Option<RoomMembers>>,
    me: Signal<Option<String>>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let is_owner = {
        let person = person.clone();
        move || people.with(|people| people.as_ref().is_some_and(|p| p.owner == person))
    };
    let is_me = {
        let person = person.clone();
        move || me.with(|me| me.as_deref() == Some(person.as_str()))
    };
    let i_own = move || {
        people.with(|people| {
            me.with(|me| {
                people
                    .as_ref()
                    .zip(me.as_ref())
                    .is_some_and(|(people, me)| people.owner == *me)
            })
        })
    };
    let removable = {
        let (is_owner, is_me) = (is_owner.clone(), is_me.clone());
        move || !is_owner() && (i_own() || is_me())
    };
    let button_label = {
        let is_me = is_me.clone();
        move || if is_me() { "Leave" } else { "Remove" }
    };
    let on_submit = {
        let person = person.clone();
        move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            remove.dispatch(RemoveMember {
                room: room.get_untracked(),
                name: person.clone(),
            });
        }
    };
    view! {
        <li class="member">
            <span class="avatar small" aria-hidden="true">
                {initial(&person)}
            </span>
            <span class="member-name">{person.clone()}</span>
            <Show when=is_owner.clone()>
                <span class="tag">"owner"</span>
            </Show>
            <Show when=is_me.clone()>
                <span class="tag">"you"</span>
            </Show>
            <Show when=removable.clone()>
                <form method="post" action=RemoveMember::url() on:submit=on_submit.clone()>
                    <input type="hidden" name="room" value=room/>
                    <input type="hidden" name="name" value=person.clone()/>
                    <button
                        type="submit"
                        class="link"
                        aria-label=format!("{} {person}", button_label())
                        prop:disabled=move || remove.pending().get()
                    >
                        {button_label.clone()}
                    </button>
                </form>
            </Show>
        </li>
    }
}

/// The owner's form: add an account by name.
#[component]
fn AddMemberForm(room: Memo<String>, add: ServerAction<AddMember>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let error = move || {
        add.value()
            .get()
            .and_then(Result::err)
            .map(|error| explain(&error))
    };
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        add.dispatch(AddMember {
            room: room.get_untracked(),
            name: name.get_untracked().trim().to_owned(),
        });
    };
    // A member added leaves the field empty for the next; a refused name stays to be fixed.
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            name.set(String::new());
        }
    });
    view! {
        <form class="add-member" method="post" action=AddMember::url() on:submit=on_submit>
            <input type="hidden" name="room" value=room/>
            <label for="add-member">"Add a member"</label>
            <div class="join-row">
                <input
                    id="add-member"
                    type="text"
                    name="name"
                    required
                    maxlength=ACCOUNT_NAME_MAX_CHARS
                    placeholder="account name"
                    autocomplete="off"
                    autocapitalize="none"
                    bind:value=name
                    aria-invalid=move || error().is_some().then_some("true")
                />
                <button type="submit" prop:disabled=move || add.pending().get()>
                    "Add"
                </button>
            </div>
            {move || error().map(|error| view! { <p class="field-error" role="alert">{error}</p> })}
        </form>
    }
}

#[component]
fn RemoveError(remove: ServerAction<RemoveMember>) -> impl IntoView {
    move || {
        remove
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| view! { <p class="field-error" role="alert">{explain(&error)}</p> })
    }
}

/// The mark of a room's people.
#[component]
fn PeopleMark() -> impl IntoView {
    view! {
        <svg class="mark" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
            <path
                fill="currentColor"
                d="M6 8a3 3 0 1 0 0-6 3 3 0 0 0 0 6Zm-5 6c0-2.8 2.2-5 5-5s5 2.2 5 5v1H1v-1Zm10.5-6.2a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5ZM12 9c2.2.2 3.5 2.1 3.5 4.5V15H12v-1c0-1.9-.7-3.6-1.9-4.8.6-.1 1.2-.2 1.9-.2Z"
            />
        </svg>
    }
}
