//! Delivery: what a poll, a send and a history read ask and answer, and the
//! bounded parameters they take.

use std::{
    borrow::Cow, fmt, net::IpAddr, ops::RangeInclusive, str::FromStr, sync::Arc, time::Duration,
};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ChatError;

use super::*;

/// An integer parameter with an allowed range and a default, e.g. a poll's `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedParam {
    pub name: &'static str,
    pub range: RangeInclusive<u32>,
    pub default: u32,
}

/// `timeout` of `GET /api/poll`, in seconds.
pub const POLL_TIMEOUT_SECS: BoundedParam = BoundedParam {
    name: "timeout",
    range: 5..=60,
    default: 25,
};

/// `limit` of `GET /api/history`, in messages.
pub const HISTORY_LIMIT: BoundedParam = BoundedParam {
    name: "limit",
    range: 1..=MAX_MESSAGES_PER_POLL as u32,
    default: 20,
};

impl BoundedParam {
    /// Parses the parameter's text: absent means the default; anything but an integer within
    /// the range is an error that names the parameter and its range.
    pub fn parse(&self, value: Option<&str>) -> Result<u32, ChatError> {
        let Some(value) = value else {
            return Ok(self.default);
        };
        value
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|number| self.range.contains(number))
            .ok_or_else(|| self.out_of_range())
    }

    pub(super) fn out_of_range(&self) -> ChatError {
        ChatError::invalid(format!(
            "{} must be an integer from {} to {}",
            self.name,
            self.range.start(),
            self.range.end()
        ))
    }
}

/// `GET /api/poll` parameters as they arrive, before validation, read by
/// [`PollQuery::from_pairs`]. Numbers stay text here so a bad value gets an error naming the
/// parameter rather than a parser's message. The values borrow from the query string unless
/// they had to be decoded: a poll copies only what its validated request keeps.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct PollQuery<'a> {
    /// The polling client's id, chosen by the client: 1–128 characters of
    /// `A-Z a-z 0-9 - _ . :`. Required; an empty one is refused. A client holds one poll per
    /// room: a newer poll on the same room answers the older one with `superseded`.
    #[cfg_attr(feature = "ssr", param(required = true, value_type = String, pattern = "^[A-Za-z0-9._:-]+$", max_length = 128))]
    pub client_id: Option<Cow<'a, str>>,
    /// Room name: 1–64 characters of `A-Z a-z 0-9 - _ .`. Absent or empty: `general`.
    #[cfg_attr(feature = "ssr", param(value_type = Option<String>, pattern = "^[A-Za-z0-9._-]*$", max_length = 64, default = json!(DEFAULT_ROOM)))]
    pub room: Option<Cow<'a, str>>,
    /// Id of the last message the client received. Absent or empty: wait for the next new
    /// message. Any other text is accepted: an id the room does not have (not a message id,
    /// another room's, or older than the room keeps) is answered at once with `reset` and the
    /// room's most recent messages.
    #[cfg_attr(feature = "ssr", param(value_type = Option<String>))]
    pub last_message_id: Option<Cow<'a, str>>,
    /// Seconds to hold the poll when nothing arrives: an integer from 5 to 60; default 25.
    /// Whitespace around it and a leading `+` are also accepted.
    #[cfg_attr(feature = "ssr", param(value_type = Option<u32>, minimum = 5, maximum = 60, default = json!(POLL_TIMEOUT_SECS.default)))]
    pub timeout: Option<Cow<'a, str>>,
}

/// One decoded `name=value` pair of a query string, borrowed from it where nothing had to be
/// decoded.
pub type QueryPair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Who holds a client id: it is theirs while they use it, and until it has been idle for the
/// client idle window; nobody else may poll, stream or disconnect under it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientOwner {
    /// A signed-in person, as [`Message::author`] names them.
    Person(Arc<str>),
    /// A guest, by client address.
    Guest(IpAddr),
}

impl Default for ClientOwner {
    fn default() -> Self {
        Self::Guest(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
    }
}

impl fmt::Display for ClientOwner {
    /// `person:KEY` or `guest:ADDRESS`: never a space, so it can share a line with a client id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Person(key) => write!(f, "person:{key}"),
            Self::Guest(address) => write!(f, "guest:{address}"),
        }
    }
}

impl FromStr for ClientOwner {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text.split_once(':') {
            Some(("person", key)) if !key.is_empty() && !key.contains(' ') => {
                Ok(Self::Person(key.into()))
            }
            Some(("guest", address)) => address.parse().map(Self::Guest).map_err(drop),
            _ => Err(()),
        }
    }
}

/// A validated poll.
#[derive(Debug, Clone, PartialEq)]
pub struct PollRequest {
    pub client_id: ClientId,
    pub room: RoomName,
    /// The id of the last message the client received; `None` waits for the next new message.
    /// An id the room does not know is kept as given: the broker answers it with a reset.
    pub last_message_id: Option<String>,
    pub timeout: Duration,
    /// The signed-in user holding the poll (their account key), set by the server once it
    /// knows who asks: losing access to the room ends their polls on it.
    pub holder: Option<Arc<str>>,
    /// Who asks, set by the server once it knows: the client id is theirs.
    pub owner: ClientOwner,
}

impl<'a> PollQuery<'a> {
    /// Reads the parameters from decoded `name=value` pairs; unknown names are ignored, a
    /// repeated one is an error.
    pub fn from_pairs(pairs: impl Iterator<Item = QueryPair<'a>>) -> Result<Self, ChatError> {
        let mut query = Self::default();
        for (name, value) in pairs {
            let field = match &*name {
                "client_id" => &mut query.client_id,
                "room" => &mut query.room,
                "last_message_id" => &mut query.last_message_id,
                "timeout" => &mut query.timeout,
                _ => continue,
            };
            if field.replace(value).is_some() {
                return Err(ChatError::invalid(format!(
                    "duplicate field `{name}` in the query"
                )));
            }
        }
        Ok(query)
    }

    pub fn validate(&self) -> Result<PollRequest, ChatError> {
        let client_id = self
            .client_id
            .as_deref()
            .ok_or_else(|| ChatError::invalid("client_id is required"))?;
        Ok(PollRequest {
            client_id: ClientId::parse(client_id)?,
            room: RoomName::parse_or_default(self.room.as_deref())?,
            last_message_id: self
                .last_message_id
                .as_deref()
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
            timeout: Duration::from_secs(POLL_TIMEOUT_SECS.parse(self.timeout.as_deref())?.into()),
            holder: None,
            owner: ClientOwner::default(),
        })
    }
}

/// `POST /api/send` body as it arrives: a JSON object (sent as `application/json`) whose
/// `sender` and `text` are strings. Other members are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SendBody {
    /// The sender's display name, stored trimmed of the whitespace around it (Unicode
    /// White_Space, tabs and newlines included): then 1–64 characters, none of them a control
    /// character (U+0000–U+001F, U+007F–U+009F). Required of guests; a signed-in sender may
    /// leave it out (the server stamps the account's name), and naming anyone else is refused
    /// with 403. A guest may not use an account's name, in any letter case (403).
    #[cfg_attr(
        feature = "ssr",
        schema(
            pattern = r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\u0000-\u001F\u007F-\u009F\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\u0000-\u001F\u007F-\u009F]{0,62}[^\u0000-\u001F\u007F-\u009F\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
        )
    )]
    #[serde(default)]
    pub sender: Option<String>,
    /// The message: 1–4,000 characters (a server's `--max-text-chars` may allow fewer), not
    /// only whitespace (Unicode White_Space). Kept as sent, newlines and any other character
    /// included.
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 4000,
            pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
        )
    )]
    pub text: String,
    /// Room name: 1–64 characters of `A-Z a-z 0-9 - _ .`. Absent, `null` or empty: `general`.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^[A-Za-z0-9._-]*$", max_length = 64, default = json!(DEFAULT_ROOM))
    )]
    pub room: Option<String>,
}

/// A send as the body asks for it, validated; who sends it is decided by the server.
#[derive(Debug, Clone, PartialEq)]
pub struct SendDraft {
    pub room: RoomName,
    /// The name the body gives, if any.
    pub sender: Option<SenderName>,
    pub text: MessageText,
}

/// A message to send, its sender settled.
#[derive(Debug, Clone, PartialEq)]
pub struct SendRequest {
    pub room: RoomName,
    pub sender: SenderName,
    /// Who the server vouches the sender is (see [`Message::author`]); `None` for a guest.
    pub author: Option<String>,
    pub text: MessageText,
    /// Who the text mentions, as the chat service settled it (see [`Message::mentions`]).
    pub mentions: Vec<String>,
    /// The file sent with it, stored already (see [`Message::attachment`]).
    pub attachment: Option<super::Attachment>,
}

impl SendDraft {
    /// The request, sent by `sender`, whom the server knows as `author` (`None`: a guest).
    pub fn sent_by(self, sender: SenderName, author: Option<String>) -> SendRequest {
        SendRequest {
            room: self.room,
            sender,
            author,
            text: self.text,
            mentions: Vec::new(),
            attachment: None,
        }
    }
}

impl SendBody {
    pub fn validate(&self) -> Result<SendDraft, ChatError> {
        Ok(SendDraft {
            room: RoomName::parse_or_default(self.room.as_deref())?,
            sender: self.sender.as_deref().map(SenderName::parse).transpose()?,
            text: MessageText::parse(&self.text)?,
        })
    }
}

/// `GET /api/history` parameters as they arrive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct HistoryQuery {
    /// Room name: 1–64 characters of `A-Z a-z 0-9 - _ .`. Absent or empty: `general`.
    #[cfg_attr(feature = "ssr", param(value_type = Option<String>, pattern = "^[A-Za-z0-9._-]*$", max_length = 64, default = json!(DEFAULT_ROOM)))]
    pub room: Option<String>,
    /// How many of the most recent messages: an integer from 1 to 100; default 20. Whitespace
    /// around it and a leading `+` are also accepted.
    #[cfg_attr(feature = "ssr", param(value_type = Option<u32>, minimum = 1, maximum = 100, default = json!(HISTORY_LIMIT.default)))]
    pub limit: Option<String>,
    /// The messages around this one (half before it, half after) instead of the most recent:
    /// where a search result opens.
    #[cfg_attr(feature = "ssr", param(value_type = Option<String>, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-7[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$"))]
    pub around: Option<String>,
}

/// A validated history request.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRequest {
    pub room: RoomName,
    pub limit: usize,
    /// Around this message rather than the most recent.
    pub around: Option<Uuid>,
}

impl HistoryQuery {
    pub fn validate(&self) -> Result<HistoryRequest, ChatError> {
        Ok(HistoryRequest {
            room: RoomName::parse_or_default(self.room.as_deref())?,
            limit: HISTORY_LIMIT.parse(self.limit.as_deref())? as usize,
            around: (self.around.as_deref())
                .map(|id| parse_message_id(id.trim(), "around"))
                .transpose()?,
        })
    }
}

/// How a poll ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum PollStatus {
    /// `messages` holds what the client had not seen yet.
    Success,
    /// Nothing arrived before the timeout (or the server is shutting down): poll again.
    Timeout,
    /// A newer poll of the same client on the same room took over this one.
    Superseded,
    /// The client was disconnected with `DELETE /api/client/{client_id}`.
    Disconnected,
}

/// The answer to a poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PollResponse {
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Message>))]
    pub messages: Vec<Arc<Message>>,
    pub status: PollStatus,
    pub timeout: bool,
    /// True when `last_message_id` was unknown in the room (garbage, another room's, or older
    /// than the room keeps): `messages` then holds the room's most recent messages instead, and
    /// the client should treat them as a fresh start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
}

impl PollResponse {
    pub fn messages(messages: Vec<Arc<Message>>) -> Self {
        Self {
            messages,
            status: PollStatus::Success,
            timeout: false,
            reset: false,
        }
    }

    pub fn reset(messages: Vec<Arc<Message>>) -> Self {
        Self {
            reset: true,
            ..Self::messages(messages)
        }
    }

    /// An empty answer with the given status (`timeout` is set for [`PollStatus::Timeout`]).
    pub fn empty(status: PollStatus) -> Self {
        Self {
            messages: Vec::new(),
            status,
            timeout: status == PollStatus::Timeout,
            reset: false,
        }
    }
}

/// The answer to a successful send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SendReceipt {
    /// Always `"sent"`: the message is stored and delivered to every held poll of its room.
    pub status: String,
    pub message_id: Uuid,
    pub timestamp: f64,
    pub room: String,
}

impl SendReceipt {
    pub fn for_message(message: &Message) -> Self {
        Self {
            status: "sent".to_owned(),
            message_id: message.id,
            timestamp: message.timestamp,
            room: message.room.clone(),
        }
    }
}

/// A room's most recent messages, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct History {
    pub room: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Message>))]
    pub messages: Vec<Arc<Message>>,
}

/// Server-wide counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Stats {
    /// Clients holding a poll now, or whose last poll ended within the client idle window.
    pub active_clients: usize,
    /// Messages ever sent to the rooms the server knows.
    pub total_messages: u64,
    /// Rooms with messages or held polls, sorted by name.
    pub rooms: Vec<String>,
    /// Polls held open right now.
    pub held_polls: usize,
    /// Unix time in seconds.
    pub timestamp: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_params_default_and_reject_out_of_range() {
        assert_eq!(POLL_TIMEOUT_SECS.parse(None).unwrap(), 25);
        assert_eq!(POLL_TIMEOUT_SECS.parse(Some("5")).unwrap(), 5);
        assert_eq!(POLL_TIMEOUT_SECS.parse(Some("60")).unwrap(), 60);
        for bad in ["4", "61", "-1", "abc", "", "2.5", "99999999999"] {
            let error = POLL_TIMEOUT_SECS.parse(Some(bad)).unwrap_err();
            assert_eq!(error.to_string(), "timeout must be an integer from 5 to 60");
        }
        assert_eq!(HISTORY_LIMIT.parse(None).unwrap(), 20);
        assert!(HISTORY_LIMIT.parse(Some("0")).is_err());
        assert_eq!(HISTORY_LIMIT.parse(Some("100")).unwrap(), 100);
    }

    #[test]
    fn a_poll_query_needs_a_client_id_and_defaults_the_rest() {
        let missing = PollQuery::default().validate().unwrap_err();
        assert_eq!(missing.to_string(), "client_id is required");
        let request = PollQuery {
            client_id: Some("c1".into()),
            last_message_id: Some("".into()),
            ..PollQuery::default()
        }
        .validate()
        .unwrap();
        assert_eq!(request.room.as_str(), "general");
        assert_eq!(request.timeout, Duration::from_secs(25));
        assert_eq!(request.last_message_id, None);
    }

    #[test]
    fn a_timeout_answer_has_exactly_the_documented_shape() {
        let json = serde_json::to_string(&PollResponse::empty(PollStatus::Timeout)).unwrap();
        assert_eq!(json, r#"{"messages":[],"status":"timeout","timeout":true}"#);
    }
}
