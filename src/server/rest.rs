//! The REST adapter for curl and scripts: `/api/*` and `/health`. Each handler extracts its
//! input, lets `model` validate it, calls the broker, and serializes the answer. Every error,
//! including the extractors' rejections and unknown routes, is answered as
//! `{"status":"error","detail":"..."}` with the status [`ChatError`] documents (panics too,
//! by the app's outer layers: see `server::app`).

use std::borrow::Cow;

use axum::{
    extract::{
        rejection::{JsonRejection, PathRejection, QueryRejection},
        DefaultBodyLimit, FromRequest, FromRequestParts, OriginalUri, State,
    },
    http::{header, request::Parts, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::{any, delete, get, post},
    Json, Router,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
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
        ClientId, History, HistoryQuery, PollQuery, PollRequest, PollResponse, SendBody,
        SendReceipt, Stats,
    },
};

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

/// `/health` and the `/api` endpoints, with JSON errors for everything under `/api`, plus their
/// OpenAPI document (`/openapi.json`), Swagger UI (`/docs`) and ReDoc (`/redoc`), served on
/// their own: with [`layers`] around them.
pub fn router(broker: Broker, limits: Limits) -> Router {
    routes(broker).layer(layers(limits))
}

/// What every REST answer passes through: `Cache-Control: no-store` on JSON answers (a poll's
/// or the counters' answer is never fresh twice) and the request body limit. The app adds
/// these to its own layer stack instead (see `server::app`): each `Router::layer` call wraps
/// every route once more, and a second one cost each held poll 0.4 KiB and each poll 3 % more
/// instructions (bench memory scenario; callgrind on its 1,000-poll fan-out).
pub fn layers(
    limits: Limits,
) -> ServiceBuilder<Stack<DefaultBodyLimit, Stack<SetResponseHeaderLayer<NoStoreIfJson>, Identity>>>
{
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

/// The REST routes without [`layers`].
pub fn routes(broker: Broker) -> Router {
    // Full paths rather than `nest("/api", ...)`, which rebuilds every request's URI.
    let api = Router::new()
        .route("/api/poll", get(poll))
        .route("/api/send", post(send))
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

/// `axum::Json` whose rejections are [`ChatError`]s.
#[derive(FromRequest)]
#[from_request(via(Json), rejection(ChatError))]
struct ApiJson<T>(T);

/// A JSON body that must be an object: serde would otherwise read a struct from an array.
#[derive(Deserialize)]
struct JsonObject(serde_json::Map<String, serde_json::Value>);

impl JsonObject {
    fn into_typed<T: DeserializeOwned>(self) -> Result<T, ChatError> {
        serde_json::from_value(serde_json::Value::Object(self.0))
            .map_err(|error| ChatError::invalid(format!("invalid JSON body: {error}")))
    }
}

/// `axum::extract::Query` whose rejections are [`ChatError`]s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ChatError))]
struct ApiQuery<T>(T);

/// `GET /api/poll`'s query, validated. Polls are most of the traffic, and their queries rarely
/// hold anything to decode: those are split in place rather than decoded byte by byte (a tenth
/// of the server's instructions per poll in `make bench`), and read without copies until the
/// validated request takes what it keeps. A held poll's future holds only that request.
struct PollParams(PollRequest);

impl<S: Send + Sync> FromRequestParts<S> for PollParams {
    type Rejection = ChatError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ChatError> {
        let query = PollQuery::from_pairs(query_pairs(parts.uri.query().unwrap_or_default()))?;
        query.validate().map(Self)
    }
}

/// The `name=value` pairs of a query string, decoded as `application/x-www-form-urlencoded`.
/// Searched as bytes with `memchr`, not as chars: every separator is ASCII, so cutting at one
/// is a char boundary.
fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    let encoded = memchr::memchr2(b'%', b'+', query.as_bytes()).is_some();
    let decoded = encoded.then(|| form_urlencoded::parse(query.as_bytes()));
    let plain = (!encoded).then(|| {
        split_at_each(query, b'&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| split_once_at(pair, b'=').unwrap_or((pair, "")))
            .map(|(name, value)| (Cow::Borrowed(name), Cow::Borrowed(value)))
    });
    decoded
        .into_iter()
        .flatten()
        .chain(plain.into_iter().flatten())
}

/// `str::split` for an ASCII separator.
fn split_at_each(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest.take()?;
        let Some((piece, after)) = split_once_at(current, separator) else {
            return Some(current);
        };
        rest = Some(after);
        Some(piece)
    })
}

/// `str::split_once` for an ASCII separator.
fn split_once_at(text: &str, separator: u8) -> Option<(&str, &str)> {
    let at = memchr::memchr(separator, text.as_bytes())?;
    Some((&text[..at], &text[at + 1..]))
}

/// `axum::extract::Path` whose rejections are [`ChatError`]s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ChatError))]
struct ApiPath<T>(T);

/// Holds until the room has a message the client has not seen, or the timeout.
#[utoipa::path(
    get, path = "/api/poll", params(PollQuery),
    responses(
        (status = 200, description = "Messages (`success`, possibly with `reset`), or `timeout`, `superseded`, `disconnected`", body = PollResponse),
        (status = 400, description = "A parameter is missing, malformed or out of range", body = ErrorBody),
        (status = 503, description = "Too many held polls (see Retry-After)", body = ErrorBody,
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
        (status = 400, description = "Malformed JSON or an invalid field", body = ErrorBody),
        (status = 413, description = "Body larger than the limit", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 429, description = "Sending too fast (see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The store cannot take messages", body = ErrorBody),
    )
)]
async fn send(
    State(broker): State<Broker>,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Json<SendReceipt>, ChatError> {
    let request = body.into_typed::<SendBody>()?.validate()?;
    Ok(Json(broker.send(request).await?))
}

/// A room's most recent messages, oldest first.
#[utoipa::path(
    get, path = "/api/history", params(HistoryQuery),
    responses(
        (status = 200, description = "The messages", body = History),
        (status = 400, description = "A parameter is malformed or out of range", body = ErrorBody),
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
    params(("client_id" = String, Path, description = "The client to disconnect")),
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

impl From<JsonRejection> for ChatError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            rejection if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::PayloadTooLarge
            }
            rejection => Self::InvalidInput(rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for ChatError {
    fn from(rejection: QueryRejection) -> Self {
        Self::InvalidInput(rejection.body_text())
    }
}

impl From<PathRejection> for ChatError {
    fn from(rejection: PathRejection) -> Self {
        Self::InvalidInput(rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn query_pairs_decode_like_form_urlencoded(query in "[a-z0-9=&%+_.:é-]{0,40}") {
            let expected: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
            prop_assert_eq!(query_pairs(&query).collect::<Vec<_>>(), expected);
        }

        #[test]
        fn ascii_splits_match_the_standard_ones(text in "[a&=é]{0,12}") {
            let pieces: Vec<_> = split_at_each(&text, b'&').collect();
            prop_assert_eq!(pieces, text.split('&').collect::<Vec<_>>());
            prop_assert_eq!(split_once_at(&text, b'='), text.split_once('='));
        }
    }

    #[test]
    fn poll_queries_read_their_parameters_once_each() {
        let query = |text| PollQuery::from_pairs(query_pairs(text));
        assert_eq!(
            query("client_id=a&room=r%20x&timeout=9&last_message_id=&other=1").unwrap(),
            PollQuery {
                client_id: Some("a".into()),
                room: Some("r x".into()),
                last_message_id: Some("".into()),
                timeout: Some("9".into()),
            }
        );
        assert_eq!(query("").unwrap(), PollQuery::default());
        // Nothing to decode: the values are the query's own bytes, not copies.
        let plain = query("client_id=a&room=r").unwrap();
        assert!(matches!(plain.client_id, Some(Cow::Borrowed("a"))));
        assert!(matches!(plain.room, Some(Cow::Borrowed("r"))));
        let repeated = query("room=a&room=b").unwrap_err().to_string();
        assert!(repeated.contains("duplicate field `room`"), "{repeated}");
    }
}
