//! Accounts, sessions, private rooms and joined rooms in memory, gone with the process: for tests and
//! throw-away servers. One instance only, so it tells no sink of anything.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Mutex, MutexGuard},
};

use async_trait::async_trait;
use uuid::Uuid;

use crate::model::NotifyLevel;
use crate::server::{
    clock::unix_seconds,
    store::{
        identity::{
            AccountRecord, IdentityStore, JoinedRoomRecord, PrivateRoomRecord, SessionRecord,
            TokenHash,
        },
        StoreError,
    },
};

#[derive(Default)]
pub struct MemoryIdentityStore {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    accounts: BTreeMap<String, AccountRecord>,
    sessions: HashMap<TokenHash, SessionRecord>,
    rooms: HashMap<String, PrivateRoomRecord>,
    /// Per account key: each joined room, its read position and level.
    joined: HashMap<String, BTreeMap<String, Joined>>,
}

/// A joined room's read position and level.
type Joined = (Option<Uuid>, Option<NotifyLevel>);

impl Kept {
    fn leave(&mut self, account: &str, room: &str) -> bool {
        self.joined
            .get_mut(account)
            .is_some_and(|rooms| rooms.remove(room).is_some())
    }
}

impl MemoryIdentityStore {
    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl IdentityStore for MemoryIdentityStore {
    async fn create_account(&self, account: &AccountRecord) -> Result<bool, StoreError> {
        let mut kept = self.kept();
        let key = account.key();
        if kept.accounts.contains_key(&key) {
            return Ok(false);
        }
        kept.accounts.insert(key, account.clone());
        Ok(true)
    }

    async fn account(&self, key: &str) -> Result<Option<AccountRecord>, StoreError> {
        Ok(self.kept().accounts.get(key).cloned())
    }

    async fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        Ok(self.kept().accounts.values().cloned().collect())
    }

    async fn set_password(&self, key: &str, password_hash: &str) -> Result<bool, StoreError> {
        Ok(match self.kept().accounts.get_mut(key) {
            Some(account) => {
                account.password_hash = password_hash.to_owned();
                true
            }
            None => false,
        })
    }

    async fn set_disabled(&self, key: &str, disabled: bool) -> Result<bool, StoreError> {
        let mut kept = self.kept();
        let Some(account) = kept.accounts.get_mut(key) else {
            return Ok(false);
        };
        account.disabled = disabled;
        if disabled {
            kept.sessions.retain(|_, session| session.account != key);
        }
        Ok(true)
    }

    async fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let mut kept = self.kept();
        let now = unix_seconds();
        // Expired sessions go as new ones come, so the map stays as large as the live ones.
        kept.sessions.retain(|_, session| session.expires_at > now);
        kept.sessions.insert(session.token_hash, session.clone());
        Ok(())
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        let now = unix_seconds();
        Ok(self
            .kept()
            .sessions
            .get(token_hash)
            .filter(|session| session.expires_at > now)
            .cloned())
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> Result<bool, StoreError> {
        Ok(self.kept().sessions.remove(token_hash).is_some())
    }

    async fn delete_sessions_of(&self, account: &str) -> Result<usize, StoreError> {
        let mut kept = self.kept();
        let before = kept.sessions.len();
        kept.sessions
            .retain(|_, session| session.account != account);
        Ok(before - kept.sessions.len())
    }

    async fn create_private_room(&self, room: &PrivateRoomRecord) -> Result<bool, StoreError> {
        let mut kept = self.kept();
        if kept.rooms.contains_key(&room.name) {
            return Ok(false);
        }
        kept.rooms.insert(room.name.clone(), room.clone());
        Ok(true)
    }

    async fn private_room(&self, name: &str) -> Result<Option<PrivateRoomRecord>, StoreError> {
        Ok(self.kept().rooms.get(name).cloned())
    }

    async fn private_rooms(&self) -> Result<Vec<PrivateRoomRecord>, StoreError> {
        Ok(self.kept().rooms.values().cloned().collect())
    }

    async fn delete_private_room(&self, name: &str) -> Result<bool, StoreError> {
        let mut kept = self.kept();
        if kept.rooms.remove(name).is_none() {
            return Ok(false);
        }
        for rooms in kept.joined.values_mut() {
            rooms.remove(name);
        }
        Ok(true)
    }

    async fn add_member(&self, room: &str, account: &str) -> Result<bool, StoreError> {
        Ok(match self.kept().rooms.get_mut(room) {
            Some(room) => {
                if room.owner != account {
                    room.members.insert(account.to_owned());
                }
                true
            }
            None => false,
        })
    }

    async fn remove_member(&self, room: &str, account: &str) -> Result<bool, StoreError> {
        let mut kept = self.kept();
        let removed = kept
            .rooms
            .get_mut(room)
            .is_some_and(|room| room.members.remove(account));
        if removed {
            kept.leave(account, room);
        }
        Ok(removed)
    }

    async fn joined_rooms(&self, account: &str) -> Result<Vec<JoinedRoomRecord>, StoreError> {
        Ok(self
            .kept()
            .joined
            .get(account)
            .into_iter()
            .flatten()
            .map(|(room, (last_read, notify))| JoinedRoomRecord {
                room: room.clone(),
                last_read: *last_read,
                notify: *notify,
            })
            .collect())
    }

    async fn room_joined(&self, room: &str) -> Result<bool, StoreError> {
        Ok(self
            .kept()
            .joined
            .values()
            .any(|rooms| rooms.contains_key(room)))
    }

    async fn set_read(
        &self,
        account: &str,
        room: &str,
        last_read: Option<Uuid>,
        notify: Option<NotifyLevel>,
    ) -> Result<Option<JoinedRoomRecord>, StoreError> {
        let mut kept = self.kept();
        if let Some(private) = kept.rooms.get(room) {
            if private.owner != account && !private.members.contains(account) {
                return Ok(None);
            }
        }
        let (kept_read, kept_notify) = kept
            .joined
            .entry(account.to_owned())
            .or_default()
            .entry(room.to_owned())
            .or_default();
        // `None` orders before every id: a position only moves forward.
        *kept_read = (*kept_read).max(last_read);
        *kept_notify = notify.or(*kept_notify);
        Ok(Some(JoinedRoomRecord {
            room: room.to_owned(),
            last_read: *kept_read,
            notify: *kept_notify,
        }))
    }

    async fn levels_in(&self, room: &str) -> Result<Vec<(String, NotifyLevel)>, StoreError> {
        Ok((self.kept().joined.iter())
            .filter_map(|(account, rooms)| Some((account.clone(), rooms.get(room)?.1?)))
            .collect())
    }

    async fn leave_room(&self, account: &str, room: &str) -> Result<bool, StoreError> {
        Ok(self.kept().leave(account, room))
    }
}
