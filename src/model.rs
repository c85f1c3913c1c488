//! The domain's data, shared by the server and the browser: messages, the API's request and
//! response shapes, and validated newtypes ("parse, don't validate").
//!
//! Every rule about what a valid room name, sender, text or client id looks like lives here, so
//! the REST handlers, the server functions and the UI all apply the same ones.

use std::{
    borrow::Cow, fmt, net::IpAddr, ops::RangeInclusive, str::FromStr, sync::Arc, time::Duration,
};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ChatError;

/// The room a request goes to when it names none.
pub const DEFAULT_ROOM: &str = "general";
/// Room names: 1 to this many characters of `A-Z a-z 0-9 - _ .`.
pub const ROOM_NAME_MAX_CHARS: usize = 64;
/// Sender names: 1 to this many characters, no control characters.
pub const SENDER_MAX_CHARS: usize = 64;
/// Message text: 1 to this many characters (Unicode scalar values).
pub const TEXT_MAX_CHARS: usize = 4_000;
/// Client ids: 1 to this many characters of `A-Z a-z 0-9 - _ . :`.
pub const CLIENT_ID_MAX_CHARS: usize = 128;
/// The most messages one answer carries (a poll, a page of history); a client further behind
/// polls again for the rest.
pub const MAX_MESSAGES_PER_POLL: usize = 100;
/// The most rooms one `POST /api/stream` follows.
pub const MAX_STREAM_ROOMS: usize = 100;
/// Different emoji one message may carry as reactions, unless the server says otherwise.
pub const DEFAULT_MAX_REACTIONS_PER_MESSAGE: usize = 20;
/// Account names: 1 to this many characters of `A-Z a-z 0-9 - _ .`, starting with a letter or
/// digit; unique regardless of letter case.
pub const ACCOUNT_NAME_MAX_CHARS: usize = 32;
/// Passwords: at least this many characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Passwords: at most this many bytes (hashing cost grows with the length).
pub const PASSWORD_MAX_BYTES: usize = 1_024;

// The rules above as JSON Schema patterns, for the OpenAPI description (utoipa takes only
// literals there: `tests/schema.rs` checks that the document uses these, and that each means
// its rule). Every class is spelled out with `\uXXXX` escapes, never `\s`, `\d` or `\w`, so a
// pattern means the same to ECMAScript, Python's `re` (a fuzzer's generator) and Rust's regex.

/// The characters `str::trim` strips and `char::is_whitespace` names (Unicode White_Space), as
/// the body of a regex class. Not `\s`: Python's adds U+001C–U+001F, ECMAScript's U+FEFF.
pub const WHITE_SPACE_CLASS: &str =
    r"\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// The characters `char::is_control` names (general category Cc), as the body of a regex class.
pub const CONTROL_CLASS: &str = r"\u0000-\u001F\u007F-\u009F";
/// A room parameter, with `maxLength` [`ROOM_NAME_MAX_CHARS`]: a room name, or empty for
/// [`DEFAULT_ROOM`] (see [`RoomName::parse_or_default`]).
pub const ROOM_NAME_PATTERN: &str = "^[A-Za-z0-9._-]*$";
/// A client id, with `maxLength` [`CLIENT_ID_MAX_CHARS`] (see [`ClientId::parse`]).
pub const CLIENT_ID_PATTERN: &str = "^[A-Za-z0-9._:-]+$";
/// An account name, with `maxLength` [`ACCOUNT_NAME_MAX_CHARS`] (see [`AccountName::parse`]).
pub const ACCOUNT_NAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]*$";
/// A message id as clients name one: a hyphenated UUIDv7 ([`parse_message_id`]).
pub const MESSAGE_ID_PATTERN: &str =
    "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-7[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$";
/// A sender exactly as [`SenderName::parse`] takes it: any whitespace around 1 to
/// [`SENDER_MAX_CHARS`] characters without control characters that start and end with neither
/// a control character nor whitespace (`{0,62}`: [`SENDER_MAX_CHARS`] less those two ends). The
/// length is in the pattern, not a `maxLength`, because it is counted after trimming.
pub const SENDER_PATTERN: &str = concat!(
    r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*",
    r"[^\u0000-\u001F\u007F-\u009F\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    r"(?:[^\u0000-\u001F\u007F-\u009F]{0,62}",
    r"[^\u0000-\u001F\u007F-\u009F\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?",
    r"[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$",
);
/// Message text, with `maxLength` [`TEXT_MAX_CHARS`]: at least one character that is not
/// whitespace (see [`MessageText::parse`]). Unanchored: a pattern matches anywhere.
pub const TEXT_PATTERN: &str =
    r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// One chat message as stored and delivered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Message {
    /// Time-ordered UUIDv7, unique across rooms.
    pub id: Uuid,
    pub sender: String,
    pub text: String,
    /// Unix time in seconds, with a fractional part.
    pub timestamp: f64,
    pub room: String,
    /// Whether the server vouches for `sender`: a signed-in account or a token's holder
    /// (`true`), or a guest's self-chosen name (`false`).
    #[serde(default)]
    pub verified: bool,
    /// Who may edit the message: the sender's account (its lowercase name), or `token:NAME`
    /// for another site's token holder. Absent for guests, whose messages nobody edits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Unix time in seconds of the last edit; absent if never edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<f64>,
    /// The message was deleted: a tombstone, its text empty and its reactions gone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Reactions, in the order each emoji was first added; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
}

/// Everyone who reacted to a message with one emoji.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Reaction {
    pub emoji: String,
    pub count: usize,
    /// Who reacted, by display name, oldest first.
    pub by: Vec<String>,
    /// The same people as [`Message::author`] keys: what makes a reaction one per person.
    /// Rebuilt from the log, never sent.
    #[serde(skip)]
    authors: Vec<String>,
}

/// A change to a message: an event in its room's log, with a position (and an id) like a
/// message's, so a client resuming from a cursor gets every change it missed, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Change {
    /// Time-ordered UUIDv7, from the same space as message ids: a stream cursor may be one.
    pub id: Uuid,
    pub room: String,
    /// The message changed.
    pub message_id: Uuid,
    /// Who changed it, by display name.
    pub by: String,
    /// Who changed it, as [`Message::author`] names people.
    pub author: String,
    /// Unix time in seconds.
    pub timestamp: f64,
    #[serde(flatten)]
    pub kind: ChangeKind,
}

/// What a [`Change`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ChangeKind {
    /// The author replaced the text.
    Edit { text: String },
    /// The author (or the private room's owner) deleted the message.
    Delete,
    /// `author` added their `emoji` reaction.
    React { emoji: String },
    /// `author` took their `emoji` reaction back.
    Unreact { emoji: String },
}

impl Message {
    /// The message as `change` leaves it, or `None` if the change does nothing to it: it is
    /// another message's, the message is deleted (deletion is final), an edit not by the
    /// author, or a reaction the person already has (or does not have, to take back). Applying
    /// the same changes in log order from any point gives the same message.
    pub fn changed_by(&self, change: &Change) -> Option<Message> {
        if change.message_id != self.id || self.deleted {
            return None;
        }
        let mut changed = self.clone();
        match &change.kind {
            ChangeKind::Edit { text } => {
                if self.author.as_deref() != Some(change.author.as_str()) {
                    return None;
                }
                changed.text.clone_from(text);
                changed.edited_at = Some(change.timestamp);
            }
            ChangeKind::Delete => {
                changed.deleted = true;
                changed.text.clear();
                changed.reactions.clear();
            }
            ChangeKind::React { emoji } => {
                let index = match changed.reactions.iter().position(|r| r.emoji == *emoji) {
                    Some(index) => index,
                    None => {
                        changed.reactions.push(Reaction {
                            emoji: emoji.clone(),
                            count: 0,
                            by: Vec::new(),
                            authors: Vec::new(),
                        });
                        changed.reactions.len() - 1
                    }
                };
                let reaction = &mut changed.reactions[index];
                if reaction.authors.contains(&change.author) {
                    return None;
                }
                reaction.authors.push(change.author.clone());
                reaction.by.push(change.by.clone());
                reaction.count += 1;
            }
            ChangeKind::Unreact { emoji } => {
                let reaction = changed.reactions.iter_mut().find(|r| r.emoji == *emoji)?;
                let index = reaction.authors.iter().position(|a| *a == change.author)?;
                reaction.authors.remove(index);
                reaction.by.remove(index);
                reaction.count -= 1;
                changed.reactions.retain(|reaction| reaction.count > 0);
            }
        }
        Some(changed)
    }

    /// Whether `author` has reacted with `emoji`.
    pub fn has_reaction(&self, emoji: &str, author: &str) -> bool {
        self.reactions
            .iter()
            .any(|r| r.emoji == emoji && r.authors.iter().any(|a| a == author))
    }
}

/// One position of a room's log: a message, or a change to an earlier one. Stored as the
/// JSON of either (a change has `message_id` and `type`, a message neither).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    Change(Arc<Change>),
    Message(Arc<Message>),
}

impl Entry {
    pub fn id(&self) -> Uuid {
        match self {
            Self::Change(change) => change.id,
            Self::Message(message) => message.id,
        }
    }

    pub fn room(&self) -> &str {
        match self {
            Self::Change(change) => &change.room,
            Self::Message(message) => &message.room,
        }
    }

    pub fn timestamp(&self) -> f64 {
        match self {
            Self::Change(change) => change.timestamp,
            Self::Message(message) => message.timestamp,
        }
    }

    pub fn message(&self) -> Option<&Arc<Message>> {
        match self {
            Self::Change(_) => None,
            Self::Message(message) => Some(message),
        }
    }
}

impl From<Message> for Entry {
    fn from(message: Message) -> Self {
        Self::Message(Arc::new(message))
    }
}

impl From<Arc<Message>> for Entry {
    fn from(message: Arc<Message>) -> Self {
        Self::Message(message)
    }
}

impl From<Change> for Entry {
    fn from(change: Change) -> Self {
        Self::Change(Arc::new(change))
    }
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

string_newtype!(
    /// A room name: 1–64 characters of ASCII letters, digits, `-`, `_` and `.`.
    RoomName
);
string_newtype!(
    /// A sender's display name: 1–64 characters, trimmed, no control characters.
    SenderName
);
string_newtype!(
    /// Message text: 1–4,000 characters, not only whitespace. Newlines are kept.
    MessageText
);
string_newtype!(
    /// A client's self-chosen id: 1–128 characters of ASCII letters, digits, `-`, `_`, `.`, `:`.
    ClientId
);

string_newtype!(
    /// An account's name as its owner typed it: 1–32 characters of ASCII letters, digits, `-`,
    /// `_` and `.`, starting with a letter or digit. Two names that differ only in letter case
    /// are the same account ([`AccountName::key`]).
    AccountName
);

fn char_count_within(value: &str, max: usize) -> bool {
    // `chars().count()` only when the byte length could exceed the limit.
    value.len() <= max || value.chars().count() <= max
}

impl RoomName {
    /// Parses a room name; `None` or an empty parameter means [`DEFAULT_ROOM`].
    pub fn parse_or_default(value: Option<&str>) -> Result<Self, ChatError> {
        match value {
            None | Some("") => Ok(Self::default()),
            Some(value) => Self::parse(value),
        }
    }

    pub fn parse(value: &str) -> Result<Self, ChatError> {
        // Bytes: every valid character is ASCII, and no byte of a non-ASCII one passes.
        let valid = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.');
        if value.is_empty() || value.len() > ROOM_NAME_MAX_CHARS || !value.bytes().all(valid) {
            return Err(ChatError::invalid(format!(
                "room must be 1-{ROOM_NAME_MAX_CHARS} characters of letters, digits, '-', '_' or '.'"
            )));
        }
        Ok(Self(value.to_owned()))
    }
}

impl Default for RoomName {
    fn default() -> Self {
        Self(DEFAULT_ROOM.to_owned())
    }
}

impl SenderName {
    pub fn parse(value: &str) -> Result<Self, ChatError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(ChatError::invalid("sender must not be empty"));
        }
        if !char_count_within(value, SENDER_MAX_CHARS) {
            return Err(ChatError::invalid(format!(
                "sender must be at most {SENDER_MAX_CHARS} characters"
            )));
        }
        if value.chars().any(char::is_control) {
            return Err(ChatError::invalid(
                "sender must not contain control characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

impl MessageText {
    pub fn parse(value: &str) -> Result<Self, ChatError> {
        if value.trim().is_empty() {
            return Err(ChatError::invalid("text must not be empty"));
        }
        if !char_count_within(value, TEXT_MAX_CHARS) {
            return Err(ChatError::invalid(format!(
                "text must be at most {TEXT_MAX_CHARS} characters"
            )));
        }
        Ok(Self(value.to_owned()))
    }
}

impl AccountName {
    pub fn parse(value: &str) -> Result<Self, ChatError> {
        let valid = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.');
        let starts_well = value
            .bytes()
            .next()
            .is_some_and(|byte| byte.is_ascii_alphanumeric());
        if !starts_well || value.len() > ACCOUNT_NAME_MAX_CHARS || !value.bytes().all(valid) {
            return Err(ChatError::invalid(format!(
                "name must be 1-{ACCOUNT_NAME_MAX_CHARS} characters of letters, digits, '-', '_' \
                 or '.', starting with a letter or digit"
            )));
        }
        Ok(Self(value.to_owned()))
    }

    /// The name that identifies the account whatever the letter case: ASCII lowercase.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A password as typed: at least [`PASSWORD_MIN_CHARS`] characters, at most
/// [`PASSWORD_MAX_BYTES`] bytes. Its `Debug` shows nothing of it, so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(value: &str) -> Result<Self, ChatError> {
        if value.chars().count() < PASSWORD_MIN_CHARS {
            return Err(ChatError::invalid(format!(
                "password must be at least {PASSWORD_MIN_CHARS} characters"
            )));
        }
        if value.len() > PASSWORD_MAX_BYTES {
            return Err(ChatError::invalid(format!(
                "password must be at most {PASSWORD_MAX_BYTES} bytes"
            )));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl ClientId {
    pub fn parse(value: &str) -> Result<Self, ChatError> {
        let valid =
            |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b':');
        if value.is_empty() || value.len() > CLIENT_ID_MAX_CHARS || !value.bytes().all(valid) {
            return Err(ChatError::invalid(format!(
                "client_id must be 1-{CLIENT_ID_MAX_CHARS} characters of letters, digits, '-', '_', '.' or ':'"
            )));
        }
        Ok(Self(value.to_owned()))
    }
}

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

    fn out_of_range(&self) -> ChatError {
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

/// A signed-in person as presence and typing know them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// As [`Message::author`] names them.
    pub key: String,
    /// Their display name.
    pub name: String,
}

/// The largest `live_version` a stream takes: versions are counted from 1 and stay far below,
/// and JSON Schema's `int64` ends here.
pub const MAX_LIVE_VERSION: u64 = i64::MAX as u64;

/// How often the page says its person is typing while they type.
pub const TYPING_SIGNAL_EVERY_SECS: u64 = 3;
/// How long a typing signal lasts: past it, with no new signal, the person is no longer
/// typing (on the server and in every page).
pub const TYPING_LASTS_SECS: u64 = 6;

/// Who is in a room and who is typing there now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LiveState {
    /// Changes whenever the rest does: a stream's `live_version`.
    pub version: u64,
    /// Signed-in people whose stream follows the room, or did a few seconds ago, by name.
    pub online: Vec<String>,
    /// Streams of guests following the room.
    pub guests: usize,
    /// People typing in the room, by name (each for at most `TYPING_LASTS_SECS` after their
    /// last signal, and no longer once their message is sent).
    pub typing: Vec<String>,
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

/// `PATCH /api/messages/{id}` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EditBody {
    /// The new text, under the rules of a sent one: 1–4,000 characters (a server's
    /// `--max-text-chars` may allow fewer), not only whitespace.
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 4000,
            pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
        )
    )]
    pub text: String,
}

/// A reaction as a client names one: a single emoji, as Unicode defines them (skin tones and
/// other variants included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    #[cfg(feature = "ssr")]
    pub fn parse(value: &str) -> Result<Self, ChatError> {
        match emojis::get(value) {
            Some(emoji) => Ok(Self(emoji.as_str().to_owned())),
            None => Err(ChatError::invalid(format!(
                "{value:?} is not an emoji: react with exactly one"
            ))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
}

impl SendDraft {
    /// The request, sent by `sender`, whom the server knows as `author` (`None`: a guest).
    pub fn sent_by(self, sender: SenderName, author: Option<String>) -> SendRequest {
        SendRequest {
            room: self.room,
            sender,
            author,
            text: self.text,
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
}

/// A validated history request.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRequest {
    pub room: RoomName,
    pub limit: usize,
}

impl HistoryQuery {
    pub fn validate(&self) -> Result<HistoryRequest, ChatError> {
        Ok(HistoryRequest {
            room: RoomName::parse_or_default(self.room.as_deref())?,
            limit: HISTORY_LIMIT.parse(self.limit.as_deref())? as usize,
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

/// `POST /api/accounts` and `POST /api/sessions` bodies.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Credentials {
    /// 1–32 characters of `A-Z a-z 0-9 - _ .`, starting with a letter or digit; names that
    /// differ only in letter case are the same account.
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length = 32)
    )]
    pub name: String,
    /// At least 8 characters, at most 1,024 bytes.
    #[cfg_attr(feature = "ssr", schema(min_length = 8, format = Password))]
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// An account as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Account {
    pub name: String,
}

/// A new session: the token for `Authorization: Bearer`, and when it expires (the browser
/// gets the same token as an `HttpOnly` cookie).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionCreated {
    pub token: String,
    pub name: String,
    /// Unix seconds.
    pub expires_at: f64,
}

impl fmt::Debug for SessionCreated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCreated")
            .field("name", &self.name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Who the request is (`GET /api/me`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Me {
    pub name: String,
    /// `session` (an account here) or `token` (another app's signed token).
    pub via: String,
    /// Unix seconds: when the session or token stops working.
    pub expires_at: f64,
}

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

/// A message id a client names: a hyphenated UUIDv7 (what every message id is), so that ids
/// order by the time their messages were sent. [`MESSAGE_ID_PATTERN`] says the same.
/// `field` names the value in the error.
pub fn parse_message_id(value: &str, field: &str) -> Result<Uuid, ChatError> {
    match Uuid::try_parse(value) {
        Ok(id)
            if value.len() == HYPHENATED_LEN
                && id.get_version_num() == 7
                && id.get_variant() == uuid::Variant::RFC4122 =>
        {
            Ok(id)
        }
        _ => Err(ChatError::invalid(format!(
            "{field} must be a message id (a hyphenated UUIDv7)"
        ))),
    }
}

/// Characters of a hyphenated UUID; the other forms `Uuid::try_parse` takes are longer or
/// shorter.
const HYPHENATED_LEN: usize = 36;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_positions_are_message_ids() {
        let id = Uuid::now_v7();
        assert_eq!(parse_message_id(&id.to_string(), "id").unwrap(), id);
        let upper = id.to_string().to_uppercase();
        assert_eq!(
            parse_message_id(&upper, "id").unwrap(),
            id,
            "any letter case"
        );
        for bad in [
            "",
            "nope",
            "00000000-0000-0000-0000-000000000000",
            "67e55044-10b1-426f-9247-bb680e5fe0c8",
            "01890a5d-ac96-774b-1cb3-ea58c4f2b7a1",
            &format!("{id}x"),
            &id.simple().to_string(),
            &id.braced().to_string(),
        ] {
            assert!(parse_message_id(bad, "id").is_err(), "{bad:?} accepted");
        }
        assert_eq!(MarkReadBody::default().validate().unwrap(), None);
    }

    #[test]
    fn room_names_follow_the_documented_syntax() {
        for good in ["general", "a", "dev-ops_2.0", &"r".repeat(64)] {
            assert_eq!(RoomName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "with space",
            "ünïcode",
            "slash/room",
            &"r".repeat(65),
            "a?b",
        ] {
            assert!(RoomName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            RoomName::parse_or_default(None).unwrap().as_str(),
            "general"
        );
        assert_eq!(
            RoomName::parse_or_default(Some("")).unwrap().as_str(),
            "general"
        );
    }

    #[test]
    fn senders_are_trimmed_and_bounded() {
        assert_eq!(SenderName::parse("  alice ").unwrap().as_str(), "alice");
        assert_eq!(
            SenderName::parse(&"é".repeat(64))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            64
        );
        assert!(SenderName::parse("   ").is_err());
        assert!(SenderName::parse(&"é".repeat(65)).is_err());
        assert!(SenderName::parse("bell\u{7}").is_err());
    }

    #[test]
    fn text_keeps_newlines_and_counts_characters_not_bytes() {
        assert_eq!(MessageText::parse("a\nb").unwrap().as_str(), "a\nb");
        assert!(MessageText::parse(&"ü".repeat(4_000)).is_ok());
        assert!(MessageText::parse(&"ü".repeat(4_001)).is_err());
        assert!(MessageText::parse(" \n\t").is_err());
    }

    #[test]
    fn client_ids_are_bounded() {
        assert!(ClientId::parse("tab-1:abc.def_9").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"c".repeat(129)).is_err());
        assert!(ClientId::parse("a b").is_err());
    }

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
