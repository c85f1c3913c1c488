//! `/api/rooms/{room}/online` and `/api/rooms/{room}/typing`: who is in a room and who is
//! typing there. Streams that ask for it (`live_version`) get the same as it changes, with no
//! request of their own; these are for scripts and for the typing signal itself.

use axum::{
    extract::State,
    routing::{get, post},
    Json, Router,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    extract::{ApiCaller, ApiPath},
    ErrorBody,
};
use crate::{
    error::ChatError,
    model::{LiveState, RoomName},
    server::chat::Chat,
};

/// The routes of this module, for [`super::routes`].
pub(super) fn routes() -> Router<Chat> {
    Router::new()
        .route("/api/rooms/{room}/online", get(online))
        .route("/api/rooms/{room}/typing", post(typing))
}

/// Who is online in the room (their stream follows it, or did within the grace period) and
/// who is typing there.
#[utoipa::path(
    get, path = "/api/rooms/{room}/online", tag = "live",
    params(("room" = String, Path, description = "The room")),
    responses(
        (status = 200, description = "Who is there now", body = LiveState),
        (status = 400, description = "Malformed room name", body = ErrorBody),
        (status = 401, description = "A bad token, or a server without guests", body = ErrorBody),
        (status = 404, description = "A private room the caller may not see", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub(super) async fn online(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<LiveState>, ChatError> {
    let room = RoomName::parse(&room)?;
    Ok(Json(chat.online(&caller, &room)?))
}

#[derive(Serialize, ToSchema)]
pub(super) struct TypingNoted {
    /// Always `"ok"`.
    status: &'static str,
}

/// Says the caller is typing in the room: its streams show it within a fraction of a second,
/// for 6 seconds after the last signal or until the caller's message is sent. Send it at most
/// every 3 seconds while typing. Nothing is stored.
#[utoipa::path(
    post, path = "/api/rooms/{room}/typing", tag = "live",
    params(("room" = String, Path, description = "The room")),
    responses(
        (status = 200, description = "Noted", body = TypingNoted),
        (status = 400, description = "Malformed room name", body = ErrorBody),
        (status = 401, description = "Not signed in (guests do not show as typing), or a bad token", body = ErrorBody),
        (status = 404, description = "A private room the caller may not see", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn typing(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<TypingNoted>, ChatError> {
    let room = RoomName::parse(&room)?;
    chat.typing(&caller, &room)?;
    Ok(Json(TypingNoted { status: "ok" }))
}
