//! Who the page is signed in as (or a guest), and the actions that change it.
//!
//! The session lives in an `HttpOnly` cookie the page never sees: it asks the server
//! (`current_user`) and asks again after each successful sign-in, sign-up or sign-out (the
//! account forms' code says so, [`Session::changed`]). Every resource that depends on who is
//! asking (history, rooms, members) is keyed on [`Session::changes`], so it is fetched again
//! as the new user, and the poll loop restarts.

use leptos::prelude::*;

use crate::{api::current_user, error::ChatError, model::Me};

/// The page's identity, shared through context by every component under the chat page.
#[derive(Clone, Copy)]
pub struct Session {
    /// Counts successful identity changes.
    changes: RwSignal<u32>,
    me: Resource<Result<Option<Me>, ChatError>>,
}

impl Session {
    /// Creates the session for the page and provides it as context.
    pub fn provide() -> Self {
        let changes = RwSignal::new(0_u32);
        let session = Self {
            changes,
            me: Resource::new(move || changes.get(), |_| current_user()),
        };
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

    /// The page signed in or out (the server set the cookie): who it is is asked again.
    pub fn changed(&self) {
        self.changes.update(|count| *count += 1);
    }
}
