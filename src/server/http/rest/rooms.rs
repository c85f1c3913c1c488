//! `/api/rooms`: listing and creating rooms, deleting private ones, and their members. Who
//! may see or change a room is [`Chat`]'s.

use axum::{
    extract::State,
    http::StatusCode,
    routing::{delete, get, post, put},
    Json, Router,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    extract::{ApiCaller, ApiJson, ApiPath, JsonObject},
    ErrorBody,
};
use crate::{
    error::ChatError,
    model::{CreateRoomBody, DirectRoomBody, RoomInfo, RoomList, RoomMembers, RoomName},
    server::chat::Chat,
};

/// The routes of this module, for [`super::routes`].
pub(super) fn routes() -> Router<Chat> {
    Router::new()
        .route("/api/rooms", get(rooms).post(create_room))
        .route("/api/rooms/{room}", delete(delete_room))
        .route("/api/dms", post(direct_room))
        .route("/api/rooms/{room}/members", get(members))
        .route(
            "/api/rooms/{room}/members/{name}",
            put(add_member).delete(remove_member),
        )
}

/// The rooms the caller may see: public rooms in use, and their own private ones.
#[utoipa::path(
    get, path = "/api/rooms", tag = "rooms",
    responses(
        (status = 200, description = "The rooms, by name", body = RoomList),
        (status = 401, description = "No identity on a server without guests, or a bad token", body = ErrorBody),
    )
)]
pub(super) async fn rooms(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<RoomList>, ChatError> {
    Ok(Json(chat.rooms(&caller).await?))
}

/// Creates a room; a private one is owned by the caller.
#[utoipa::path(
    post, path = "/api/rooms", request_body = CreateRoomBody, tag = "rooms",
    responses(
        (status = 201, description = "Created", body = RoomInfo),
        (status = 400, description = "Malformed room name", body = ErrorBody),
        (status = 401, description = "A private room needs a signed-in user; or a bad token", body = ErrorBody),
        (status = 403, description = "A private room's owner must be an account here, not another site's token", body = ErrorBody),
        (status = 409, description = "A room of that name exists", body = ErrorBody),
        (status = 415, description = "Content type not `application/json`", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub(super) async fn create_room(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<(StatusCode, Json<RoomInfo>), ChatError> {
    let body = body.into_typed::<CreateRoomBody>()?;
    let room = RoomName::parse(&body.name)?;
    let created = chat.create_room(&caller, room, body.private).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The direct room of the caller and the people named: the same room for the same people,
/// whoever asks first, on every instance. Private to them; nobody joins, is added or removed.
#[utoipa::path(
    post, path = "/api/dms", request_body = DirectRoomBody, tag = "rooms",
    responses(
        (status = 201, description = "Made now", body = RoomInfo),
        (status = 200, description = "It existed", body = RoomInfo),
        (status = 400, description = "`with` names no one, more than 8 others, or a malformed name", body = ErrorBody),
        (status = 401, description = "Not signed in, or a bad token", body = ErrorBody),
        (status = 403, description = "Another site's token: direct rooms are for accounts here", body = ErrorBody),
        (status = 404, description = "Some name is no account here, or a disabled one (which one is not said)", body = ErrorBody),
        (status = 415, description = "Content type not `application/json`", body = ErrorBody),
        (status = 429, description = "Past the send rate", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn direct_room(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<(StatusCode, Json<RoomInfo>), ChatError> {
    let body = body.into_typed::<DirectRoomBody>()?;
    let (room, made) = chat.direct_room(&caller, &body).await?;
    let status = if made {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(room)))
}

#[derive(Serialize, ToSchema)]
pub(super) struct RoomDeleted {
    /// Always `"deleted"`.
    status: &'static str,
    room: String,
}

/// Deletes a private room and its messages (its owner only); its polls end `disconnected`.
#[utoipa::path(
    delete, path = "/api/rooms/{room}", tag = "rooms",
    params(("room" = String, Path, description = "The room")),
    responses(
        (status = 200, description = "Deleted", body = RoomDeleted),
        (status = 400, description = "Malformed room name", body = ErrorBody),
        (status = 401, description = "Not signed in, or a bad token", body = ErrorBody),
        (status = 403, description = "A member, not the owner", body = ErrorBody),
        (status = 404, description = "No private room of that name that the caller may see", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn delete_room(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<RoomDeleted>, ChatError> {
    let room = RoomName::parse(&room)?;
    chat.delete_room(&caller, &room).await?;
    Ok(Json(RoomDeleted {
        status: "deleted",
        room: room.into(),
    }))
}

/// A private room's owner and members (members only).
#[utoipa::path(
    get, path = "/api/rooms/{room}/members", tag = "rooms",
    params(("room" = String, Path, description = "The room")),
    responses(
        (status = 200, description = "Owner and members", body = RoomMembers),
        (status = 400, description = "Malformed room name", body = ErrorBody),
        (status = 401, description = "A bad token, or no identity on a server without guests", body = ErrorBody),
        (status = 404, description = "No private room of that name that the caller may see", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub(super) async fn members(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<RoomMembers>, ChatError> {
    let room = RoomName::parse(&room)?;
    Ok(Json(chat.members(&caller, &room)?))
}

/// Adds an account to a private room (its owner only).
#[utoipa::path(
    put, path = "/api/rooms/{room}/members/{name}", tag = "rooms",
    params(("room" = String, Path, description = "The room"), ("name" = String, Path, description = "The account to add")),
    responses(
        (status = 200, description = "The room's people now", body = RoomMembers),
        (status = 400, description = "Malformed room or account name", body = ErrorBody),
        (status = 401, description = "Not signed in, or a bad token", body = ErrorBody),
        (status = 403, description = "A member, not the owner", body = ErrorBody),
        (status = 404, description = "No such private room for the caller, or no such account", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn add_member(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath((room, name)): ApiPath<(String, String)>,
) -> Result<Json<RoomMembers>, ChatError> {
    let room = RoomName::parse(&room)?;
    Ok(Json(chat.add_member(&caller, &room, &name).await?))
}

/// Removes a member (the owner removes anyone else; a member may remove themselves). Their
/// polls on the room end `disconnected` at once.
#[utoipa::path(
    delete, path = "/api/rooms/{room}/members/{name}", tag = "rooms",
    params(("room" = String, Path, description = "The room"), ("name" = String, Path, description = "The member to remove")),
    responses(
        (status = 200, description = "The room's people now", body = RoomMembers),
        (status = 400, description = "Malformed name, or the owner removing themselves", body = ErrorBody),
        (status = 401, description = "Not signed in, or a bad token", body = ErrorBody),
        (status = 403, description = "A member removing someone else", body = ErrorBody),
        (status = 404, description = "No such private room for the caller, or not a member", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn remove_member(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath((room, name)): ApiPath<(String, String)>,
) -> Result<Json<RoomMembers>, ChatError> {
    let room = RoomName::parse(&room)?;
    Ok(Json(chat.remove_member(&caller, &room, &name).await?))
}
