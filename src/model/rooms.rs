//! Rooms and reads: creating and listing rooms, private rooms' members, joined rooms and
//! read positions.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ChatError;

use super::*;

/// `POST /api/rooms` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateRoomBody {
    /// 1–64 characters of `A-Z a-z 0-9 - _ .`.
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^[A-Za-z0-9._-]+$", max_length = 64)
    )]
    pub name: String,
    /// A private room is seen only by its owner (the creator) and the members they add.
    /// Public rooms need no creating (their first poll or send makes them): creating one only
    /// checks that the name is free.
    #[serde(default)]
    pub private: bool,
}

/// A room as the room list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoomInfo {
    pub name: String,
    pub private: bool,
    /// The owner's account (lowercase), for a private room.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub owner: Option<String>,
}

/// `GET /api/rooms`: the rooms the caller may see, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoomList {
    pub rooms: Vec<RoomInfo>,
}

/// A private room's people (account names, lowercase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoomMembers {
    pub room: String,
    pub owner: String,
    /// Besides the owner, ordered.
    pub members: Vec<String>,
}

/// A room the signed-in account has joined (`GET /api/me/rooms`), and how much of it it has
/// not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JoinedRoom {
    pub room: String,
    /// The newest message the account has read there (on any device); `null` until it marks
    /// one.
    pub last_read_id: Option<Uuid>,
    /// Messages after `last_read_id`, or every message the room keeps when it is `null`.
    pub unread: usize,
    /// `unread` is a lower bound: the room no longer keeps `last_read_id`, nor some of the
    /// messages after it.
    pub unread_at_least: bool,
    pub private: bool,
}

/// `GET /api/me/rooms`: the rooms the account joined and may still see, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JoinedRoomList {
    pub rooms: Vec<JoinedRoom>,
}

/// `PUT /api/me/rooms/{room}` body. Other members are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MarkReadBody {
    /// The id of the newest message read (a UUIDv7, as every message id is). A position only
    /// moves forward: an id older than the kept one keeps the kept one. Absent or `null`: only
    /// join the room.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(
            value_type = Option<String>,
            pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-7[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$"
        )
    )]
    pub last_read_id: Option<String>,
}

impl MarkReadBody {
    pub fn validate(&self) -> Result<Option<Uuid>, ChatError> {
        self.last_read_id
            .as_deref()
            .map(|id| parse_message_id(id, "last_read_id"))
            .transpose()
    }
}
