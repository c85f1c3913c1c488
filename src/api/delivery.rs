//! A room's history, the text limit and the server's counters (the live stream itself is
//! `POST /api/stream`, see `crate::app::stream`).

use super::*;

/// A room's most recent messages, oldest first; or, given `around` (a message id), the
/// messages around that one.
#[server(prefix = "/sfn", endpoint = "history")]
pub async fn room_history(
    room: String,
    limit: Option<u32>,
    #[server(default)] around: Option<String>,
) -> Result<History, ChatError> {
    use crate::model::HistoryQuery;

    respond(async move {
        let request = HistoryQuery {
            room: Some(room),
            limit: limit.map(|limit| limit.to_string()),
            around,
        }
        .validate()?;
        let (chat, caller) = chat_and_caller().await?;
        chat.history(&caller, &request).await
    })
    .await
}

/// The longest message text this server takes (`--max-text-chars`), for the composer.
#[server(prefix = "/sfn", endpoint = "text-limit")]
pub async fn text_limit() -> Result<usize, ChatError> {
    respond(async move {
        let (chat, _) = chat_and_caller().await?;
        Ok(chat.max_text_chars())
    })
    .await
}

/// Server-wide counters and the rooms in use, as the caller may see them.
#[server(prefix = "/sfn", endpoint = "stats")]
pub async fn chat_stats() -> Result<Stats, ChatError> {
    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        chat.stats(&caller).await
    })
    .await
}
