//! An account's joined rooms and read positions.

use super::*;

/// The rooms the signed-in account joined, with read positions and unread counts; `None` for
/// a guest, whose page keeps its own (an answer, not a 401 the browser logs as an error).
#[server(prefix = "/sfn", endpoint = "joined-rooms")]
pub async fn joined_rooms() -> Result<Option<JoinedRoomList>, ChatError> {
    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        chat.joined_rooms_unless_guest(&caller).await
    })
    .await
}

/// Joins the room and moves the account's read position forward to `last_read_id` (`None`:
/// only join).
#[server(prefix = "/sfn", endpoint = "mark-read")]
pub async fn mark_read(
    room: String,
    last_read_id: Option<String>,
    #[server(default)] notify: Option<crate::model::NotifyLevel>,
) -> Result<JoinedRoom, ChatError> {
    use crate::model::{MarkReadBody, RoomName};

    respond(async move {
        let room = RoomName::parse(&room)?;
        let mark = MarkReadBody {
            last_read_id,
            notify,
        }
        .validate()?;
        let (chat, caller) = chat_and_caller().await?;
        chat.mark_read(&caller, &room, mark).await
    })
    .await
}

/// Leaves a joined room.
#[server(prefix = "/sfn", endpoint = "leave-joined-room")]
pub async fn leave_joined_room(room: String) -> Result<(), ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&room)?;
        let (chat, caller) = chat_and_caller().await?;
        chat.leave_joined_room(&caller, &room).await
    })
    .await
}

/// The newest messages that mention the signed-in account.
#[server(prefix = "/sfn", endpoint = "mentions")]
pub async fn my_mentions(limit: Option<u32>) -> Result<MentionList, ChatError> {
    use crate::model::MentionsQuery;

    respond(async move {
        let request = MentionsQuery {
            limit: limit.map(|limit| limit.to_string()),
        }
        .validate()?;
        let (chat, caller) = chat_and_caller().await?;
        chat.my_mentions(&caller, &request).await
    })
    .await
}
