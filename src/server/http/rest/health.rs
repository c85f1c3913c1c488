//! `/health` and `/health/ready`: whether the server and its store answer.

use axum::{extract::State, routing::get, Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::ErrorBody;
use crate::{error::ChatError, server::chat::Chat};

/// The routes of this module, for [`super::routes`].
pub(super) fn routes() -> Router<Chat> {
    Router::new()
        .route("/health", get(health))
        .route("/health/ready", get(ready))
}

#[derive(Serialize, ToSchema)]
pub(super) struct Health {
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
pub(super) async fn health(State(chat): State<Chat>) -> Result<Json<Health>, ChatError> {
    chat.check_store().await?;
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
pub(super) async fn ready(State(chat): State<Chat>) -> Result<Json<Health>, ChatError> {
    chat.check_ready().await?;
    Ok(Json(Health { status: "ready" }))
}
