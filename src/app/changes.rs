//! Edits, deletions and reactions as the page applies them to the messages it shows.
//!
//! Edits and deletions go through [`Message::changed_by`], the model's own rule. Reactions
//! cannot: a [`Reaction`](crate::model::Reaction) knows its people by author key only on the
//! server (the keys are never sent), so a message that came as JSON would count someone twice.
//! The page knows reactions by display name (`by`) instead, which is also how it tells its own.
//!
//! Invariant: applying the same changes again, from any earlier point of the room's log, leaves
//! the message as applying them once did (a stream that rewinds, or history that already shows
//! a change, repeat some).

use std::sync::Arc;

use crate::model::{Change, ChangeKind, Me, Message};

/// `message` as `change` leaves it, or `None` when the change does nothing to it.
pub fn apply(message: &Message, change: &Change) -> Option<Message> {
    if change.message_id != message.id || message.deleted {
        return None;
    }
    match &change.kind {
        ChangeKind::Edit { .. } | ChangeKind::Delete => message.changed_by(change),
        ChangeKind::React { emoji } => {
            let mut changed = message.clone();
            match changed.reactions.iter_mut().find(|r| r.emoji == *emoji) {
                Some(reaction) if reaction.by.contains(&change.by) => return None,
                Some(reaction) => {
                    reaction.by.push(change.by.clone());
                    reaction.count = reaction.by.len();
                }
                None => {
                    // A reaction's fields are the model's to make: it makes the first one of an
                    // emoji from the change, on a copy with no other reactions to look at.
                    let alone = Message {
                        reactions: Vec::new(),
                        ..message.clone()
                    };
                    let first = alone.changed_by(change)?.reactions.pop()?;
                    changed.reactions.push(first);
                }
            }
            Some(changed)
        }
        ChangeKind::Unreact { emoji } => {
            let mut changed = message.clone();
            let reaction = changed.reactions.iter_mut().find(|r| r.emoji == *emoji)?;
            let index = reaction.by.iter().position(|by| *by == change.by)?;
            reaction.by.remove(index);
            reaction.count = reaction.by.len();
            changed.reactions.retain(|reaction| reaction.count > 0);
            Some(changed)
        }
    }
}

/// Applies `changes` in order to the messages of `list` they are about (messages the list no
/// longer has are left alone). Returns whether any message changed.
pub fn apply_all<'a>(
    list: &mut [Arc<Message>],
    changes: impl IntoIterator<Item = &'a Arc<Change>>,
) -> bool {
    let mut any = false;
    for change in changes {
        let Some(at) = position_of(list, change.message_id) else {
            continue;
        };
        if let Some(changed) = apply(&list[at], change) {
            list[at] = Arc::new(changed);
            any = true;
        }
    }
    any
}

/// Where the message `id` is in `list` (kept in log order, which is id order).
pub fn position_of(list: &[Arc<Message>], id: uuid::Uuid) -> Option<usize> {
    list.binary_search_by_key(&id, |message| message.id).ok()
}

/// How the server names `me` as an author ([`Message::author`]): an account's key (its name
/// in lowercase), or `token:KEY` for another site's token holder.
pub fn author_key(me: &Me) -> String {
    let key = me.name.to_ascii_lowercase();
    match me.via.as_str() {
        "token" => format!("token:{key}"),
        _ => key,
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn message(author: &str) -> Message {
        Message {
            id: Uuid::now_v7(),
            sender: author.into(),
            text: "hello".into(),
            timestamp: 1.0,
            room: "r".into(),
            verified: true,
            author: Some(author.into()),
            ..Message::default()
        }
    }

    fn change(message: &Message, who: &str, kind: ChangeKind) -> Arc<Change> {
        Arc::new(Change {
            id: Uuid::now_v7(),
            room: message.room.clone(),
            message_id: message.id,
            by: who.to_uppercase(),
            author: who.into(),
            timestamp: 2.0,
            kind,
        })
    }

    /// As the browser gets it: through JSON, which drops the reactions' author keys.
    fn over_the_wire(message: &Message) -> Message {
        serde_json::from_str(&serde_json::to_string(message).unwrap()).unwrap()
    }

    fn react(emoji: &str) -> ChangeKind {
        ChangeKind::React {
            emoji: emoji.into(),
        }
    }

    fn unreact(emoji: &str) -> ChangeKind {
        ChangeKind::Unreact {
            emoji: emoji.into(),
        }
    }

    #[test]
    fn reactions_are_counted_once_per_person_after_json() {
        let original = message("ann");
        let first = change(&original, "ann", react("👍"));
        let reacted = over_the_wire(&apply(&original, &first).unwrap());
        assert!(apply(&reacted, &first).is_none(), "the same person twice");
        let by_bob = change(&original, "bob", react("👍"));
        let both = apply(&reacted, &by_bob).unwrap();
        assert_eq!(both.reactions[0].count, 2);
        assert_eq!(both.reactions[0].by, ["ANN", "BOB"]);
        let taken_back = apply(
            &over_the_wire(&both),
            &change(&original, "ann", unreact("👍")),
        );
        let taken_back = taken_back.unwrap();
        assert_eq!(taken_back.reactions[0].by, ["BOB"]);
        assert_eq!(taken_back.reactions[0].count, 1);
        let none = apply(&taken_back, &change(&original, "bob", unreact("👍"))).unwrap();
        assert!(none.reactions.is_empty());
        assert!(apply(&none, &change(&original, "bob", unreact("👍"))).is_none());
    }

    #[test]
    fn applying_a_suffix_again_gives_the_same_message() {
        let original = message("ann");
        let changes = [
            change(
                &original,
                "ann",
                ChangeKind::Edit {
                    text: "one".into(),
                    mentions: Vec::new(),
                },
            ),
            change(&original, "bob", react("🎉")),
            change(&original, "ann", react("👀")),
            change(&original, "bob", unreact("🎉")),
            change(
                &original,
                "ann",
                ChangeKind::Edit {
                    text: "two".into(),
                    mentions: Vec::new(),
                },
            ),
        ];
        let mut once = vec![Arc::new(original.clone())];
        apply_all(&mut once, &changes);
        for from in 0..changes.len() {
            let mut again = vec![Arc::new(over_the_wire(&once[0]))];
            apply_all(&mut again, &changes[from..]);
            assert_eq!(
                over_the_wire(&again[0]),
                over_the_wire(&once[0]),
                "replayed from change {from}"
            );
        }
        assert_eq!(once[0].text, "two");
        assert_eq!(once[0].edited_at, Some(2.0));
        assert_eq!(once[0].reactions.len(), 1);
    }

    #[test]
    fn a_deleted_message_stays_deleted_and_edits_are_the_authors() {
        let original = message("ann");
        assert!(apply(
            &original,
            &change(
                &original,
                "bob",
                ChangeKind::Edit {
                    text: "x".into(),
                    mentions: Vec::new()
                }
            )
        )
        .is_none());
        let mut list = vec![Arc::new(original.clone())];
        let changes = [
            change(&original, "bob", react("👍")),
            change(&original, "ann", ChangeKind::Delete),
        ];
        assert!(apply_all(&mut list, &changes));
        assert!(list[0].deleted && list[0].text.is_empty() && list[0].reactions.is_empty());
        assert!(!apply_all(&mut list, &changes));
    }

    #[test]
    fn author_keys_follow_the_servers_naming() {
        let me = |name: &str, via: &str| Me {
            name: name.into(),
            via: via.into(),
            expires_at: 0.0,
        };
        assert_eq!(author_key(&me("Ann", "session")), "ann");
        assert_eq!(author_key(&me("Ann", "token")), "token:ann");
    }
}
