//! Rooms the caller may see, private rooms and their members.

use super::*;

/// The rooms the browser's user may see.
#[server(prefix = "/sfn", endpoint = "rooms")]
pub async fn visible_rooms() -> Result<RoomList, ChatError> {
    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        chat.rooms(&caller).await
    })
    .await
}

/// Creates a private room owned by the signed-in user. Also the target of the room list's
/// no-JavaScript form, which it then sends to the room.
#[server(prefix = "/sfn", endpoint = "create-room")]
pub async fn create_private_room(name: String) -> Result<RoomInfo, ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&name)?;
        let (chat, caller) = chat_and_caller().await?;
        let room = chat.create_room(&caller, room, true).await?;
        open_after_form_post(&room);
        Ok(room)
    })
    .await
}

/// The direct room of the signed-in user and `with` (account names), made if need be. Also
/// the target of the room list's no-JavaScript "New message" form, which it then sends to the
/// room (rather than back to the page it came from).
#[server(prefix = "/sfn", endpoint = "direct-room")]
pub async fn direct_room(with: Vec<String>) -> Result<RoomInfo, ChatError> {
    use crate::model::DirectRoomBody;

    respond(async move {
        let (chat, caller) = chat_and_caller().await?;
        let (room, _) = chat.direct_room(&caller, &DirectRoomBody { with }).await?;
        open_after_form_post(&room);
        Ok(room)
    })
    .await
}

/// A form posted without JavaScript goes on to the room it made (rather than back to the page
/// it came from).
#[cfg(feature = "ssr")]
fn open_after_form_post(room: &RoomInfo) {
    if is_form_post() {
        leptos_axum::redirect(&format!("/room/{}", room.name));
    }
}

/// A private room's owner and members.
#[server(prefix = "/sfn", endpoint = "members")]
pub async fn private_room_members(room: String) -> Result<RoomMembers, ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&room)?;
        let (chat, caller) = chat_and_caller().await?;
        chat.members(&caller, &room)
    })
    .await
}

/// A private room's owner and members, or `None` for a room that is not a private room the
/// caller may see: the page asks this of every room it opens, without answering 404 for the
/// public ones.
#[server(prefix = "/sfn", endpoint = "members-if-private")]
pub async fn members_if_private(room: String) -> Result<Option<RoomMembers>, ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&room)?;
        let (chat, caller) = chat_and_caller().await?;
        match chat.members(&caller, &room) {
            Err(ChatError::NoSuchRoom) => Ok(None),
            answer => answer.map(Some),
        }
    })
    .await
}

/// Adds an account to the owner's private room.
#[server(prefix = "/sfn", endpoint = "add-member")]
pub async fn add_member(room: String, name: String) -> Result<RoomMembers, ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&room)?;
        let (chat, caller) = chat_and_caller().await?;
        chat.add_member(&caller, &room, name.trim()).await
    })
    .await
}

/// Removes a member from the owner's private room (or the caller from a room they are in).
#[server(prefix = "/sfn", endpoint = "remove-member")]
pub async fn remove_member(room: String, name: String) -> Result<RoomMembers, ChatError> {
    use crate::model::RoomName;

    respond(async move {
        let room = RoomName::parse(&room)?;
        let (chat, caller) = chat_and_caller().await?;
        chat.remove_member(&caller, &room, &name).await
    })
    .await
}
