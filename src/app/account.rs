//! The account panel at the top of the room list: who you are and a sign-out button, or the
//! sign-in form (which also creates accounts). Both are plain forms posting to the server
//! functions, so they work without JavaScript (the server function redirects back, an error
//! in the URL, which the actions pick up); with it, the submit handler dispatches the action
//! and the page updates in place.
//!
//! [`SignInPage`] is the same form on a page of its own: where guests are not allowed, every
//! room sends a visitor there, and it sends them back once they are signed in.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_query_map};

use super::{explain, initial, session::Session};
use crate::{
    api::{SignIn, SignOut, SignUp},
    model::{RoomName, ACCOUNT_NAME_MAX_CHARS, PASSWORD_MIN_CHARS},
};

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
            <section class="sign-in-card account" aria-labelledby="sign-in-title">
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
        <section class="account" aria-label="Account">
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
    let session = Session::expect();
    let initial = initial(&name);
    let full_name = name.clone();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        session.sign_out.dispatch(SignOut {});
    };
    view! {
        <div class="signed-in">
            <span class="avatar" aria-hidden="true">{initial}</span>
            <p class="who">
                <span class="label">"Signed in as"</span>
                <strong class="account-name" title=full_name>{name}</strong>
            </p>
            <form method="post" action=SignOut::url() on:submit=on_submit>
                <button type="submit" class="sign-out" prop:disabled=move || session.sign_out.pending().get()>
                    "Sign out"
                </button>
            </form>
        </div>
    }
}

/// Which button sent the credentials.
#[derive(Clone, Copy, PartialEq)]
enum Attempt {
    SignIn,
    SignUp,
}

/// Name and password, then "Sign in" (the default, on Enter) or "Create account" (posts the
/// same fields to the sign-up function through its button's `formaction`).
#[component]
fn SignInForm() -> impl IntoView {
    let session = Session::expect();
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    // Without JavaScript the page was reloaded with the error of the function that failed.
    let attempt = RwSignal::new(if session.sign_up.value().with_untracked(Option::is_some) {
        Attempt::SignUp
    } else {
        Attempt::SignIn
    });
    let pending = move || session.sign_in.pending().get() || session.sign_up.pending().get();
    let error = move || {
        match attempt.get() {
            Attempt::SignIn => session.sign_in.value().get().and_then(Result::err),
            Attempt::SignUp => session.sign_up.value().get().and_then(Result::err),
        }
        .map(|error| explain(&error))
    };

    let sign_up_url = SignUp::url();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let by_sign_up = event
            .submitter()
            .is_some_and(|button| button.has_attribute("formaction"));
        let (name, password) = (name.get_untracked(), password.get_untracked());
        if by_sign_up {
            attempt.set(Attempt::SignUp);
            session.sign_up.dispatch(SignUp { name, password });
        } else {
            attempt.set(Attempt::SignIn);
            session.sign_in.dispatch(SignIn { name, password });
        }
    };
    view! {
        <form class="sign-in" method="post" action=SignIn::url() on:submit=on_submit>
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
                bind:value=name
            />
            <label for="account-password">"Password"</label>
            <input
                id="account-password"
                type="password"
                name="password"
                required
                autocomplete="current-password"
                bind:value=password
                aria-describedby="account-hint"
            />
            <p id="account-hint" class="hint">
                {format!("New here? Pick a name and a password of {PASSWORD_MIN_CHARS}+ characters.")}
            </p>
            {move || error().map(|error| view! { <p class="field-error" role="alert">{error}</p> })}
            <div class="sign-in-buttons">
                <button type="submit" class="primary" prop:disabled=pending>
                    "Sign in"
                </button>
                <button type="submit" formaction=sign_up_url prop:disabled=pending>
                    "Create account"
                </button>
            </div>
        </form>
    }
}
