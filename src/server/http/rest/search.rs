//! `/api/search`: full-text search over the messages the caller may read. What a query means
//! is `server::search`'s; who may find what is [`Chat`]'s.

use axum::{extract::State, routing::get, Json, Router};

use super::{
    extract::{ApiCaller, ApiQuery},
    ErrorBody,
};
use crate::{
    error::ChatError,
    model::{SearchQuery, SearchResults},
    server::chat::Chat,
};

/// The routes of this module, for [`super::routes`].
pub(super) fn routes() -> Router<Chat> {
    Router::new().route("/api/search", get(search))
}

/// Messages matching `q` that the caller may read now: words (all of them, any order and
/// case, English words by their stem), `"a phrase"`, `prefix*`. Best matches first, then
/// newest; `before` (the previous answer's `next_before`) asks for the next page.
#[utoipa::path(
    get, path = "/api/search", tag = "search", params(SearchQuery),
    responses(
        (status = 200, description = "The results", body = SearchResults),
        (status = 400, description = "A parameter is malformed or out of range, or the query cannot be searched for (it says why)", body = ErrorBody),
        (status = 401, description = "A bad token, or no identity on a server without guests", body = ErrorBody),
        (status = 404, description = "`room` is a private room the caller may not see", body = ErrorBody),
        (status = 503, description = "Too many searches at once, or the store cannot answer", body = ErrorBody),
    )
)]
pub(super) async fn search(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResults>, ChatError> {
    Ok(Json(chat.search(&caller, &query.validate()?).await?))
}
