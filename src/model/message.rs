//! A message and the changes to it (edits, deletions, reactions): how a change applies, and
//! [`Entry`], one position of a room's log.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ACCOUNT_NAME_MAX_CHARS;

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
    /// The accounts its text mentions (`@name`, lowercase) that could read the room when it
    /// was sent or last edited; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// The file sent with it (its text then the caption, possibly empty); absent when none.
    /// Deleting the message deletes the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<super::Attachment>,
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
    /// The author replaced the text (and so who it mentions).
    Edit {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<String>,
    },
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
            ChangeKind::Edit { text, mentions } => {
                if self.author.as_deref() != Some(change.author.as_str()) {
                    return None;
                }
                changed.text.clone_from(text);
                changed.mentions.clone_from(mentions);
                changed.edited_at = Some(change.timestamp);
            }
            ChangeKind::Delete => {
                changed.deleted = true;
                changed.text.clear();
                changed.reactions.clear();
                changed.mentions.clear();
                changed.attachment = None;
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

/// The most different names one text mentions; later ones are not mentions.
pub const MAX_MENTIONS: usize = 20;

/// The account names `text` mentions as `@name`, lowercase, each once, in order, at most
/// [`MAX_MENTIONS`]: an `@` that starts a word (not inside `ann@example.com`), then an account
/// name (a trailing `.`, `-` or `_` ends the sentence, not the name). Whether each is someone
/// who may read the room is the server's to say.
pub fn mentioned_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let starts_word = previous.is_none_or(|p| !(p.is_alphanumeric() || "._-@".contains(p)));
        previous = Some(c);
        if c != '@' || !starts_word {
            continue;
        }
        let rest = &text[at + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
            .unwrap_or(rest.len());
        let name = rest[..end].trim_end_matches(['.', '-', '_']);
        if name.is_empty()
            || name.len() > ACCOUNT_NAME_MAX_CHARS
            || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            continue;
        }
        let key = name.to_ascii_lowercase();
        if !names.contains(&key) {
            names.push(key);
            if names.len() == MAX_MENTIONS {
                break;
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_at_names_starting_a_word_each_once() {
        assert_eq!(
            mentioned_names("@Ann and @bob.smith, ask @ann again (@cy)."),
            ["ann", "bob.smith", "cy"]
        );
    }

    #[test]
    fn an_address_or_a_lone_at_is_no_mention() {
        assert!(mentioned_names("mail ann@example.com or @ @. @-x @@bob").is_empty());
    }

    #[test]
    fn too_long_a_name_is_no_account_and_too_many_stop_counting() {
        assert!(mentioned_names(&format!("@{}", "a".repeat(33))).is_empty());
        let many: String = (0..30).map(|i| format!("@p{i} ")).collect();
        assert_eq!(mentioned_names(&many).len(), MAX_MENTIONS);
    }
}
