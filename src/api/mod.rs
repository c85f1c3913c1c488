//! Leptos server functions: the browser's way into the chat service. Each one validates
//! through `model` and calls the same [`Chat`](crate::server::chat::Chat) method the REST
//! handler calls, as the caller the request's session cookie names. The live stream uses
//! `POST /api/stream` directly, so it can be aborted when the rooms change.

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
        History, JoinedRoom, JoinedRoomList, Me, Message, RoomInfo, RoomList, RoomMembers,
        SendReceipt, Stats,
    },
};

/// Sends a message; also the target of the no-JavaScript composer form. A signed-in sender
/// leaves `sender` empty (the server stamps their name).
#[server(prefix = "/sfn", endpoint = "send")]
pub async fn send_message(
    room: String,
    #[server(default)] sender: String,
    text: String,
) -> Result<SendReceipt, ChatError> {
    use crate::model::SendBody;

    respond(async move {
        let draft = SendBody {
            sender: Some(sender).filter(|sender| !sender.trim().is_empty()),
            text,
            room: Some(room),
        }
        .validate()?;
        let (chat, caller) = chat_and_caller().await?;
        chat.send(&caller, draft).await
    })
    .await
}

/// Replaces the text of one of the signed-in user's messages; answers it as it is now.
#[server(prefix = "/sfn", endpoint = "edit-message")]
pub async fn edit_message(id: String, text: String) -> Result<Arc<Message>, ChatError> {
    use crate::model::parse_message_id;

    respond(async move {
        let id = parse_message_id(&id, "the message id")?;
        let (chat, caller) = chat_and_caller().await?;
        chat.edit_message(&caller, id, &text).await
    })
    .await
}

/// Deletes a message (the user's own, or any in a private room they own); answers the
/// tombstone.
#[server(prefix = "/sfn", endpoint = "delete-message")]
pub async fn delete_message(id: String) -> Result<Arc<Message>, ChatError> {
    use crate::model::parse_message_id;

    respond(async move {
        let id = parse_message_id(&id, "the message id")?;
        let (chat, caller) = chat_and_caller().await?;
        chat.delete_message(&caller, id).await
    })
    .await
}

/// Adds (`add`) or takes back the signed-in user's `emoji` reaction to a message; answers the
/// message as it is now.
#[server(prefix = "/sfn", endpoint = "react")]
pub async fn react_to_message(
    id: String,
    emoji: String,
    add: bool,
) -> Result<Arc<Message>, ChatError> {
    use crate::model::parse_message_id;

    respond(async move {
        let id = parse_message_id(&id, "the message id")?;
        let (chat, caller) = chat_and_caller().await?;
        chat.react(&caller, id, &emoji, add).await
    })
    .await
}

/// Says the signed-in user is typing in the room: the composer sends it every
/// `TYPING_SIGNAL_EVERY_SECS` while they type. Guests are refused (401).
#[server(prefix = "/sfn", endpoint = "typing")]
pub async fn signal_typing(room: String) -> Result<(), ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&room)?;
        let (chat, caller) = chat_and_caller().await?;
        chat.typing(&caller, &room)
    })
    .await
}

/// A room's most recent messages, oldest first.
#[server(prefix = "/sfn", endpoint = "history")]
pub async fn room_history(room: String, limit: Option<u32>) -> Result<History, ChatError> {
    use crate::model::HistoryQuery;

    respond(async move {
        let request = HistoryQuery {
            room: Some(room),
            limit: limit.map(|limit| limit.to_string()),
        }
        .validate()?;
        let (chat, caller) = chat_and_caller().await?;
        chat.history(&caller, &request)
    })
    .await
}

/// The longest message text this server takes (`--max-text-chars`), for the composer.
#[server(prefix = "/sfn", endpoint = "text-limit")]
pub async fn text_limit() -> Result<usize, ChatError> {
    respond(async move {
        let (chat, _) = chat_and_caller().await?;
        Ok(chat.broker().max_text_chars())
    })
    .await
}

/// Server-wide counters and the rooms in use, as the caller may see them.
#[server(prefix = "/sfn", endpoint = "stats")]
pub async fn chat_stats() -> Result<Stats, ChatError> {
    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        chat.stats(&caller).await
    })
    .await
}

/// Who the browser is signed in as; `None` for a guest.
#[server(prefix = "/sfn", endpoint = "me")]
pub async fn current_user() -> Result<Option<Me>, ChatError> {
    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        Ok(chat.me(&caller).ok())
    })
    .await
}

/// Creates an account and signs it in (the session cookie is set).
#[server(prefix = "/sfn", endpoint = "sign-up")]
pub async fn sign_up(name: String, password: String) -> Result<Me, ChatError> {
    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        chat.sign_up(&caller, &name, &password).await?;
        sign_in(name, password).await
    })
    .await
}

/// Signs in; the session lives in an `HttpOnly` cookie, never seen by scripts.
#[server(prefix = "/sfn", endpoint = "sign-in")]
pub async fn sign_in(name: String, password: String) -> Result<Me, ChatError> {
    use crate::server::{clock::unix_seconds, rest::session_cookie};

    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        let session = chat.sign_in(&caller, &name, &password).await?;
        let max_age = (session.expires_at - unix_seconds()).max(0.0) as u64;
        let cookie = session_cookie(&session.token, max_age, chat.identity().config().https);
        set_cookie(cookie);
        Ok(Me {
            name: session.name,
            via: "session".into(),
            expires_at: session.expires_at,
        })
    })
    .await
}

/// Signs out everywhere this session is used, and clears the cookie.
#[server(prefix = "/sfn", endpoint = "sign-out")]
pub async fn sign_out() -> Result<(), ChatError> {
    use crate::server::rest::cleared_session_cookie;

    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        // A browser whose session ended elsewhere is signed out already: clear its cookie anyway.
        let result = match caller.user {
            Some(_) => chat.sign_out(&caller).await,
            None => Ok(()),
        };
        set_cookie(cleared_session_cookie(chat.identity().config().https));
        result
    })
    .await
}

/// The rooms the browser's user may see.
#[server(prefix = "/sfn", endpoint = "rooms")]
pub async fn visible_rooms() -> Result<RoomList, ChatError> {
    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        chat.rooms(&caller).await
    })
    .await
}

/// Creates a private room owned by the signed-in user.
#[server(prefix = "/sfn", endpoint = "create-room")]
pub async fn create_private_room(name: String) -> Result<RoomInfo, ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&name)?;
        let (chat, caller) = chat_and_caller().await?;
        chat.create_room(&caller, room, true).await
    })
    .await
}

/// A private room's owner and members.
#[server(prefix = "/sfn", endpoint = "members")]
pub async fn private_room_members(room: String) -> Result<RoomMembers, ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&room)?;
        let (chat, caller) = chat_and_caller().await?;
        chat.members(&caller, &room)
    })
    .await
}

/// A private room's owner and members, or `None` for a room that is not a private room the
/// caller may see: the page asks this of every room it opens, without answering 404 for the
/// public ones.
#[server(prefix = "/sfn", endpoint = "members-if-private")]
pub async fn members_if_private(room: String) -> Result<Option<RoomMembers>, ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&room)?;
        let (chat, caller) = chat_and_caller().await?;
        match chat.members(&caller, &room) {
            Err(ChatError::NoSuchRoom) => Ok(None),
            answer => answer.map(Some),
        }
    })
    .await
}

/// Adds an account to the owner's private room.
#[server(prefix = "/sfn", endpoint = "add-member")]
pub async fn add_member(room: String, name: String) -> Result<RoomMembers, ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&room)?;
        let (chat, caller) = chat_and_caller().await?;
        chat.add_member(&caller, &room, name.trim()).await
    })
    .await
}

/// Removes a member from the owner's private room (or the caller from a room they are in).
#[server(prefix = "/sfn", endpoint = "remove-member")]
pub async fn remove_member(room: String, name: String) -> Result<RoomMembers, ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&room)?;
        let (chat, caller) = chat_and_caller().await?;
        chat.remove_member(&caller, &room, &name).await
    })
    .await
}

/// The rooms the signed-in account joined, with read positions and unread counts; `None` for
/// a guest, whose page keeps its own (an answer, not a 401 the browser logs as an error).
#[server(prefix = "/sfn", endpoint = "joined-rooms")]
pub async fn joined_rooms() -> Result<Option<JoinedRoomList>, ChatError> {
    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        if caller.user.is_none() && chat.identity().guests_allowed() {
            return Ok(None);
        }
        chat.joined_rooms(&caller).await.map(Some)
    })
    .await
}

/// Joins the room and moves the account's read position forward to `last_read_id` (`None`:
/// only join).
#[server(prefix = "/sfn", endpoint = "mark-read")]
pub async fn mark_read(
    room: String,
    last_read_id: Option<String>,
) -> Result<JoinedRoom, ChatError> {
    use crate::model::{MarkReadBody, RoomName};

    respond(async move {
        let room = RoomName::parse(&room)?;
        let last_read = MarkReadBody { last_read_id }.validate()?;
        let (chat, caller) = chat_and_caller().await?;
        chat.mark_read(&caller, &room, last_read).await
    })
    .await
}

/// Leaves a joined room.
#[server(prefix = "/sfn", endpoint = "leave-joined-room")]
pub async fn leave_joined_room(room: String) -> Result<(), ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&room)?;
        let (chat, caller) = chat_and_caller().await?;
        chat.leave_joined_room(&caller, &room).await
    })
    .await
}

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
    let caller = crate::server::rest::caller_of(&chat, &parts).await?;
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
    let form_post = use_context::<axum::http::request::Parts>().is_some_and(|parts| {
        parts.method == axum::http::Method::POST
            && parts
                .headers
                .get(header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
    });
    if form_post {
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
