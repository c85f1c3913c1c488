//! `/api/poll`, `/api/stream`, `/api/history`, `/api/stats` and `DELETE /api/client/{id}`:
//! reading a room's log and what the server holds. Who may read what is [`Chat`]'s.

use axum::{
    extract::State,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
    Json, Router,
};
use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    extract::{ApiCaller, ApiJson, ApiPath, ApiQuery, JsonObject, PollParams},
    ErrorBody,
};
use crate::{
    error::ChatError,
    model::{
        ClientId, History, HistoryQuery, PollQuery, PollResponse, Stats, StreamBody, StreamResponse,
    },
    server::chat::Chat,
};

/// The routes of this module, for [`super::routes`].
pub(super) fn routes() -> Router<Chat> {
    Router::new()
        .route("/api/poll", get(poll))
        .route("/api/stream", post(stream))
        .route("/api/history", get(history))
        .route("/api/stats", get(stats))
        .route("/api/client/{client_id}", delete(disconnect))
}

/// Holds until the room has a message the client has not seen, or the timeout.
#[utoipa::path(
    get, path = "/api/poll", params(PollQuery),
    responses(
        (status = 200, description = "Messages (`success`, possibly with `reset`), or `timeout`, `superseded`, `disconnected`", body = PollResponse),
        (status = 400, description = "A parameter is missing, malformed, repeated or out of range", body = ErrorBody),
        (status = 401, description = "A bad token, or no identity on a server without guests", body = ErrorBody),
        (status = 404, description = "A private room the caller may not see, or a `client_id` someone else holds (`unknown client_id`)", body = ErrorBody),
        (status = 503, description = "Too many held polls on the server, for this client, person or guest address (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub(super) async fn poll(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    PollParams(request): PollParams,
) -> Result<Response, ChatError> {
    let answer = chat.poll(&caller, request).await?;
    Ok(json_body(answer.to_json()?))
}

/// Holds one request for many rooms, each with its own cursor, until any of them has news.
///
/// The body is JSON so that a hundred rooms and their cursors never meet a proxy's URL limit.
/// One stream per `client_id`: a newer one answers the older `superseded`. Each room with news
/// is answered by `GET /api/poll`'s rules; a private room the caller may not read (or no
/// longer may, or deleted) is answered `unavailable` and is not followed.
#[utoipa::path(
    post, path = "/api/stream", request_body = StreamBody,
    responses(
        (status = 200, description = "The rooms with news (`success`), or `timeout`, `superseded`, `disconnected`", body = StreamResponse),
        (status = 400, description = "Malformed JSON, not an object, or a missing or invalid field (no rooms, too many, one twice)", body = ErrorBody),
        (status = 401, description = "A bad token, or no identity on a server without guests", body = ErrorBody),
        (status = 404, description = "A `client_id` someone else holds (`unknown client_id`)", body = ErrorBody),
        (status = 413, description = "Body larger than the server's limit (`--max-body-bytes`)", body = ErrorBody),
        (status = 415, description = "Content type not `application/json` (or another `application/*+json`)", body = ErrorBody),
        (status = 503, description = "Too many held polls on the server, for this client, person or guest address (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub(super) async fn stream(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Response, ChatError> {
    let request = body.into_typed::<StreamBody>()?.validate()?;
    let answer = chat.stream(&caller, request).await?;
    Ok(json_body(answer.to_json()?))
}

/// A poll's or stream's answer, serialized already, as the response.
fn json_body(json: Bytes) -> Response {
    let content_type = HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, content_type)], json).into_response()
}

/// A room's most recent messages, oldest first; with `around`, the messages around that one
/// (half before it, half after), where a search result opens.
#[utoipa::path(
    get, path = "/api/history", params(HistoryQuery),
    responses(
        (status = 200, description = "The messages", body = History),
        (status = 400, description = "A parameter is malformed, repeated or out of range", body = ErrorBody),
        (status = 401, description = "A bad token, or no identity on a server without guests", body = ErrorBody),
        (status = 404, description = "A private room the caller may not see, or an `around` message the room does not keep", body = ErrorBody),
    )
)]
pub(super) async fn history(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<History>, ChatError> {
    Ok(Json(chat.history(&caller, &query.validate()?).await?))
}

/// Server-wide counters, over the rooms the caller may see.
#[utoipa::path(get, path = "/api/stats", responses(
    (status = 200, description = "Counters", body = Stats),
    (status = 401, description = "No identity, and the server has no guests (`--guests off`), or a bad token", body = ErrorBody),
))]
pub(super) async fn stats(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Stats>, ChatError> {
    Ok(Json(chat.stats(&caller).await?))
}

#[derive(Serialize, ToSchema)]
pub(super) struct Disconnected {
    status: &'static str,
    #[schema(value_type = String)]
    client_id: ClientId,
    polls_answered: usize,
}

/// Answers every poll the client holds with `disconnected` and forgets the client.
#[utoipa::path(
    delete, path = "/api/client/{client_id}",
    params(("client_id" = String, Path, pattern = "^[A-Za-z0-9._:-]+$", max_length = 128,
        description = "The client to disconnect: 1–128 characters of `A-Z a-z 0-9 - _ . :`")),
    responses(
        (status = 200, description = "Disconnected", body = Disconnected),
        (status = 400, description = "Not a valid client id", body = ErrorBody),
        (status = 401, description = "A bad token, or no identity on a server without guests", body = ErrorBody),
        (status = 404, description = "Unknown client, or someone else's: a client id belongs to whoever first held it until it goes idle", body = ErrorBody),
    )
)]
pub(super) async fn disconnect(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath(client_id): ApiPath<String>,
) -> Result<Json<Disconnected>, ChatError> {
    let client_id = ClientId::parse(&client_id)?;
    let polls_answered = chat.disconnect(&caller, &client_id).await?;
    Ok(Json(Disconnected {
        status: "disconnected",
        client_id,
        polls_answered,
    }))
}
