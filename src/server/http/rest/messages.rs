//! `/api/send` and `/api/messages/{id}`: sending, editing and deleting a message, adding and
//! taking back reactions. Who
//! may do which is [`Chat`]'s to decide; each change travels in the room's log to every stream
//! (`POST /api/stream`), and `GET /api/history` shows the messages as the changes left them.

use std::sync::Arc;

use axum::{
    extract::State,
    routing::{patch, post, put},
    Json, Router,
};

use super::{
    extract::{ApiCaller, ApiJson, ApiPath, JsonObject},
    ErrorBody,
};
use crate::{
    error::ChatError,
    model::{parse_message_id, EditBody, Message, SendBody, SendReceipt},
    server::chat::Chat,
};

/// The routes of this module, for [`super::routes`].
pub(super) fn routes() -> Router<Chat> {
    Router::new()
        .route("/api/send", post(send))
        .route(
            "/api/messages/{id}",
            patch(edit_message).delete(delete_message),
        )
        .route(
            "/api/messages/{id}/reactions/{emoji}",
            put(add_reaction).delete(remove_reaction),
        )
}

/// Stores a message and wakes every poll held on its room.
#[utoipa::path(
    post, path = "/api/send", request_body = SendBody,
    responses(
        (status = 200, description = "Stored and delivered", body = SendReceipt),
        (status = 400, description = "Malformed JSON, not an object, or a missing or invalid field (a guest must give `sender`)", body = ErrorBody),
        (status = 401, description = "A bad token, or no identity on a server without guests", body = ErrorBody),
        (status = 403, description = "A signed-in sender naming someone else, or a guest using an account's name", body = ErrorBody),
        (status = 404, description = "A private room the caller may not see", body = ErrorBody),
        (status = 413, description = "Body larger than the server's limit (`--max-body-bytes`)", body = ErrorBody),
        (status = 415, description = "Content type not `application/json` (or another `application/*+json`)", body = ErrorBody),
        (status = 429, description = "Sending too fast (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The store cannot take messages", body = ErrorBody),
    )
)]
pub(super) async fn send(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Json<SendReceipt>, ChatError> {
    let draft = body.into_typed::<SendBody>()?.validate()?;
    Ok(Json(chat.send(&caller, draft).await?))
}

/// Replaces the text of one of the caller's messages; it is marked edited (`edited_at`).
#[utoipa::path(
    patch, path = "/api/messages/{id}", tag = "messages", request_body = EditBody,
    params(("id" = String, Path, description = "The message's id (a hyphenated UUIDv7)")),
    responses(
        (status = 200, description = "The message as it is now", body = Message),
        (status = 400, description = "Malformed id or body, or a text that breaks the text rules", body = ErrorBody),
        (status = 401, description = "Not signed in (guests cannot edit), or a bad token", body = ErrorBody),
        (status = 403, description = "Someone else's message", body = ErrorBody),
        (status = 404, description = "No such message: unknown, deleted, older than its room keeps, or in a private room the caller may not see", body = ErrorBody),
        (status = 415, description = "Content type not `application/json`", body = ErrorBody),
        (status = 429, description = "Sending and changing too fast, or changing this message too often (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The store cannot answer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn edit_message(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Json<Arc<Message>>, ChatError> {
    let id = parse_message_id(&id, "the message id")?;
    let body = body.into_typed::<EditBody>()?;
    Ok(Json(chat.edit_message(&caller, id, &body.text).await?))
}

/// Deletes a message: the caller's own, or any in a private room the caller owns. What is left
/// is a tombstone (`deleted`, no text, no reactions); deleting it again changes nothing.
#[utoipa::path(
    delete, path = "/api/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "The message's id (a hyphenated UUIDv7)")),
    responses(
        (status = 200, description = "The tombstone", body = Message),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Not signed in (guests cannot delete), or a bad token", body = ErrorBody),
        (status = 403, description = "Someone else's message in a room the caller does not own", body = ErrorBody),
        (status = 404, description = "No such message: unknown, older than its room keeps, or in a private room the caller may not see", body = ErrorBody),
        (status = 429, description = "Sending and changing too fast, or changing this message too often (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The store cannot answer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn delete_message(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Arc<Message>>, ChatError> {
    let id = parse_message_id(&id, "the message id")?;
    Ok(Json(chat.delete_message(&caller, id).await?))
}

/// Adds the caller's reaction: one of each emoji per person per message (adding it again
/// changes nothing).
#[utoipa::path(
    put, path = "/api/messages/{id}/reactions/{emoji}", tag = "messages",
    params(
        ("id" = String, Path, description = "The message's id (a hyphenated UUIDv7)"),
        ("emoji" = String, Path, description = "One emoji, percent-encoded in the URL (`%F0%9F%91%8D` is 👍)"),
    ),
    responses(
        (status = 200, description = "The message as it is now", body = Message),
        (status = 400, description = "Malformed id, or not exactly one emoji", body = ErrorBody),
        (status = 401, description = "Not signed in (guests cannot react), or a bad token", body = ErrorBody),
        (status = 404, description = "No such message: unknown, deleted, older than its room keeps, or in a private room the caller may not see", body = ErrorBody),
        (status = 409, description = "The message has as many different emoji as it may (20): react with one of them", body = ErrorBody),
        (status = 429, description = "Sending and changing too fast, or changing this message too often (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The store cannot answer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn add_reaction(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath((id, emoji)): ApiPath<(String, String)>,
) -> Result<Json<Arc<Message>>, ChatError> {
    react(chat, caller, id, emoji, true).await
}

/// Takes back the caller's reaction (taking back one they do not have changes nothing).
#[utoipa::path(
    delete, path = "/api/messages/{id}/reactions/{emoji}", tag = "messages",
    params(
        ("id" = String, Path, description = "The message's id (a hyphenated UUIDv7)"),
        ("emoji" = String, Path, description = "One emoji, percent-encoded in the URL"),
    ),
    responses(
        (status = 200, description = "The message as it is now", body = Message),
        (status = 400, description = "Malformed id, or not exactly one emoji", body = ErrorBody),
        (status = 401, description = "Not signed in, or a bad token", body = ErrorBody),
        (status = 404, description = "No such message: unknown, deleted, older than its room keeps, or in a private room the caller may not see", body = ErrorBody),
        (status = 429, description = "Sending and changing too fast, or changing this message too often (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The store cannot answer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn remove_reaction(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath((id, emoji)): ApiPath<(String, String)>,
) -> Result<Json<Arc<Message>>, ChatError> {
    react(chat, caller, id, emoji, false).await
}

async fn react(
    chat: Chat,
    caller: crate::server::identity::Caller,
    id: String,
    emoji: String,
    add: bool,
) -> Result<Json<Arc<Message>>, ChatError> {
    let id = parse_message_id(&id, "the message id")?;
    Ok(Json(chat.react(&caller, id, &emoji, add).await?))
}
