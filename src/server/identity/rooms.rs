//! Private rooms in memory: who owns each and who its members are, checked on every request
//! that reads or changes a room. Public rooms are not listed: a room is public unless it is
//! here.
//!
//! The store is the truth; this copy follows this instance's own changes as they are made and
//! other instances' ones as the store reports them ([`PrivateRooms::reload`]), and tells the
//! chat service of every member who lost a room that way ([`RoomChange`]), so their polls end.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard},
};

use tokio::sync::mpsc;

use super::{User, Via};
use crate::model::is_direct_room;
use crate::server::store::{identity::PrivateRoomRecord, IdentityStore};

/// A private room changed on another instance: these users lost it (all of them when it was
/// deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomChange {
    pub room: String,
    pub deleted: bool,
    /// Keys of the users who may no longer see the room.
    pub removed: Vec<String>,
}

pub(crate) struct PrivateRooms {
    rooms: RwLock<HashMap<String, Arc<PrivateRoomRecord>>>,
    changes: mpsc::UnboundedSender<RoomChange>,
}

impl PrivateRooms {
    pub fn new(changes: mpsc::UnboundedSender<RoomChange>) -> Self {
        Self {
            rooms: RwLock::default(),
            changes,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Arc<PrivateRoomRecord>>> {
        self.rooms
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Arc<PrivateRoomRecord>>> {
        self.rooms
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The private room of this name, if it is one.
    pub fn get(&self, room: &str) -> Option<Arc<PrivateRoomRecord>> {
        self.read().get(room).cloned()
    }

    /// Whether `user` (a guest when `None`) may see `room`: every public room; a private
    /// one only as its owner, a member, or the holder of a token naming it; a direct room's
    /// name, before the room is made, nobody.
    pub fn may_see(&self, user: Option<&User>, room: &str) -> bool {
        let rooms = self.read();
        let Some(private) = rooms.get(room) else {
            // A direct room's name is never a public room's.
            return !is_direct_room(room);
        };
        user.is_some_and(|user| admits(private, user))
    }

    /// The names of the private rooms `user` may see.
    pub fn visible_to(&self, user: &User) -> Vec<String> {
        self.read()
            .values()
            .filter(|room| admits(room, user))
            .map(|room| room.name.clone())
            .collect()
    }

    /// The names of the private rooms `user` (a guest when `None`) may not see: what a search
    /// leaves out.
    pub fn hidden_from(&self, user: Option<&User>) -> Vec<String> {
        self.read()
            .values()
            .filter(|room| !user.is_some_and(|user| admits(room, user)))
            .map(|room| room.name.clone())
            .collect()
    }

    /// Takes this instance's own change (already made in the store).
    pub fn put(&self, room: PrivateRoomRecord) {
        self.write().insert(room.name.clone(), Arc::new(room));
    }

    pub fn remove(&self, room: &str) {
        self.write().remove(room);
    }

    pub fn replace_all(&self, rooms: Vec<PrivateRoomRecord>) {
        *self.write() = rooms
            .into_iter()
            .map(|room| (room.name.clone(), Arc::new(room)))
            .collect();
    }

    /// Reads `room` from the store again after another instance changed it, and reports who
    /// lost it.
    pub async fn reload(&self, store: &Arc<dyn IdentityStore>, room: &str) {
        match store.private_room(room).await {
            Ok(now) => self.take(room, now),
            Err(error) => tracing::warn!(%error, room, "reading a changed private room failed"),
        }
    }

    /// Reads every private room again (the store may have missed telling some change).
    pub async fn reload_all(&self, store: &Arc<dyn IdentityStore>) {
        let rooms = match store.private_rooms().await {
            Ok(rooms) => rooms,
            Err(error) => {
                tracing::warn!(%error, "reading private rooms again failed");
                return;
            }
        };
        let mut known: BTreeSet<String> = self.read().keys().cloned().collect();
        for room in rooms {
            known.remove(&room.name);
            let name = room.name.clone();
            self.take(&name, Some(room));
        }
        for gone in known {
            self.take(&gone, None);
        }
    }

    fn take(&self, room: &str, now: Option<PrivateRoomRecord>) {
        let deleted = now.is_none();
        let before = match now {
            Some(now) => self.write().insert(room.to_owned(), Arc::new(now)),
            // Kept until the chat service has forgotten the room's messages and polls: removed
            // first, the room would be public while it still holds them.
            None => self.get(room),
        };
        let Some(before) = before else { return };
        let after = if deleted { None } else { self.get(room) };
        let removed: Vec<String> = everyone(&before)
            .filter(|key| after.as_ref().is_none_or(|after| !is_in(after, key)))
            .map(str::to_owned)
            .collect();
        if deleted || !removed.is_empty() {
            let _ = self.changes.send(RoomChange {
                room: room.to_owned(),
                deleted,
                removed,
            });
        }
    }
}

fn everyone(room: &PrivateRoomRecord) -> impl Iterator<Item = &str> {
    std::iter::once(room.owner.as_str()).chain(room.members.iter().map(String::as_str))
}

fn is_in(room: &PrivateRoomRecord, key: &str) -> bool {
    room.owner == key || room.members.contains(key)
}

/// An account's session is let in by the room's owner and members; another site's token
/// only by its own `rooms` claim: that site's "alice" is not this server's account alice.
fn admits(room: &PrivateRoomRecord, user: &User) -> bool {
    match &user.via {
        Via::Session { .. } => is_in(room, &user.key),
        Via::Token { rooms, .. } => rooms.iter().any(|allowed| allowed.as_str() == room.name),
    }
}
