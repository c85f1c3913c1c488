//! A private room's people, from the room header: a "members" button opening the list, owner
//! first; the owner adds members by account name and removes them, a member may leave. It is
//! a `<details>` with plain forms inside, so it opens and works without JavaScript too (a
//! refusal comes back in the address, and the server writes it in the list). Public rooms show
//! nothing, nor do direct rooms (their people never change, and the header names them).
//!
//! With JavaScript, the list's one submit listener loads [`submit_member_form`] on the first
//! submission (the first-load budget), which asks the server, then has the list fetched again
//! or says why not.

use leptos::{prelude::*, server_fn::ServerFn, task::spawn_local};
use wasm_bindgen::{JsCast, JsValue};

use super::{explain, initial, js, room_forms::refusal, session::Session};
use crate::{
    api::{add_member, members_if_private, remove_member, AddMember, RemoveMember},
    model::{is_direct_room, RoomMembers, ACCOUNT_NAME_MAX_CHARS},
};

/// The attribute that names a members form's kind (`add`, `remove`).
const KIND: &str = "data-member-form";

#[component]
pub fn MembersMenu(room: Memo<String>) -> impl IntoView {
    let session = Session::expect();
    // Bumped by the forms' code once the server changed the members.
    let changed = RwSignal::new(0_u32);
    let members = Resource::new(
        move || (room.get(), session.changes(), changed.get()),
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
                    <div class="members-popover" on:submit=on_member_form(changed)>
                        <h2>"Members"</h2>
                        <ul class="members">
                            <For
                                each=move || people().map(everyone).unwrap_or_default()
                                key=|person| person.clone()
                                let:person
                            >
                                <MemberItem person room people=Signal::derive(people) me=Signal::derive(me)/>
                            </For>
                        </ul>
                        <Show when=i_own>
                            <AddMemberForm room/>
                        </Show>
                        <Refusal path=RemoveMember::PATH class="field-error remove-error"/>
                    </div>
                </details>
            </Show>
        </Transition>
    }
}

/// The list's submit listener: a members form's submission (see [`KIND`]) loads
/// [`submit_member_form`].
fn on_member_form(changed: RwSignal<u32>) -> impl Fn(leptos::ev::SubmitEvent) + 'static {
    let owner = Owner::current();
    move |event| {
        let form = (event.target())
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .filter(|form| form.has_attribute(KIND));
        if let (Some(form), Some(owner)) = (form, owner.clone()) {
            event.prevent_default();
            spawn_local(submit_member_form(form, owner, changed));
        }
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
                <form method="post" action=RemoveMember::url() data-member-form="remove">
                    <input type="hidden" name="room" value=room/>
                    <input type="hidden" name="name" value=person.clone()/>
                    <button
                        type="submit"
                        class="link"
                        aria-label=format!("{} {person}", button_label())
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
fn AddMemberForm(room: Memo<String>) -> impl IntoView {
    view! {
        <form class="add-member" method="post" action=AddMember::url() data-member-form="add">
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
                />
                <button type="submit">"Add"</button>
            </div>
            <Refusal path=AddMember::PATH class="field-error"/>
        </form>
    }
}

/// Why the server refused a form posting to `path` without JavaScript (hidden when it did not;
/// [`submit_member_form`] writes here too).
#[component]
fn Refusal(path: &'static str, class: &'static str) -> impl IntoView {
    let refused = refusal(path);
    let hidden = refused.is_none();
    view! {
        <p class=class role="alert" hidden=hidden>
            {refused}
        </p>
    }
}

/// Adds or removes the member `form` names, then has the list fetched again (`changed`); or
/// says why not. Its code loads with the first submission.
#[lazy]
async fn submit_member_form(form: web_sys::Element, owner: Owner, changed: RwSignal<u32>) {
    let field = |selector: &str| form.query_selector(selector).ok().flatten();
    let value = |name: &str| {
        (field(&format!("input[name={name}]")))
            .and_then(|input| js::text(&input, "value"))
            .unwrap_or_default()
    };
    let adding = form.get_attribute(KIND).as_deref() == Some("add");
    let problem = match adding {
        true => field(".field-error"),
        false => (js::call(&form, "closest", &[&".members-popover".into()]).ok())
            .and_then(|popover| popover.dyn_into::<web_sys::Element>().ok())
            .and_then(|popover| popover.query_selector(".remove-error").ok().flatten()),
    };
    let (Some(button), Some(problem)) = (field("button"), problem) else {
        return;
    };
    let (room, name) = (value("room"), value("name").trim().to_owned());
    js::set(&button, "disabled", &JsValue::TRUE);
    let answer = match adding {
        true => add_member(room, name).await,
        false => remove_member(room, name).await,
    };
    js::set(&button, "disabled", &JsValue::FALSE);
    js::set(
        &problem,
        "textContent",
        &answer
            .as_ref()
            .err()
            .map(explain)
            .unwrap_or_default()
            .into(),
    );
    let _ = match answer {
        Ok(_) => {
            if let Some(input) = field("input[name=name]").filter(|_| adding) {
                js::set(&input, "value", &"".into());
            }
            owner.with(|| changed.update(|count| *count += 1));
            problem.set_attribute("hidden", "")
        }
        Err(_) => problem.remove_attribute("hidden"),
    };
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
