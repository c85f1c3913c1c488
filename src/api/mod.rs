//! Leptos server functions: the browser's way into the chat service. Each one validates
//! through `model` and calls the same [`Chat`](crate::server::chat::Chat) method the REST
//! handler calls, as the caller the request's session cookie names. The live stream uses
//! `POST /api/stream` directly, so it can be aborted when the rooms change.
//!
//! One file per feature, named as in `server::chat` and `server::http::rest`; what they share
//! (the service and caller from the request, statuses for errors, cookies) is here.

mod accounts;
mod delivery;
mod messages;
mod presence;
mod reads;
mod rooms;
mod search;

pub use accounts::*;
pub use delivery::*;
pub use messages::*;
pub use presence::*;
pub use reads::*;
pub use rooms::*;
pub use search::*;

use leptos::{
    prelude::*,
    server_fn::{
        codec::JsonEncoding,
        error::{FromServerFnError, ServerFnErrorErr},
    },
};

use std::sync::Arc;

use crate::{
    error::ChatError,
    model::{
        History, JoinedRoom, JoinedRoomList, Me, MentionList, Message, RoomInfo, RoomList,
        RoomMembers, SearchResults, SendReceipt, Stats,
    },
};

/// The chat service (from the Leptos context `crate::site` provides) and who is calling.
#[cfg(feature = "ssr")]
async fn chat_and_caller(
) -> Result<(crate::server::chat::Chat, crate::server::identity::Caller), ChatError> {
    let chat: crate::server::chat::Chat = use_context().ok_or_else(|| {
        tracing::error!("no Chat in the Leptos context");
        ChatError::Internal
    })?;
    let parts: axum::http::request::Parts = use_context().ok_or_else(|| {
        tracing::error!("no request parts in the Leptos context");
        ChatError::Internal
    })?;
    let caller = crate::server::http::caller::caller_of(&chat, &parts).await?;
    Ok((chat, caller))
}

/// Answers a server function's error with the HTTP status (and `Retry-After`) the REST API
/// uses for it, rather than Leptos's 500 for every error. A plain form post (a page without
/// JavaScript) keeps the redirect back to its page, the error in the URL, where the page shows
/// it: a status here would replace the redirect's.
#[cfg(feature = "ssr")]
async fn respond<T>(
    answer: impl std::future::Future<Output = Result<T, ChatError>>,
) -> Result<T, ChatError> {
    use axum::http::{header, HeaderValue, StatusCode};

    let answer = answer.await;
    if is_form_post() {
        return answer;
    }
    if let (Err(error), Some(response)) = (&answer, use_context::<leptos_axum::ResponseOptions>()) {
        response.set_status(
            StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
        if let Some(seconds) = error.retry_after_secs() {
            response.insert_header(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
    answer
}

/// Whether the request is a plain form post (a page without JavaScript), which leptos_axum
/// answers with a redirect.
#[cfg(feature = "ssr")]
fn is_form_post() -> bool {
    use axum::http::header;

    use_context::<axum::http::request::Parts>().is_some_and(|parts| {
        parts.method == axum::http::Method::POST
            && parts
                .headers
                .get(header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
    })
}

#[cfg(feature = "ssr")]
fn set_cookie(cookie: axum::http::HeaderValue) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.append_header(axum::http::header::SET_COOKIE, cookie);
    }
}

/// Server functions answer with [`ChatError`] as JSON; a call that fails before reaching the
/// function (bad arguments, network) is mapped to the nearest variant.
impl FromServerFnError for ChatError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::MissingArg(detail) => {
                Self::InvalidInput(detail)
            }
            other => Self::Transport(other.to_string()),
        }
    }
}
