//! Saying the signed-in person is typing.

use super::*;

/// Says the signed-in user is typing in the room: the composer sends it every
/// `TYPING_SIGNAL_EVERY_SECS` while they type. Guests are refused (401).
#[server(prefix = "/sfn", endpoint = "typing")]
pub async fn signal_typing(room: String) -> Result<(), ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&room)?;
        let (chat, caller) = chat_and_caller().await?;
        chat.typing(&caller, &room)
    })
    .await
}
