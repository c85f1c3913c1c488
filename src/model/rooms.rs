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
    /// A direct room (`POST /api/dms`): private to its `people`, who never change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub direct: bool,
    /// A direct room's people (account names, lowercase), the caller included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<String>,
}

impl RoomInfo {
    /// A public room as the room list shows it.
    pub fn public(name: String) -> Self {
        Self {
            name,
            private: false,
            owner: None,
            direct: false,
            people: Vec::new(),
        }
    }
}

/// `POST /api/dms` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DirectRoomBody {
    /// The other people: 1 to 8 account names (the caller's own is left out if given, but
    /// counts).
    #[cfg_attr(feature = "ssr", schema(schema_with = account_names))]
    pub with: Vec<String>,
}

/// `with`'s schema: account names, as `Credentials::name` describes one.
#[cfg(feature = "ssr")]
fn account_names() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};

    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(ACCOUNT_NAME_PATTERN))
        .min_length(Some(1))
        .max_length(Some(ACCOUNT_NAME_MAX_CHARS));
    ArrayBuilder::new()
        .items(name)
        .min_items(Some(1))
        .max_items(Some(DIRECT_ROOM_MAX_OTHERS))
        .build()
}

/// The most other people a direct room has.
pub const DIRECT_ROOM_MAX_OTHERS: usize = 8;

/// What a direct room's name starts with; no other room's may.
pub const DIRECT_ROOM_PREFIX: &str = "dm--";

/// Whether `room` names a direct room (or would).
pub fn is_direct_room(room: &str) -> bool {
    room.starts_with(DIRECT_ROOM_PREFIX)
}

impl DirectRoomBody {
    /// The other people's names, each once, in order, without `caller` (an account key):
    /// 1 to [`DIRECT_ROOM_MAX_OTHERS`] of them.
    pub fn others(&self, caller: &str) -> Result<Vec<AccountName>, ChatError> {
        if self.with.len() > DIRECT_ROOM_MAX_OTHERS {
            return Err(too_many_or_none());
        }
        let mut others: Vec<AccountName> = Vec::new();
        for name in &self.with {
            let name = AccountName::parse(name)?;
            if name.key() != caller && !others.iter().any(|other| other.key() == name.key()) {
                others.push(name);
            }
        }
        if others.is_empty() {
            return Err(too_many_or_none());
        }
        Ok(others)
    }
}

fn too_many_or_none() -> ChatError {
    ChatError::invalid(format!(
        "with must name 1 to {DIRECT_ROOM_MAX_OTHERS} other accounts"
    ))
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
    /// Unread messages that mention the account; in a direct room, every unread message.
    #[serde(default)]
    pub mentions: usize,
    /// What the account hears of while away (Web Push): its choice, or the room's default
    /// (`all` in a direct room, `mentions` elsewhere).
    #[serde(default)]
    pub notify: NotifyLevel,
    /// A direct room, with its `people` (account names, lowercase).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub direct: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<String>,
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
    /// What to hear of in this room while away: `all`, `mentions` or `none`. Absent or
    /// `null`: as it was (at first, the room's default).
    #[serde(default)]
    pub notify: Option<NotifyLevel>,
}

/// A validated `PUT /api/me/rooms/{room}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarkRead {
    pub last_read: Option<Uuid>,
    pub notify: Option<NotifyLevel>,
}

impl MarkReadBody {
    pub fn validate(&self) -> Result<MarkRead, ChatError> {
        Ok(MarkRead {
            last_read: (self.last_read_id.as_deref())
                .map(|id| parse_message_id(id, "last_read_id"))
                .transpose()?,
            notify: self.notify,
        })
    }
}

/// `limit` of `GET /api/me/mentions`.
pub const MENTIONS_LIMIT: BoundedParam = BoundedParam {
    name: "limit",
    range: 1..=100,
    default: 20,
};

/// `GET /api/me/mentions` parameters as they arrive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct MentionsQuery {
    /// How many: an integer from 1 to 100; default 20.
    #[cfg_attr(feature = "ssr", param(value_type = Option<u32>, minimum = 1, maximum = 100, default = json!(MENTIONS_LIMIT.default)))]
    pub limit: Option<String>,
}

/// A validated `GET /api/me/mentions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionsRequest {
    pub limit: usize,
}

impl MentionsQuery {
    pub fn validate(&self) -> Result<MentionsRequest, ChatError> {
        Ok(MentionsRequest {
            limit: MENTIONS_LIMIT.parse(self.limit.as_deref())? as usize,
        })
    }
}

/// `GET /api/me/mentions`: the newest messages that mention the account, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MentionList {
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Message>))]
    pub messages: Vec<std::sync::Arc<Message>>,
}

/// What a person hears of in a room while they are not looking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum NotifyLevel {
    /// Every message.
    All,
    /// Messages that mention them (a direct room's are all for them).
    #[default]
    Mentions,
    /// Nothing.
    None,
}

impl NotifyLevel {
    /// The level of a room whose person chose none: `all` in a direct room.
    pub fn default_for(room: &str) -> Self {
        if is_direct_room(room) {
            Self::All
        } else {
            Self::Mentions
        }
    }

    /// As the stores keep it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Mentions => "mentions",
            Self::None => "none",
        }
    }

    /// From what a store kept; `None` for anything else.
    pub fn from_kept(kept: &str) -> Option<Self> {
        match kept {
            "all" => Some(Self::All),
            "mentions" => Some(Self::Mentions),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}
