//! `/api/accounts`, `/api/sessions` and `/api/me`: signing up, in and out, and who the
//! request is. The session cookie is [`crate::server::http::caller`]'s.

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
    Json, Router,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    extract::{ApiCaller, ApiJson, JsonObject},
    ErrorBody,
};
use crate::{
    error::ChatError,
    model::{Account, Credentials, Me, SessionCreated},
    server::{
        chat::Chat,
        http::caller::{cleared_session_cookie, session_cookie},
    },
};

/// The routes of this module, for [`super::routes`].
pub(super) fn routes() -> Router<Chat> {
    Router::new()
        .route("/api/accounts", post(sign_up))
        .route("/api/sessions", post(sign_in))
        .route("/api/sessions/current", delete(sign_out))
        .route("/api/me", get(me))
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
pub(super) async fn sign_up(
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
pub(super) async fn sign_in(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Response, ChatError> {
    let body = body.into_typed::<Credentials>()?;
    let session = chat.sign_in(&caller, &body.name, &body.password).await?;
    let cookie = session_cookie(&chat, &session);
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, cookie)],
        Json(session),
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
pub(super) struct SignedOut {
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
pub(super) async fn sign_out(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
) -> Result<Response, ChatError> {
    chat.sign_out(&caller).await?;
    let cookie = cleared_session_cookie(&chat);
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
pub(super) async fn me(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Me>, ChatError> {
    Ok(Json(chat.me(&caller)?))
}
