//! The REST adapter for curl and scripts: `/api/*` and `/health`. Each handler extracts its
//! input, lets `model` validate it, calls [`Chat`], and serializes the answer. Every error,
//! including the extractors' rejections and unknown routes, is answered as
//! `{"status":"error","detail":"..."}` with the status [`ChatError`] documents (panics too,
//! by the app's outer layers: see `crate::site`).
//!
//! One file per area, as `server::chat` has one per concern:
//! - this module: the route table, the OpenAPI description, the layers every answer needs and
//!   the error answer;
//! - `delivery`: `/api/poll`, `/api/stream`, `/api/history`, `/api/stats`, `/api/client/{id}`;
//! - `messages`: `/api/send` and `/api/messages/{id}`, edits, deletions and reactions;
//! - `rooms`: `/api/rooms`, private rooms and their members, `/api/dms`;
//! - `reads`: `/api/me/rooms`, an account's joined rooms, read positions and unread counts;
//! - `accounts`: `/api/accounts`, `/api/sessions`, `/api/me`;
//! - `presence`: `/api/rooms/{room}/online` and `/typing`;
//! - `search`: `/api/search`;
//! - `push`: `/api/push/key`, `/api/me/push-subscriptions`;
//! - `files`: `/api/rooms/{room}/files`, uploading and fetching files;
//! - `health`: `/health` and `/health/ready`;
//! - `extract`: extractors whose rejections are [`ChatError`]s; `query`: the poll's fast
//!   query-string reader.

mod accounts;
mod delivery;
mod extract;
mod files;
mod health;
mod messages;
mod presence;
mod push;
mod query;
mod reads;
mod rooms;
mod search;

use axum::{
    extract::{DefaultBodyLimit, OriginalUri},
    http::{header, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::{any, get},
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

use crate::{error::ChatError, server::chat::Chat};

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
        delivery::poll, delivery::stream, messages::send, delivery::history, delivery::stats,
        delivery::disconnect, health::health, health::ready, accounts::sign_up,
        accounts::sign_in, accounts::sign_out, accounts::me, rooms::rooms, rooms::create_room, rooms::direct_room,
        rooms::delete_room, rooms::members, rooms::add_member, rooms::remove_member,
        reads::joined_rooms, reads::mentions, reads::mark_read, reads::leave_room, messages::edit_message,
        messages::delete_message, messages::add_reaction, messages::remove_reaction,
        presence::online, presence::typing, search::search, push::key, push::subscribe,
        push::unsubscribe, files::upload, files::file, files::thumbnail
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
        .merge(delivery::routes())
        .merge(messages::routes())
        .merge(rooms::routes())
        .merge(accounts::routes())
        .merge(reads::routes())
        .merge(presence::routes())
        .merge(search::routes())
        .merge(push::routes())
        .merge(files::routes())
        .route("/api", any(no_route))
        .route("/api/", any(no_route))
        .route("/api/{*rest}", any(no_route))
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .merge(health::routes())
        .route("/redoc", get(redoc))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .merge(api)
        .with_state(chat)
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
