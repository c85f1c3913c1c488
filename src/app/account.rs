//! The account panel at the top of the room list: who you are and a sign-out button, or the
//! sign-in form (which also creates accounts). Both are plain forms posting to the server
//! functions, so they work without JavaScript (the server function redirects back, an error
//! in the URL, which the actions pick up); with it, the submit handler dispatches the action
//! and the page updates in place.

use leptos::{prelude::*, server_fn::ServerFn};

use super::{explain, session::Session};
use crate::{
    api::{SignIn, SignOut, SignUp},
    model::{ACCOUNT_NAME_MAX_CHARS, PASSWORD_MIN_CHARS},
};

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
    let initial = name
        .chars()
        .next()
        .unwrap_or('?')
        .to_uppercase()
        .to_string();
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
