//! Presence: who is online and typing in a room, as streams carry it (`live`).

use serde::{Deserialize, Serialize};

/// A signed-in person as presence and typing know them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// As [`Message::author`](super::Message::author) names them.
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
