//! Leptos server functions: the browser's way into the broker. Each one validates through
//! `model` and calls the same [`Broker`](crate::server::Broker) method the REST handler calls.
//! The live poll loop uses `GET /api/poll` directly, so it can be aborted when the user leaves.

use leptos::{
    prelude::*,
    server_fn::{
        codec::JsonEncoding,
        error::{FromServerFnError, ServerFnErrorErr},
    },
};

use crate::{
    error::ChatError,
    model::{History, SendReceipt, Stats},
};

/// Sends a message; also the target of the no-JavaScript composer form.
#[server(prefix = "/sfn", endpoint = "send")]
pub async fn send_message(
    room: String,
    sender: String,
    text: String,
) -> Result<SendReceipt, ChatError> {
    use crate::model::SendBody;

    let draft = SendBody {
        sender: Some(sender),
        text,
        room: Some(room),
    }
    .validate()?;
    let sender = draft
        .sender
        .clone()
        .ok_or_else(|| ChatError::invalid("missing field `sender`"))?;
    broker()?.send(draft.sent_by(sender, false)).await
}

/// A room's most recent messages, oldest first.
#[server(prefix = "/sfn", endpoint = "history")]
pub async fn room_history(room: String, limit: Option<u32>) -> Result<History, ChatError> {
    use crate::model::HistoryQuery;

    let request = HistoryQuery {
        room: Some(room),
        limit: limit.map(|limit| limit.to_string()),
    }
    .validate()?;
    Ok(broker()?.history(&request))
}

/// The longest message text this server takes (`--max-text-chars`), for the composer.
#[server(prefix = "/sfn", endpoint = "text-limit")]
pub async fn text_limit() -> Result<usize, ChatError> {
    Ok(broker()?.max_text_chars())
}

/// Server-wide counters and the rooms in use.
#[server(prefix = "/sfn", endpoint = "stats")]
pub async fn chat_stats() -> Result<Stats, ChatError> {
    Ok(broker()?.stats().await)
}

#[cfg(feature = "ssr")]
fn broker() -> Result<crate::server::Broker, ChatError> {
    use_context().ok_or_else(|| {
        tracing::error!("no Broker in the Leptos context");
        ChatError::Internal
    })
}

/// Server functions answer with [`ChatError`] as JSON; a call that fails before reaching the
/// function (bad arguments, network) is mapped to the nearest variant.
impl FromServerFnError for ChatError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::MissingArg(detail) => {
                Self::InvalidInput(detail)
            }
            other => Self::Transport(other.to_string()),
        }
    }
}
