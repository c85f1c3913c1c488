//! Names and validated newtypes ("parse, don't validate"): rooms, senders, message text,
//! client ids, accounts, message ids, and the limits and JSON Schema patterns that say what a
//! valid one looks like. Every such rule lives here, so the REST handlers, the server functions
//! and the UI apply the same ones.

use std::fmt;

use serde::Serialize;
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

// The rules above as JSON Schema patterns, for the OpenAPI description (utoipa takes only literals
// there: `tests/suite/schema.rs` checks that the document uses these, and that each means its
// rule). Every class is spelled out with `\uXXXX` escapes, never `\s`, `\d` or `\w`, so a pattern
// means the same to ECMAScript, Python's `re` (a fuzzer's generator) and Rust's regex.

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
    /// A file's caption: like a text, but it may be empty (the file is the message).
    pub fn caption(value: &str) -> Result<Self, ChatError> {
        if value.trim().is_empty() {
            return Ok(Self(String::new()));
        }
        Self::parse(value)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MarkReadBody;

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
        assert_eq!(
            MarkReadBody::default().validate().unwrap(),
            crate::model::MarkRead::default()
        );
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
}
