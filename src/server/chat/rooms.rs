//! Rooms and their members: listing, creating and deleting private rooms, adding and
//! removing members, and other instances' changes to them.

use super::*;

impl Chat {
    /// The public rooms in use and the private rooms the caller may see, by name.
    pub async fn rooms(&self, caller: &Caller) -> Result<RoomList, ChatError> {
        let user = self.participant(caller)?;
        let private = self.shared.identity.rooms();
        let mut rooms: Vec<RoomInfo> = self
            .stats(caller)
            .await?
            .rooms
            .into_iter()
            .filter(|name| private.get(name).is_none())
            .map(RoomInfo::public)
            .collect();
        if let Some(user) = user {
            for name in private.visible_to(user) {
                rooms.extend(private.get(&name).map(|room| room_info(&room)));
            }
        }
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(RoomList { rooms })
    }

    /// Creates a room. A private one needs a user, who becomes its owner; a public one needs
    /// no creating, so only its name is checked. 409 if the name is in use.
    pub async fn create_room(
        &self,
        caller: &Caller,
        room: RoomName,
        private: bool,
    ) -> Result<RoomInfo, ChatError> {
        let user = self.participant(caller)?;
        let identity = &self.shared.identity;
        if is_direct_room(room.as_str()) {
            return Err(ChatError::invalid(format!(
                "room names starting with {DIRECT_ROOM_PREFIX} are direct rooms': start one \
                 with POST /api/dms"
            )));
        }
        if identity.rooms().get(room.as_str()).is_some() {
            return Err(ChatError::RoomTaken);
        }
        if !private {
            return Ok(RoomInfo::public(room.into()));
        }
        let user = user.ok_or_else(|| ChatError::unauthenticated("sign in to own a room"))?;
        if !matches!(user.via, Via::Session { .. }) {
            return Err(ChatError::forbidden(
                "a private room's owner must be an account of this server",
            ));
        }
        // A room people use stays public: the default room, or one with messages, held polls
        // or someone who joined it. One answer for every reason, which says no more than the
        // room list does.
        if room.as_str() == DEFAULT_ROOM
            || self.shared.broker.room_in_use(room.as_str())
            || identity.room_joined(room.as_str()).await?
        {
            return Err(ChatError::RoomTaken);
        }
        let record = PrivateRoomRecord {
            name: room.to_string(),
            owner: user.key.to_string(),
            members: Default::default(),
        };
        if !identity.create_private_room(&record).await? {
            return Err(ChatError::RoomTaken);
        }
        self.end_outsiders_polls(&record);
        Ok(room_info(&record))
    }

    /// Ends the polls held on a new private room's name by anyone but its people (through
    /// another instance, before it was made); a guest's stream waiting for it is answered
    /// `unavailable` when its first message comes.
    pub(super) fn end_outsiders_polls(&self, record: &PrivateRoomRecord) {
        self.shared.broker.end_polls(&record.name, |holder| {
            !holder.is_some_and(|holder| {
                holder == record.owner || record.members.iter().any(|member| member == holder)
            })
        });
    }

    /// The private room, if the user may see it (404 otherwise, and for public rooms).
    fn private_room(
        &self,
        user: Option<&User>,
        room: &RoomName,
    ) -> Result<Arc<PrivateRoomRecord>, ChatError> {
        self.visible(user, room.as_str())?;
        self.shared
            .identity
            .rooms()
            .get(room.as_str())
            .ok_or(ChatError::NoSuchRoom)
    }

    /// The private room, if the user owns it and it is not a direct room (whose people
    /// never change, and which nobody deletes).
    fn owned_room(
        &self,
        user: &User,
        room: &RoomName,
    ) -> Result<Arc<PrivateRoomRecord>, ChatError> {
        let record = self.private_room(Some(user), room)?;
        if is_direct_room(&record.name) {
            return Err(direct_room_fixed());
        }
        if !user.is_account(&record.owner) {
            return Err(ChatError::forbidden("only the room's owner can do that"));
        }
        Ok(record)
    }

    /// Deletes a private room and its messages (owner only); its polls are answered
    /// `disconnected`.
    pub async fn delete_room(&self, caller: &Caller, room: &RoomName) -> Result<(), ChatError> {
        let user = self.signed_in(caller)?;
        self.owned_room(user, room)?;
        let identity = &self.shared.identity;
        // Messages first, so the room is never public while it still has them; and again
        // after, for a member's send that landed in between.
        self.shared.broker.delete_room(room).await?;
        identity.delete_private_room(room.as_str()).await?;
        self.shared.broker.delete_room(room).await?;
        self.files().delete_room(room.as_str()).await;
        Ok(())
    }

    pub fn members(&self, caller: &Caller, room: &RoomName) -> Result<RoomMembers, ChatError> {
        let user = self.participant(caller)?;
        Ok(members_of(&*self.private_room(user, room)?))
    }

    /// Adds an account to a private room (owner only).
    pub async fn add_member(
        &self,
        caller: &Caller,
        room: &RoomName,
        name: &str,
    ) -> Result<RoomMembers, ChatError> {
        let user = self.signed_in(caller)?;
        self.owned_room(user, room)?;
        let account = AccountName::parse(name)?;
        let identity = &self.shared.identity;
        if !identity.account_exists(&account).await? {
            return Err(ChatError::NoSuchAccount);
        }
        let record = (identity.add_member(room.as_str(), &account.key()).await?)
            .ok_or(ChatError::NoSuchRoom)?;
        Ok(members_of(&record))
    }

    /// Removes a member from a private room: the owner removes anyone but themselves, a
    /// member may leave. The member's polls on the room are answered `disconnected`.
    pub async fn remove_member(
        &self,
        caller: &Caller,
        room: &RoomName,
        name: &str,
    ) -> Result<RoomMembers, ChatError> {
        let user = self.signed_in(caller)?;
        let record = self.private_room(Some(user), room)?;
        if is_direct_room(&record.name) {
            return Err(direct_room_fixed());
        }
        let key = AccountName::parse(name)?.key();
        if key == record.owner {
            return Err(ChatError::invalid(
                "the owner cannot leave their room: delete it instead",
            ));
        }
        if !user.is_account(&record.owner) && !user.is_account(&key) {
            return Err(ChatError::forbidden(
                "only the room's owner can remove members",
            ));
        }
        let record = (self.shared.identity)
            .remove_member(room.as_str(), &key)
            .await?
            .ok_or(ChatError::NoSuchMember)?;
        self.shared
            .broker
            .end_polls(room.as_str(), |holder| holder == Some(key.as_str()));
        Ok(members_of(&record))
    }

    /// Applies other instances' changes to private rooms to this instance's polls.
    pub(super) async fn follow_room_changes(
        self,
        mut changes: mpsc::UnboundedReceiver<RoomChange>,
    ) {
        while let Some(change) = changes.recv().await {
            let broker = &self.shared.broker;
            if change.deleted {
                broker.forget_room(&change.room);
                self.shared.identity.forget_private_room(&change.room);
            } else {
                broker.end_polls(&change.room, |holder| {
                    holder.is_some_and(|holder| change.removed.iter().any(|key| key == holder))
                });
            }
        }
    }
}

fn direct_room_fixed() -> ChatError {
    ChatError::forbidden("a direct room's people never change, and nobody deletes it")
}

/// A private room as the room list shows it; a direct room with its people.
pub(super) fn room_info(room: &PrivateRoomRecord) -> RoomInfo {
    let direct = is_direct_room(&room.name);
    RoomInfo {
        name: room.name.clone(),
        private: true,
        owner: Some(room.owner.clone()),
        direct,
        people: if direct { people_of(room) } else { Vec::new() },
    }
}

/// Everyone in a private room, owner included, in name order.
pub(super) fn people_of(room: &PrivateRoomRecord) -> Vec<String> {
    let mut people: Vec<String> = room.members.iter().cloned().collect();
    people.push(room.owner.clone());
    people.sort();
    people
}

fn members_of(room: &PrivateRoomRecord) -> RoomMembers {
    RoomMembers {
        room: room.name.clone(),
        owner: room.owner.clone(),
        members: room.members.iter().cloned().collect(),
    }
}
