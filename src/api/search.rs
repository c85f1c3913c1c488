//! Full-text search over the messages the caller may read.

use super::*;

/// `GET /api/search` for the page: the same parameters, as text, as a form sends them.
#[server(prefix = "/sfn", endpoint = "search")]
pub async fn search_messages(
    q: String,
    #[server(default)] room: Option<String>,
    #[server(default)] from: Option<String>,
    #[server(default)] limit: Option<u32>,
    #[server(default)] before: Option<String>,
) -> Result<SearchResults, ChatError> {
    use crate::model::SearchQuery;

    respond(async move {
        let request = SearchQuery {
            q: Some(q),
            room,
            from,
            limit: limit.map(|limit| limit.to_string()),
            before,
        }
        .validate()?;
        let (chat, caller) = chat_and_caller().await?;
        chat.search(&caller, &request).await
    })
    .await
}
