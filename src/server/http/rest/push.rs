//! `/api/push/key` and `/api/me/push-subscriptions`: Web Push. Who may subscribe is [`Chat`]'s;
//! which endpoints may be pushed to and who hears of what is `server::push`'s.

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
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
    model::{PushKey, PushSubscriptionBody, PushUnsubscribeBody},
    server::chat::Chat,
};

/// The routes of this module, for [`super::routes`].
pub(super) fn routes() -> Router<Chat> {
    Router::new().route("/api/push/key", get(key)).route(
        "/api/me/push-subscriptions",
        post(subscribe).delete(unsubscribe),
    )
}

/// The server's VAPID public key: what a browser subscribes with (`applicationServerKey`).
#[utoipa::path(
    get, path = "/api/push/key", tag = "push",
    responses(
        (status = 200, description = "The key", body = PushKey),
        (status = 404, description = "Web Push is off on this server", body = ErrorBody),
    )
)]
pub(super) async fn key(State(chat): State<Chat>) -> Result<Json<PushKey>, ChatError> {
    Ok(Json(chat.push_key()?))
}

#[derive(Serialize, ToSchema)]
pub(super) struct Subscribed {
    /// Always `"subscribed"`.
    status: &'static str,
}

/// Keeps this browser's push subscription (`PushSubscription.toJSON()`) for the caller's
/// account, until it is deleted or the session ends (signing out ends it).
#[utoipa::path(
    post, path = "/api/me/push-subscriptions", tag = "push", request_body = PushSubscriptionBody,
    responses(
        (status = 201, description = "Kept", body = Subscribed),
        (status = 200, description = "Kept already (kept again, for this session)", body = Subscribed),
        (status = 400, description = "The endpoint is not an https URL on a public address, or a key is malformed", body = ErrorBody),
        (status = 401, description = "Not signed in, or a bad token", body = ErrorBody),
        (status = 403, description = "Another site's token: pushes go to accounts of this server", body = ErrorBody),
        (status = 404, description = "Web Push is off on this server", body = ErrorBody),
        (status = 415, description = "Content type not `application/json`", body = ErrorBody),
        (status = 503, description = "The store cannot answer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn subscribe(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<(StatusCode, Json<Subscribed>), ChatError> {
    let body = body.into_typed::<PushSubscriptionBody>()?;
    let made = chat.subscribe_push(&caller, &body).await?;
    let status = if made {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Subscribed {
            status: "subscribed",
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub(super) struct Unsubscribed {
    /// Always `"unsubscribed"`.
    status: &'static str,
}

/// Ends the caller's subscription of `endpoint`: that browser hears of nothing more.
#[utoipa::path(
    delete, path = "/api/me/push-subscriptions", tag = "push", request_body = PushUnsubscribeBody,
    responses(
        (status = 200, description = "Ended", body = Unsubscribed),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in, or a bad token", body = ErrorBody),
        (status = 403, description = "Another site's token", body = ErrorBody),
        (status = 404, description = "The account has no subscription of that endpoint, or Web Push is off", body = ErrorBody),
        (status = 415, description = "Content type not `application/json`", body = ErrorBody),
        (status = 503, description = "The store cannot answer", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn unsubscribe(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<JsonObject>,
) -> Result<Json<Unsubscribed>, ChatError> {
    let body = body.into_typed::<PushUnsubscribeBody>()?;
    chat.unsubscribe_push(&caller, &body).await?;
    Ok(Json(Unsubscribed {
        status: "unsubscribed",
    }))
}
