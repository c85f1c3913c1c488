//! The REST adapter for curl and scripts: `/api/*` and `/health`. Each handler extracts its
//! input, lets `model` validate it, calls the broker, and serializes the answer. Every error,
//! including the extractors' rejections and unknown routes, is answered as
//! `{"status":"error","detail":"..."}` with the status [`ChatError`] documents (panics too,
//! by the app's outer layers: see `crate::site`).
//!
//! - this module: routes, handlers, their OpenAPI description, the layers every answer needs;
//! - `extract`: extractors whose rejections are [`ChatError`]s;
//! - `query`: the poll's fast query-string reader;
//! - `reads`: `/api/me/rooms`, an account's joined rooms, read positions and unread counts;
//! - `messages`: `/api/messages/{id}`, edits, deletions and reactions;
//! - `live`: `/api/rooms/{room}/online` and `/typing`, presence and typing.

mod extract;
mod live;
mod messages;
mod query;
mod reads;

use axum::{
    extract::{DefaultBodyLimit, OriginalUri, State},
    http::{header, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::{any, delete, get, post, put},
    Json, Router,
};
use serde::Serialize;
use tower::{
    layer::util::{Identity, Stack},
    ServiceBuilder,
};
use tower_http::set_header::{MakeHeaderValue, SetResponseHeaderLayer};
use utoipa::{OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use super::chat::Chat;
use crate::{
    error::ChatError,
    model::{
        Account, ClientId, CreateRoomBody, Credentials, History, HistoryQuery, Me, PollQuery,
        PollResponse, RoomInfo, RoomList, RoomMembers, RoomName, SendBody, SendReceipt,
        SessionCreated, Stats, StreamBody, StreamResponse,
    },
};
pub use extract::{caller_of, cleared_session_cookie, session_cookie, ApiCaller, SESSION_COOKIE};
use extract::{ApiJson, ApiPath, ApiQuery, JsonObject, PollParams};

/// Request limits of the REST API.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted request body, in bytes (larger ones get 413).
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
        }
    }
}

/// The OpenAPI 3.1 description of this module's endpoints, served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "longpoll-chat",
        description = "A chat over HTTP long polling."
    ),
    paths(
        poll, stream, send, history, stats, disconnect, health, ready, sign_up, sign_in, sign_out,
        me, rooms, create_room, delete_room, members, add_member, remove_member,
        reads::joined_rooms, reads::mark_read, reads::leave_room, messages::edit_message,
        messages::delete_message, messages::add_reaction, messages::remove_reaction, live::online,
        live::typing
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// The layers of [`layers`], outermost last.
pub type RestLayers =
    ServiceBuilder<Stack<DefaultBodyLimit, Stack<SetResponseHeaderLayer<NoStoreIfJson>, Identity>>>;

/// What every REST answer passes through: `Cache-Control: no-store` on JSON answers (a poll's
/// or the counters' answer is never fresh twice) and the request body limit. Returned for the
/// app to add to its own one layer stack (see `crate::site`) rather than wrapped around
/// [`routes`] here: each `Router::layer` call wraps every route once more, which every held
/// poll pays for in memory.
pub fn layers(limits: Limits) -> RestLayers {
    ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            NoStoreIfJson,
        ))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
}

/// `Cache-Control: no-store` for JSON answers; pages and static files keep their own rules.
#[derive(Clone, Copy)]
pub struct NoStoreIfJson;

impl<B> MakeHeaderValue<axum::http::Response<B>> for NoStoreIfJson {
    fn make_header_value(&mut self, response: &axum::http::Response<B>) -> Option<HeaderValue> {
        let json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|kind| kind.as_bytes().starts_with(b"application/json"));
        json.then(|| HeaderValue::from_static("no-store"))
    }
}

/// `/health` and the `/api` endpoints, with JSON errors for everything under `/api`, plus their
/// OpenAPI document (`/openapi.json`), Swagger UI (`/docs`) and ReDoc (`/redoc`); without
/// [`layers`].
pub fn routes(chat: Chat) -> Router {
    // Full paths rather than `nest("/api", ...)`, which rebuilds every request's URI.
    let api = Router::new()
        .route("/api/poll", get(poll))
        .route("/api/stream", post(stream))
        .route("/api/send", post(send))
        .route("/api/history", get(history))
        .route("/api/stats", get(stats))
        .route("/api/client/{client_id}", delete(disconnect))
        .route("/api/accounts", post(sign_up))
        .route("/api/sessions", post(sign_in))
        .route("/api/sessions/current", delete(sign_out))
        .route("/api/me", get(me))
        .route("/api/rooms", get(rooms).post(create_room))
        .route("/api/rooms/{room}", delete(delete_room))
        .route("/api/rooms/{room}/members", get(members))
        .route(
            "/api/rooms/{room}/members/{name}",
            put(add_member).delete(remove_member),
        )
        .merge(reads::routes())
        .merge(messages::routes())
        .merge(live::routes())
        .route("/api", any(no_route))
        .route("/api/", any(no_route))
        .route("/api/{*rest}", any(no_route))
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .route("/health", get(health))
        .route("/health/ready", get(ready))
        .route("/redoc", get(redoc))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .merge(api)
        .with_state(chat)
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
async fn poll(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    PollParams(request): PollParams,
) -> Result<Response, ChatError> {
    let answer = chat.poll(&caller, request).await?;
    let json = HeaderValue::from_static("application/json");
    Ok(([(header::CONTENT_TYPE, json)], answer.to_json()?).into_response())
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
async fn stream(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Json<StreamResponse>, ChatError> {
    let request = body.into_typed::<StreamBody>()?.validate()?;
    Ok(Json(chat.stream(&caller, request).await?))
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
async fn send(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Json<SendReceipt>, ChatError> {
    let draft = body.into_typed::<SendBody>()?.validate()?;
    Ok(Json(chat.send(&caller, draft).await?))
}

/// A room's most recent messages, oldest first.
#[utoipa::path(
    get, path = "/api/history", params(HistoryQuery),
    responses(
        (status = 200, description = "The messages", body = History),
        (status = 400, description = "A parameter is malformed, repeated or out of range", body = ErrorBody),
        (status = 401, description = "A bad token, or no identity on a server without guests", body = ErrorBody),
        (status = 404, description = "A private room the caller may not see", body = ErrorBody),
    )
)]
async fn history(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<History>, ChatError> {
    Ok(Json(chat.history(&caller, &query.validate()?)?))
}

/// Server-wide counters, over the rooms the caller may see.
#[utoipa::path(get, path = "/api/stats", responses(
    (status = 200, description = "Counters", body = Stats),
    (status = 401, description = "No identity, and the server has no guests (`--guests off`), or a bad token", body = ErrorBody),
))]
async fn stats(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Stats>, ChatError> {
    Ok(Json(chat.stats(&caller).await?))
}

#[derive(Serialize, ToSchema)]
struct Disconnected {
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
async fn disconnect(
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

#[derive(Serialize, ToSchema)]
struct Health {
    status: &'static str,
}

/// Liveness: the server answers and its store works.
#[utoipa::path(
    get, path = "/health",
    responses(
        (status = 200, description = "Working", body = Health),
        (status = 503, description = "The store fails", body = ErrorBody),
    )
)]
async fn health(State(chat): State<Chat>) -> Result<Json<Health>, ChatError> {
    chat.broker().check_store().await?;
    Ok(Json(Health { status: "ok" }))
}

/// Ready for traffic: the store answers and the server is not shutting down.
#[utoipa::path(
    get, path = "/health/ready",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The store fails or the server is shutting down", body = ErrorBody),
    )
)]
async fn ready(State(chat): State<Chat>) -> Result<Json<Health>, ChatError> {
    chat.broker().check_ready().await?;
    Ok(Json(Health { status: "ready" }))
}

/// Creates an account.
#[utoipa::path(
    post, path = "/api/accounts", request_body = Credentials, tag = "identity",
    responses(
        (status = 201, description = "Created; sign in to get a session", body = Account),
        (status = 400, description = "Malformed name or password (at least 8 characters)", body = ErrorBody),
        (status = 401, description = "A bad token: signing up needs none", body = ErrorBody),
        (status = 403, description = "Sign-up is off on this server (`--sign-up off`): its operator creates the accounts", body = ErrorBody),
        (status = 409, description = "An account of that name exists, in some letter case", body = ErrorBody),
        (status = 415, description = "Content type not `application/json`", body = ErrorBody),
        (status = 429, description = "Too many sign-ups from this address (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Too many sign-ups on the server, or too many passwords waiting to be hashed (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
async fn sign_up(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<(StatusCode, Json<Account>), ChatError> {
    let body = body.into_typed::<Credentials>()?;
    let account = chat.sign_up(&caller, &body.name, &body.password).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Signs in: a session token for `Authorization: Bearer`, and the same as a cookie.
#[utoipa::path(
    post, path = "/api/sessions", request_body = Credentials, tag = "identity",
    responses(
        (status = 201, description = "Signed in; `Set-Cookie` carries the session too", body = SessionCreated),
        (status = 400, description = "Not a JSON object with string `name` and `password`", body = ErrorBody),
        (status = 401, description = "Wrong name or password (the same answer for both), or a malformed Authorization header", body = ErrorBody),
        (status = 415, description = "Content type not `application/json`", body = ErrorBody),
        (status = 429, description = "Too many attempts for this name or from this address (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Too many passwords waiting to be checked (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
async fn sign_in(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Response, ChatError> {
    let body = body.into_typed::<Credentials>()?;
    let session = chat.sign_in(&caller, &body.name, &body.password).await?;
    let max_age = (session.expires_at - crate::server::clock::unix_seconds()).max(0.0) as u64;
    let cookie = session_cookie(&session.token, max_age, chat.identity().config().https);
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, cookie)],
        Json(session),
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
struct SignedOut {
    /// Always `"signed_out"`.
    status: &'static str,
}

/// Signs out: the session ends on every instance, and the cookie is cleared.
#[utoipa::path(
    delete, path = "/api/sessions/current", tag = "identity",
    responses(
        (status = 200, description = "Signed out", body = SignedOut),
        (status = 401, description = "Not signed in, or an invalid token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn sign_out(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
) -> Result<Response, ChatError> {
    chat.sign_out(&caller).await?;
    let cookie = cleared_session_cookie(chat.identity().config().https);
    let body = SignedOut {
        status: "signed_out",
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// Who the request is.
#[utoipa::path(
    get, path = "/api/me", tag = "identity",
    responses(
        (status = 200, description = "The signed-in user", body = Me),
        (status = 401, description = "No identity, or an invalid, expired or revoked token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn me(State(chat): State<Chat>, ApiCaller(caller): ApiCaller) -> Result<Json<Me>, ChatError> {
    Ok(Json(chat.me(&caller)?))
}

/// The rooms the caller may see: public rooms in use, and their own private ones.
#[utoipa::path(
    get, path = "/api/rooms", tag = "rooms",
    responses(
        (status = 200, description = "The rooms, by name", body = RoomList),
        (status = 401, description = "No identity on a server without guests, or a bad token", body = ErrorBody),
    )
)]
async fn rooms(
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
async fn create_room(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<(StatusCode, Json<RoomInfo>), ChatError> {
    let body = body.into_typed::<CreateRoomBody>()?;
    let room = RoomName::parse(&body.name)?;
    let created = chat.create_room(&caller, room, body.private).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Serialize, ToSchema)]
struct RoomDeleted {
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
async fn delete_room(
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
async fn members(
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
async fn add_member(
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
async fn remove_member(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath((room, name)): ApiPath<(String, String)>,
) -> Result<Json<RoomMembers>, ChatError> {
    let room = RoomName::parse(&room)?;
    Ok(Json(chat.remove_member(&caller, &room, &name).await?))
}

/// Documents `Authorization: Bearer TOKEN` (a session token or another app's JWT).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// ReDoc, loading its bundle from this server (copied from npm's `redoc` package at build).
async fn redoc() -> Html<&'static str> {
    Html(
        r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>longpoll-chat API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/openapi.json"></redoc><script src="/redoc.standalone.js"></script></body>
</html>"#,
    )
}

async fn no_route(OriginalUri(uri): OriginalUri) -> ChatError {
    ChatError::NoRoute(uri.path().to_owned())
}

async fn method_not_allowed() -> ChatError {
    ChatError::MethodNotAllowed
}

/// Every error answer.
#[derive(Serialize, ToSchema)]
struct ErrorBody {
    /// Always `"error"`.
    status: &'static str,
    detail: String,
}

impl IntoResponse for ChatError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after_secs();
        let body = ErrorBody {
            status: "error",
            detail: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
