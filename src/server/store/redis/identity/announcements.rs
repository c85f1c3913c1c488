//! What an identity store announces on `PREFIX identity` when it changes something other
//! instances cache, and what it makes of the other instances' announcements.

use serde::{Deserialize, Serialize};

use super::Inner;
use crate::server::store::{identity::TokenHash, redis::subscription::Subscriber, StoreError};

/// One announcement on the identity channel.
#[derive(Debug, Serialize, Deserialize)]
struct Event {
    /// The instance that made the change.
    from: String,
    #[serde(flatten)]
    change: IdentityChange,
}

/// What changed, as the other instances' caches need to know it (`kind` on the wire).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum IdentityChange {
    SessionRevoked { token_hash: String },
    AccountChanged { account: String },
    RoomChanged { room: String },
}

impl Inner {
    /// The JSON announcing `change` as this instance's.
    pub(super) fn event(&self, change: IdentityChange) -> String {
        let event = Event {
            from: self.instance.clone(),
            change,
        };
        serde_json::to_string(&event).expect("an event serializes")
    }

    pub(super) fn account_changed(&self, account: &str) -> String {
        self.event(IdentityChange::AccountChanged {
            account: account.to_owned(),
        })
    }

    pub(super) fn room_changed(&self, room: &str) -> String {
        self.event(IdentityChange::RoomChanged {
            room: room.to_owned(),
        })
    }

    /// Tells the sink of an announcement, unless this instance made it.
    fn announced(&self, payload: &[u8]) {
        let event: Event = match serde_json::from_slice(payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "unreadable identity event in redis");
                return;
            }
        };
        if event.from == self.instance {
            return;
        }
        match event.change {
            IdentityChange::SessionRevoked { token_hash } => match from_hex(&token_hash) {
                Some(token_hash) => self.sink.session_revoked(&token_hash),
                None => tracing::warn!(%token_hash, "unreadable token hash in redis"),
            },
            IdentityChange::AccountChanged { account } => self.sink.account_changed(&account),
            IdentityChange::RoomChanged { room } => self.sink.room_changed(&room),
        }
    }
}

impl Subscriber for Inner {
    /// Announcements cannot be read back: after a loss, the sink reads again what it caches.
    /// Only now, once subscribed again: what changed before is read again, and nothing after
    /// is missed.
    async fn subscribed(&self, again: bool) -> Result<(), StoreError> {
        if again {
            self.sink.interrupted();
        }
        Ok(())
    }

    async fn published(&self, _channel: &str, payload: &[u8]) -> Result<(), StoreError> {
        self.announced(payload);
        Ok(())
    }

    /// What is cached stays as good as it was until the subscription is back.
    fn lost(&self) {}
}

pub(super) fn to_hex(hash: &TokenHash) -> String {
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Option<TokenHash> {
    let mut hash = [0; 32];
    if text.len() != 2 * hash.len() || !text.is_ascii() {
        return None;
    }
    for (byte, pair) in hash.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_go_through_hex_unchanged() {
        let hash: TokenHash = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(from_hex(&to_hex(&hash)), Some(hash));
        assert_eq!(from_hex("00"), None);
        assert_eq!(from_hex(&"zz".repeat(32)), None);
    }

    #[test]
    fn events_are_small_tagged_json() {
        let event = Event {
            from: "i1".into(),
            change: IdentityChange::AccountChanged {
                account: "alice".into(),
            },
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"from":"i1","kind":"account_changed","account":"alice"}"#
        );
    }
}
