//! Who the page is signed in as (or a guest), and the actions that change it.
//!
//! The session lives in an `HttpOnly` cookie the page never sees: it asks the server
//! (`current_user`) and asks again after each successful sign-in, sign-up or sign-out. Every
//! resource that depends on who is asking (history, rooms, members) is keyed on
//! [`Session::changes`], so it is fetched again as the new user, and the poll loop restarts.

use leptos::prelude::*;

use crate::{
    api::{current_user, SignIn, SignOut, SignUp},
    error::ChatError,
    model::Me,
};

/// The page's identity, shared through context by every component under the chat page.
#[derive(Clone, Copy)]
pub struct Session {
    pub sign_in: ServerAction<SignIn>,
    pub sign_up: ServerAction<SignUp>,
    pub sign_out: ServerAction<SignOut>,
    /// Counts successful identity changes.
    changes: RwSignal<u32>,
    me: Resource<Result<Option<Me>, ChatError>>,
}

impl Session {
    /// Creates the session for the page and provides it as context. Call it under the router:
    /// the actions pick up an error a no-JavaScript form post left in the URL.
    pub fn provide() -> Self {
        let changes = RwSignal::new(0_u32);
        let session = Self {
            sign_in: ServerAction::new(),
            sign_up: ServerAction::new(),
            sign_out: ServerAction::new(),
            changes,
            me: Resource::new(move || changes.get(), |_| current_user()),
        };
        count_successes(session.sign_in, changes);
        count_successes(session.sign_up, changes);
        count_successes(session.sign_out, changes);
        provide_context(session);
        session
    }

    pub fn expect() -> Self {
        expect_context()
    }

    /// The signed-in account, `None` for a guest (and while loading: read it under a
    /// `Suspense` or `Transition` so the server waits for it).
    pub fn user(&self) -> Option<Me> {
        self.me.get().and_then(Result::ok).flatten()
    }

    /// Whether the user is known to be signed in.
    pub fn signed_in(&self) -> bool {
        self.me.with(|me| matches!(me, Some(Ok(Some(_)))))
    }

    /// Changes whenever the page signs in or out: a key for resources that depend on who asks.
    pub fn changes(&self) -> u32 {
        self.changes.get()
    }
}

/// Bumps `changes` each time `action` succeeds (in the browser; without JavaScript the form
/// post reloads the page).
fn count_successes<S>(action: ServerAction<S>, changes: RwSignal<u32>)
where
    S: leptos::server_fn::ServerFn<Error = ChatError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(_))) {
            changes.update(|count| *count += 1);
        }
    });
}
