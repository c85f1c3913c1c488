//! `/api/me/rooms`: the rooms a signed-in account has joined, how far it has read each (on
//! any of its devices) and how many messages (and mentions of it) it has not read; and
//! `/api/me/mentions`. The rules (accounts only, rooms the caller may see, positions only
//! moving forward) are [`Chat`]'s.

use axum::{
    extract::State,
    routing::{get, put},
    Json, Router,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    extract::{ApiCaller, ApiJson, ApiPath, ApiQuery, JsonObject},
    ErrorBody,
};
use crate::{
    error::ChatError,
    model::{JoinedRoom, JoinedRoomList, MarkReadBody, MentionList, MentionsQuery, RoomName},
    server::chat::Chat,
};

/// The routes of this module, for [`super::routes`].
pub(super) fn routes() -> Router<Chat> {
    Router::new()
        .route("/api/me/rooms", get(joined_rooms))
        .route("/api/me/mentions", get(mentions))
        .route("/api/me/rooms/{room}", put(mark_read).delete(leave_room))
}

/// The newest messages that mention the account, in rooms it may read now, newest first.
#[utoipa::path(
    get, path = "/api/me/mentions", tag = "reads", params(MentionsQuery),
    responses(
        (status = 200, description = "The messages", body = MentionList),
        (status = 400, description = "`limit` is malformed or out of range", body = ErrorBody),
        (status = 401, description = "Not signed in, or a bad token", body = ErrorBody),
        (status = 403, description = "Another site's token: mentions are of accounts of this server", body = ErrorBody),
        (status = 503, description = "The store cannot answer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn mentions(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(query): ApiQuery<MentionsQuery>,
) -> Result<Json<MentionList>, ChatError> {
    Ok(Json(chat.my_mentions(&caller, &query.validate()?).await?))
}

/// The rooms the account has joined and may still see, by name, with their unread counts.
#[utoipa::path(
    get, path = "/api/me/rooms", tag = "reads",
    responses(
        (status = 200, description = "The joined rooms", body = JoinedRoomList),
        (status = 401, description = "Not signed in, or a bad token", body = ErrorBody),
        (status = 403, description = "Another site's token: joined rooms are kept per account of this server", body = ErrorBody),
        (status = 503, description = "The store cannot answer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn joined_rooms(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<JoinedRoomList>, ChatError> {
    Ok(Json(chat.joined_rooms(&caller).await?))
}

/// Joins the room if the account has not, and moves its read position forward to
/// `last_read_id` (an older id keeps the newer position, so devices cannot move it back).
#[utoipa::path(
    put, path = "/api/me/rooms/{room}", tag = "reads", request_body = MarkReadBody,
    params(("room" = String, Path, description = "The room")),
    responses(
        (status = 200, description = "The room as kept now", body = JoinedRoom),
        (status = 400, description = "Malformed room name or body, or `last_read_id` not a message id (a hyphenated UUIDv7)", body = ErrorBody),
        (status = 401, description = "Not signed in, or a bad token", body = ErrorBody),
        (status = 403, description = "Another site's token: joined rooms are kept per account of this server", body = ErrorBody),
        (status = 404, description = "A private room the caller may not see", body = ErrorBody),
        (status = 415, description = "Content type not `application/json`", body = ErrorBody),
        (status = 503, description = "The store cannot answer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn mark_read(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath(room): ApiPath<String>,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Json<JoinedRoom>, ChatError> {
    let room = RoomName::parse(&room)?;
    let mark = body.into_typed::<MarkReadBody>()?.validate()?;
    Ok(Json(chat.mark_read(&caller, &room, mark).await?))
}

#[derive(Serialize, ToSchema)]
pub(super) struct RoomLeft {
    /// Always `"ok"`.
    status: &'static str,
}

/// Leaves a joined room: it is no longer listed, and its read position is forgotten.
#[utoipa::path(
    delete, path = "/api/me/rooms/{room}", tag = "reads",
    params(("room" = String, Path, description = "The room")),
    responses(
        (status = 200, description = "Left", body = RoomLeft),
        (status = 400, description = "Malformed room name", body = ErrorBody),
        (status = 401, description = "Not signed in, or a bad token", body = ErrorBody),
        (status = 403, description = "Another site's token: joined rooms are kept per account of this server", body = ErrorBody),
        (status = 404, description = "A room the account has not joined, or a private room it may not see", body = ErrorBody),
        (status = 503, description = "The store cannot answer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn leave_room(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<RoomLeft>, ChatError> {
    let room = RoomName::parse(&room)?;
    chat.leave_joined_room(&caller, &room).await?;
    Ok(Json(RoomLeft { status: "ok" }))
}
