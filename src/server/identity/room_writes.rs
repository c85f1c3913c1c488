//! Identity's writes to private rooms and to accounts' joined rooms: each goes to the store
//! and, for private rooms, to the in-memory copy ([`super::rooms`]) in the same call, so the
//! two never disagree on this instance. The chat service decides who may make a change; this
//! only makes it.

use std::sync::Arc;

use uuid::Uuid;

use super::{store_failed, Identity};
use crate::{
    error::ChatError,
    model::NotifyLevel,
    server::store::identity::{JoinedRoomRecord, PrivateRoomRecord},
};

impl Identity {
    /// Whether any account joined `room` (a room people use stays public).
    pub async fn room_joined(&self, room: &str) -> Result<bool, ChatError> {
        self.store().room_joined(room).await.map_err(store_failed)
    }

    /// Creates the private room; `false` if the name is taken (on any instance).
    pub async fn create_private_room(&self, record: &PrivateRoomRecord) -> Result<bool, ChatError> {
        let created = (self.store())
            .create_private_room(record)
            .await
            .map_err(store_failed)?;
        if created {
            self.rooms().put(record.clone());
        }
        Ok(created)
    }

    /// Deletes the private room (its messages are the broker's).
    pub async fn delete_private_room(&self, room: &str) -> Result<(), ChatError> {
        (self.store())
            .delete_private_room(room)
            .await
            .map_err(store_failed)?;
        self.rooms().remove(room);
        Ok(())
    }

    /// Adds the account `key` to the private room; the room as it is now, or `None` if it is
    /// gone.
    pub async fn add_member(
        &self,
        room: &str,
        key: &str,
    ) -> Result<Option<PrivateRoomRecord>, ChatError> {
        self.change_membership(room, key, Membership::Add).await
    }

    /// Removes the account `key` from the private room; the room as it is now, or `None` if
    /// they were not a member.
    pub async fn remove_member(
        &self,
        room: &str,
        key: &str,
    ) -> Result<Option<PrivateRoomRecord>, ChatError> {
        self.change_membership(room, key, Membership::Remove).await
    }

    async fn change_membership(
        &self,
        room: &str,
        key: &str,
        change: Membership,
    ) -> Result<Option<PrivateRoomRecord>, ChatError> {
        let Some(current) = self.rooms().get(room) else {
            return Ok(None);
        };
        let store = self.store();
        let changed = match change {
            Membership::Add => store.add_member(room, key).await,
            Membership::Remove => store.remove_member(room, key).await,
        };
        if !changed.map_err(store_failed)? {
            return Ok(None);
        }
        let mut record = (*current).clone();
        match change {
            // The owner is no member of their own room.
            Membership::Add if key == record.owner => {}
            Membership::Add => {
                record.members.insert(key.to_owned());
            }
            Membership::Remove => {
                record.members.remove(key);
            }
        }
        self.rooms().put(record.clone());
        Ok(Some(record))
    }

    /// Forgets a private room another instance deleted.
    /// The private room as the store has it now (another instance changed it), also kept here.
    pub async fn reload_private_room(&self, room: &str) -> Option<Arc<PrivateRoomRecord>> {
        self.rooms().reload(self.store(), room).await;
        self.rooms().get(room)
    }

    pub fn forget_private_room(&self, room: &str) {
        self.rooms().remove(room);
    }

    /// The rooms the account joined, with their read positions.
    pub async fn joined_rooms(&self, key: &str) -> Result<Vec<JoinedRoomRecord>, ChatError> {
        self.store().joined_rooms(key).await.map_err(store_failed)
    }

    /// Joins the room, moves the read position forward to `last_read` (the store keeps the
    /// newer) and sets the level if given; `None` if the account may no longer keep it
    /// (removed in between).
    pub async fn set_read(
        &self,
        key: &str,
        room: &str,
        last_read: Option<Uuid>,
        notify: Option<NotifyLevel>,
    ) -> Result<Option<JoinedRoomRecord>, ChatError> {
        (self.store())
            .set_read(key, room, last_read, notify)
            .await
            .map_err(store_failed)
    }

    /// The accounts that joined the room and chose a level there, with it.
    pub async fn levels_in(&self, room: &str) -> Result<Vec<(String, NotifyLevel)>, ChatError> {
        self.store().levels_in(room).await.map_err(store_failed)
    }

    /// Leaves a joined room; `false` if the account had not joined it.
    pub async fn leave_room(&self, key: &str, room: &str) -> Result<bool, ChatError> {
        (self.store())
            .leave_room(key, room)
            .await
            .map_err(store_failed)
    }
}

#[derive(Clone, Copy)]
enum Membership {
    Add,
    Remove,
}
