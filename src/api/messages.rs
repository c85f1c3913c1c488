//! Sending, editing, deleting and reacting to messages.

use super::*;

/// Sends a message; also the target of the no-JavaScript composer form. A signed-in sender
/// leaves `sender` empty (the server stamps their name).
#[server(prefix = "/sfn", endpoint = "send")]
pub async fn send_message(
    room: String,
    #[server(default)] sender: String,
    text: String,
) -> Result<SendReceipt, ChatError> {
    use crate::model::SendBody;

    respond(async move {
        let draft = SendBody {
            sender: Some(sender).filter(|sender| !sender.trim().is_empty()),
            text,
            room: Some(room),
        }
        .validate()?;
        let (chat, caller) = chat_and_caller().await?;
        chat.send(&caller, draft).await
    })
    .await
}

/// Replaces the text of one of the signed-in user's messages; answers it as it is now.
#[server(prefix = "/sfn", endpoint = "edit-message")]
pub async fn edit_message(id: String, text: String) -> Result<Arc<Message>, ChatError> {
    use crate::model::parse_message_id;

    respond(async move {
        let id = parse_message_id(&id, "the message id")?;
        let (chat, caller) = chat_and_caller().await?;
        chat.edit_message(&caller, id, &text).await
    })
    .await
}

/// Deletes a message (the user's own, or any in a private room they own); answers the
/// tombstone.
#[server(prefix = "/sfn", endpoint = "delete-message")]
pub async fn delete_message(id: String) -> Result<Arc<Message>, ChatError> {
    use crate::model::parse_message_id;

    respond(async move {
        let id = parse_message_id(&id, "the message id")?;
        let (chat, caller) = chat_and_caller().await?;
        chat.delete_message(&caller, id).await
    })
    .await
}

/// Adds (`add`) or takes back the signed-in user's `emoji` reaction to a message; answers the
/// message as it is now.
#[server(prefix = "/sfn", endpoint = "react")]
pub async fn react_to_message(
    id: String,
    emoji: String,
    add: bool,
) -> Result<Arc<Message>, ChatError> {
    use crate::model::parse_message_id;

    respond(async move {
        let id = parse_message_id(&id, "the message id")?;
        let (chat, caller) = chat_and_caller().await?;
        chat.react(&caller, id, &emoji, add).await
    })
    .await
}
