//! The stream: one held request for many rooms, each with its cursor, answered with every
//! room's news (messages, changes, presence) as soon as any has some.

use std::{sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ChatError;

use super::*;

/// `POST /api/stream` body as it arrives: a JSON object. Other members are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StreamBody {
    /// 1–128 characters of `A-Z a-z 0-9 - _ . :`. One stream per client: a newer one answers
    /// the older `superseded`.
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^[A-Za-z0-9._:-]+$", min_length = 1, max_length = 128)
    )]
    pub client_id: String,
    /// Seconds to hold when nothing is new, 5–60; absent or `null`: 25.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 5, maximum = 60, default = 25))]
    pub timeout: Option<u32>,
    /// The rooms to follow, 1–100, each named once, each with its own cursor.
    #[cfg_attr(feature = "ssr", schema(min_items = 1, max_items = 100))]
    pub rooms: Vec<StreamRoom>,
}

/// A room a stream follows, and where the client is in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StreamRoom {
    /// Room name: 1–64 characters of `A-Z a-z 0-9 - _ .`.
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^[A-Za-z0-9._-]+$", min_length = 1, max_length = 64)
    )]
    pub room: String,
    /// The id of the last message the client has of this room, as in `GET /api/poll`:
    /// absent, `null` or empty waits for the next new message; an id the room does not know is
    /// answered with a reset.
    #[serde(default)]
    pub last_message_id: Option<String>,
    /// `true` instead of a cursor: the client has nothing of the room yet because it saw the
    /// room empty, so every message the room has is new to it. This is how a client that found
    /// a room empty misses nothing sent between two of its streams (without a cursor a stream
    /// waits for the *next* message only). If the room has dropped old messages since, it is
    /// answered with a reset. Not with `last_message_id`.
    #[serde(default)]
    pub from_start: bool,
    /// Asks for who is online and typing in the room: the `live.version` the client last got
    /// (0 before the first). The stream answers with the room's `live` as soon as it differs.
    /// Absent: the stream carries no presence or typing for the room.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)
    )]
    pub live_version: Option<u64>,
}

impl StreamBody {
    pub fn validate(self) -> Result<StreamRequest, ChatError> {
        let timeout = match self.timeout {
            None => POLL_TIMEOUT_SECS.default,
            Some(secs) if POLL_TIMEOUT_SECS.range.contains(&secs) => secs,
            Some(_) => return Err(POLL_TIMEOUT_SECS.out_of_range()),
        };
        if self.rooms.is_empty() || self.rooms.len() > MAX_STREAM_ROOMS {
            return Err(ChatError::invalid(format!(
                "rooms must list 1 to {MAX_STREAM_ROOMS} rooms"
            )));
        }
        let mut rooms = Vec::with_capacity(self.rooms.len());
        for StreamRoom {
            room,
            last_message_id,
            from_start,
            live_version,
        } in self.rooms
        {
            let room = RoomName::parse(&room)?;
            if rooms.iter().any(|follow: &Follow| follow.room == room) {
                return Err(ChatError::invalid(format!("room {room} is listed twice")));
            }
            let from = match (last_message_id.filter(|id| !id.is_empty()), from_start) {
                (None, false) => StreamFrom::Now,
                (None, true) => StreamFrom::Start,
                (Some(id), false) => StreamFrom::After(id),
                (Some(_), true) => {
                    return Err(ChatError::invalid(format!(
                        "room {room}: give last_message_id or from_start, not both"
                    )))
                }
            };
            if live_version.is_some_and(|version| version > MAX_LIVE_VERSION) {
                return Err(ChatError::invalid(format!(
                    "room {room}: live_version must be at most {MAX_LIVE_VERSION}"
                )));
            }
            rooms.push(Follow {
                room,
                from,
                live_version,
                open: false,
            });
        }
        Ok(StreamRequest {
            client_id: ClientId::parse(&self.client_id)?,
            rooms,
            timeout: Duration::from_secs(timeout.into()),
            holder: None,
            owner: ClientOwner::default(),
            person: None,
        })
    }
}

/// Where a stream reads a room from.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamFrom {
    /// The next new message (no cursor).
    Now,
    /// After the message of this id (kept as given: an id the room does not know is a reset).
    After(String),
    /// The room's first message (`from_start`).
    Start,
}

/// A room a validated stream follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Follow {
    pub room: RoomName,
    /// Where the client is in the room's log.
    pub from: StreamFrom,
    /// The [`LiveState::version`] the client has, if it asks for presence and typing.
    pub live_version: Option<u64>,
    /// Make the room if nobody has written to it yet, so that who is there shows before its
    /// first message: set by the server for rooms known to be wanted. Otherwise such a room is
    /// waited for, not made.
    pub open: bool,
}

/// A validated stream: one held request for many rooms.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRequest {
    pub client_id: ClientId,
    /// Each room once, with where the client is in it.
    pub rooms: Vec<Follow>,
    pub timeout: Duration,
    /// As [`PollRequest::holder`].
    pub holder: Option<Arc<str>>,
    /// As [`PollRequest::owner`].
    pub owner: ClientOwner,
    /// Who holds the stream, for presence; `None`: a guest (counted, not named).
    pub person: Option<Person>,
}

/// The answer to a stream: the rooms with news, each as `GET /api/poll` would answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StreamResponse {
    /// `success`: `rooms` lists what is new (it may be empty when a followed room changed:
    /// poll again); `timeout`, `superseded` and `disconnected` as for `GET /api/poll`.
    pub status: PollStatus,
    /// Only rooms with news, in the order the request listed them.
    pub rooms: Vec<RoomNews>,
    /// Unix time in seconds of the answer.
    pub timestamp: f64,
}

/// What is new in one room of a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoomNews {
    pub room: String,
    /// Oldest first, at most 100: poll again from the last one for more.
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Message>))]
    pub messages: Vec<Arc<Message>>,
    /// The cursor was unknown in the room: `messages` are its most recent ones; start over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// A private room the caller may not (or may no longer) read, or one deleted: stop
    /// following it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unavailable: bool,
    /// Edits, deletions and reactions since the cursor, in log order, each about a message
    /// the client has (or gets in `messages`, already showing it). Applying them in order to
    /// what the client has gives what `GET /api/history` shows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Change>))]
    pub changes: Vec<Arc<Change>>,
    /// Where the client is now in the room, whether the last position read was a message or a
    /// change: the `last_message_id` of its next stream. Absent with nothing read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<Uuid>,
    /// Who is online and typing, when the stream asked for it (`live_version`) and it changed.
    /// Shared by every stream answered for the same version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<LiveState>))]
    pub live: Option<Arc<LiveState>>,
}

impl RoomNews {
    pub fn unavailable(room: String) -> Self {
        Self {
            room,
            messages: Vec::new(),
            reset: false,
            unavailable: true,
            changes: Vec::new(),
            last_id: None,
            live: None,
        }
    }
}
