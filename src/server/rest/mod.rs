//! The REST adapter for curl and scripts: `/api/*` and `/health`. Each handler extracts its
//! input, lets `model` validate it, calls the broker, and serializes the answer. Every error,
//! including the extractors' rejections and unknown routes, is answered as
//! `{"status":"error","detail":"..."}` with the status [`ChatError`] documents (panics too,
//! by the app's outer layers: see `crate::site`).
//!
//! - this module: routes, handlers, their OpenAPI description, the layers every answer needs;
//! - `extract`: extractors whose rejections are [`ChatError`]s;
//! - `query`: the poll's fast query-string reader.

mod extract;
mod query;

use axum::{
    extract::{DefaultBodyLimit, OriginalUri, State},
    http::{header, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::{any, delete, get, post},
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

use super::Broker;
use crate::{
    error::ChatError,
    model::{
        ClientId, History, HistoryQuery, PollQuery, PollResponse, SendBody, SendReceipt, Stats,
    },
};
use extract::{ApiJson, ApiPath, ApiQuery, JsonObject, PollParams};

/// The endpoint that sends a message (the send rate limit matches it).
pub const SEND_PATH: &str = "/api/send";

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
    paths(poll, send, history, stats, disconnect, health, ready)
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
pub fn routes(broker: Broker) -> Router {
    // Full paths rather than `nest("/api", ...)`, which rebuilds every request's URI.
    let api = Router::new()
        .route("/api/poll", get(poll))
        .route(SEND_PATH, post(send))
        .route("/api/history", get(history))
        .route("/api/stats", get(stats))
        .route("/api/client/{client_id}", delete(disconnect))
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
        .with_state(broker)
}

/// Holds until the room has a message the client has not seen, or the timeout.
#[utoipa::path(
    get, path = "/api/poll", params(PollQuery),
    responses(
        (status = 200, description = "Messages (`success`, possibly with `reset`), or `timeout`, `superseded`, `disconnected`", body = PollResponse),
        (status = 400, description = "A parameter is missing, malformed, repeated or out of range", body = ErrorBody),
        (status = 503, description = "Too many held polls on the server or for this client (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
async fn poll(
    State(broker): State<Broker>,
    PollParams(request): PollParams,
) -> Result<Response, ChatError> {
    let answer = broker.poll(request).await?;
    let json = HeaderValue::from_static("application/json");
    Ok(([(header::CONTENT_TYPE, json)], answer.to_json()?).into_response())
}

/// Stores a message and wakes every poll held on its room.
#[utoipa::path(
    post, path = "/api/send", request_body = SendBody,
    responses(
        (status = 200, description = "Stored and delivered", body = SendReceipt),
        (status = 400, description = "Malformed JSON, not an object, or a missing or invalid field", body = ErrorBody),
        (status = 413, description = "Body larger than the server's limit (`--max-body-bytes`)", body = ErrorBody),
        (status = 415, description = "Content type not `application/json` (or another `application/*+json`)", body = ErrorBody),
        (status = 429, description = "Sending too fast (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The store cannot take messages", body = ErrorBody),
    )
)]
async fn send(
    State(broker): State<Broker>,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Json<SendReceipt>, ChatError> {
    let draft = body.into_typed::<SendBody>()?.validate()?;
    let sender = draft
        .sender
        .clone()
        .ok_or_else(|| ChatError::invalid("missing field `sender`"))?;
    Ok(Json(broker.send(draft.sent_by(sender, false)).await?))
}

/// A room's most recent messages, oldest first.
#[utoipa::path(
    get, path = "/api/history", params(HistoryQuery),
    responses(
        (status = 200, description = "The messages", body = History),
        (status = 400, description = "A parameter is malformed, repeated or out of range", body = ErrorBody),
    )
)]
async fn history(
    State(broker): State<Broker>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<History>, ChatError> {
    Ok(Json(broker.history(&query.validate()?)))
}

/// Server-wide counters.
#[utoipa::path(get, path = "/api/stats", responses((status = 200, description = "Counters", body = Stats)))]
async fn stats(State(broker): State<Broker>) -> Json<Stats> {
    Json(broker.stats().await)
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
        (status = 404, description = "Unknown client", body = ErrorBody),
    )
)]
async fn disconnect(
    State(broker): State<Broker>,
    ApiPath(client_id): ApiPath<String>,
) -> Result<Json<Disconnected>, ChatError> {
    let client_id = ClientId::parse(&client_id)?;
    let polls_answered = broker.disconnect(&client_id).await?;
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
async fn health(State(broker): State<Broker>) -> Result<Json<Health>, ChatError> {
    broker.check_store().await?;
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
async fn ready(State(broker): State<Broker>) -> Result<Json<Health>, ChatError> {
    broker.check_ready().await?;
    Ok(Json(Health { status: "ready" }))
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
