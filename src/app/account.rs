//! The account panel at the top of the room list: who you are and a sign-out button, or the
//! sign-in form (which also creates accounts). Both are plain forms posting to the server
//! functions, so they work without JavaScript (the server function redirects back, an error
//! in the URL, which the server writes under the form); with it, the panel's one submit
//! listener loads [`submit_account_form`] on the first submission (the first-load budget),
//! which calls the server function, and the page updates in place.
//!
//! [`SignInPage`] is the same form on a page of its own: where guests are not allowed, every
//! room sends a visitor there, and it sends them back once they are signed in.

use leptos::{prelude::*, server_fn::ServerFn, task::spawn_local};
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_query_map};
use wasm_bindgen::{JsCast, JsValue};

use super::{explain, initial, js, room_forms::refusal, session::Session};
use crate::{
    api::{sign_in, sign_out, sign_up, SignIn, SignOut, SignUp},
    model::{RoomName, ACCOUNT_NAME_MAX_CHARS, PASSWORD_MIN_CHARS},
};

/// The attribute that marks the account forms.
const ACCOUNT_FORM: &str = "data-account-form";

/// The sign-in page's address, coming back to `room` once signed in (a valid room name needs
/// no escaping in a query).
pub fn sign_in_url(room: &str) -> String {
    format!("/sign-in?next=/room/{room}")
}

/// Where the sign-in page may send a visitor back to: the chat's own pages only, never
/// another site (an open redirect would lend our address to a phishing link).
fn return_path(next: Option<String>) -> String {
    match next.as_deref().and_then(|next| next.strip_prefix("/room/")) {
        Some(room) if RoomName::parse(room).is_ok() => format!("/room/{room}"),
        _ => "/".to_owned(),
    }
}

/// Sign in (or create an account) on a page of its own.
#[component]
pub fn SignInPage() -> impl IntoView {
    let session = Session::provide();
    let query = use_query_map();
    let next = move || return_path(query.read().get("next"));
    view! {
        <Title text="Sign in · longpoll-chat"/>
        <main class="sign-in-page">
            <section
                class="sign-in-card account"
                aria-labelledby="sign-in-title"
                on:submit=on_account_form(session)
            >
                <p class="brand">"longpoll-chat"</p>
                <h1 id="sign-in-title">"Sign in to chat"</h1>
                <Transition fallback=|| ()>
                    {move || match session.user() {
                        // Signed in (by this form, or already): back to the room asked for.
                        Some(_) => view! { <Redirect path=next()/> }.into_any(),
                        None => view! { <SignInForm/> }.into_any(),
                    }}
                </Transition>
            </section>
        </main>
    }
}

#[component]
pub fn AccountPanel() -> impl IntoView {
    let session = Session::expect();
    view! {
        <section class="account" aria-label="Account" on:submit=on_account_form(session)>
            <Transition fallback=|| ()>
                {move || match session.user() {
                    Some(me) => view! { <SignedInAs name=me.name/> }.into_any(),
                    None => view! { <SignInForm/> }.into_any(),
                }}
            </Transition>
        </section>
    }
}

/// The signed-in account's name and the sign-out button.
#[component]
fn SignedInAs(name: String) -> impl IntoView {
    let initial = initial(&name);
    let full_name = name.clone();
    view! {
        <div class="signed-in">
            <span class="avatar" aria-hidden="true">{initial}</span>
            <p class="who">
                <span class="label">"Signed in as"</span>
                <strong class="account-name" title=full_name>{name}</strong>
            </p>
            <form method="post" action=SignOut::url() data-account-form>
                <button type="submit" class="sign-out">
                    "Sign out"
                </button>
            </form>
        </div>
    }
}

/// Name and password, then "Sign in" (the default, on Enter) or "Create account" (posts the
/// same fields to the sign-up function through its button's `formaction`).
#[component]
fn SignInForm() -> impl IntoView {
    // Without JavaScript the page was reloaded with the error of the function that failed.
    let refused = refusal(SignIn::PATH).or_else(|| refusal(SignUp::PATH));
    let hidden = refused.is_none();
    view! {
        <form class="sign-in" method="post" action=SignIn::url() data-account-form>
            <label for="account-name">"Name"</label>
            <input
                id="account-name"
                type="text"
                name="name"
                required
                maxlength=ACCOUNT_NAME_MAX_CHARS
                autocomplete="username"
                autocapitalize="none"
                spellcheck="false"
            />
            <label for="account-password">"Password"</label>
            <input
                id="account-password"
                type="password"
                name="password"
                required
                autocomplete="current-password"
                aria-describedby="account-hint"
            />
            <p id="account-hint" class="hint">
                {format!("New here? Pick a name and a password of {PASSWORD_MIN_CHARS}+ characters.")}
            </p>
            <p class="field-error" role="alert" hidden=hidden>
                {refused}
            </p>
            <div class="sign-in-buttons">
                <button type="submit" class="primary">
                    "Sign in"
                </button>
                <button type="submit" formaction=SignUp::url()>
                    "Create account"
                </button>
            </div>
        </form>
    }
}

/// The account forms' submit listener: their submission loads [`submit_account_form`].
fn on_account_form(session: Session) -> impl Fn(leptos::ev::SubmitEvent) + 'static {
    move |event| {
        let form = (event.target())
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .filter(|form| form.has_attribute(ACCOUNT_FORM));
        if let Some(form) = form {
            event.prevent_default();
            // "Create account" sends the same fields to another function.
            let by_sign_up =
                (event.submitter()).is_some_and(|button| button.has_attribute("formaction"));
            spawn_local(submit_account_form(form, by_sign_up, session));
        }
    }
}

/// Signs in, up (`by_sign_up`) or out with what `form` holds, then has the page ask who it is
/// ([`Session::changed`]); or says under the form why not. Its code loads with the first
/// submission.
#[lazy]
async fn submit_account_form(form: web_sys::Element, by_sign_up: bool, session: Session) {
    let field = |selector: &str| form.query_selector(selector).ok().flatten();
    let value = |name: &str| {
        (field(&format!("input[name={name}]")))
            .and_then(|input| js::text(&input, "value"))
            .unwrap_or_default()
    };
    let buttons = js::call(&form, "querySelectorAll", &[&"button".into()]).unwrap_or(JsValue::NULL);
    let set_disabled = |disabled: bool| {
        for at in 0..js::get(&buttons, "length").as_f64().unwrap_or_default() as u32 {
            js::set(
                &js::get(&buttons, &at.to_string()),
                "disabled",
                &disabled.into(),
            );
        }
    };
    set_disabled(true);
    let (name, password) = (value("name"), value("password"));
    let answer = match (field("input[name=password]"), by_sign_up) {
        (None, _) => sign_out().await,
        (Some(_), false) => sign_in(name, password).await.map(drop),
        (Some(_), true) => sign_up(name, password).await.map(drop),
    };
    set_disabled(false);
    match answer {
        Ok(()) => session.changed(),
        Err(error) => {
            if let Some(problem) = field(".field-error") {
                js::set(&problem, "textContent", &explain(&error).into());
                let _ = problem.remove_attribute("hidden");
            }
        }
    }
}
