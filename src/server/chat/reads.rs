//! Joined rooms and read positions: an account's own.

use super::*;

impl Chat {
    /// The rooms the account joined and may still see, each with its read position and how
    /// many of the room's messages came after it.
    pub async fn joined_rooms(&self, caller: &Caller) -> Result<JoinedRoomList, ChatError> {
        let user = self.account(caller)?;
        let identity = &self.shared.identity;
        let joined = identity.joined_rooms(&user.key).await?;
        // A room can be joined yet unseen: joined while public, then made private by another.
        let joined: Vec<JoinedRoomRecord> = joined
            .into_iter()
            .filter(|joined| identity.rooms().may_see(Some(user), &joined.room))
            .collect();
        let positions = (joined.iter())
            .map(|joined| (joined.room.clone(), joined.last_read))
            .collect();
        let mentions = (self.shared.broker.search_index())
            .unread_mentions(&user.key, positions)
            .await?;
        let rooms = joined
            .into_iter()
            .zip(mentions)
            .map(|(joined, mentions)| self.joined_room(joined, mentions))
            .collect();
        Ok(JoinedRoomList { rooms })
    }

    /// The newest messages that mention the caller (an account), in rooms they may read now,
    /// as they are now.
    pub async fn my_mentions(
        &self,
        caller: &Caller,
        request: &MentionsRequest,
    ) -> Result<MentionList, ChatError> {
        let user = self.account(caller)?;
        let hidden = self.shared.identity.rooms().hidden_from(Some(user));
        let broker = &self.shared.broker;
        let kept = (broker.search_index())
            .mentions_of(&user.key, hidden, request.limit)
            .await?;
        let messages = kept
            .into_iter()
            .map(|kept| broker.message(kept.id).unwrap_or_else(|| Arc::new(kept)))
            .collect();
        Ok(MentionList { messages })
    }

    /// As [`Chat::joined_rooms`], but `None` for a guest (where guests are let in), whose
    /// page keeps its own read positions: an answer, not a 401 the browser logs as an error.
    pub async fn joined_rooms_unless_guest(
        &self,
        caller: &Caller,
    ) -> Result<Option<JoinedRoomList>, ChatError> {
        if caller.user.is_none() && self.shared.identity.guests_allowed() {
            return Ok(None);
        }
        self.joined_rooms(caller).await.map(Some)
    }

    /// Joins the room (if the account has not), moves its read position forward to
    /// `last_read` (if newer than the kept one) and sets its level (if given); answers the room
    /// as kept now.
    pub async fn mark_read(
        &self,
        caller: &Caller,
        room: &RoomName,
        mark: MarkRead,
    ) -> Result<JoinedRoom, ChatError> {
        let user = self.account(caller)?;
        self.visible(Some(user), room.as_str())?;
        let kept = (self.shared.identity)
            .set_read(&user.key, room.as_str(), mark.last_read, mark.notify)
            .await?
            // The store checks membership too: the member was removed in between.
            .ok_or(ChatError::NoSuchRoom)?;
        let mentions = (self.shared.broker.search_index())
            .unread_mentions(&user.key, vec![(kept.room.clone(), kept.last_read)])
            .await?;
        Ok(self.joined_room(kept, mentions.first().copied().unwrap_or_default()))
    }

    /// Leaves a joined room (its messages and membership stay as they are).
    pub async fn leave_joined_room(
        &self,
        caller: &Caller,
        room: &RoomName,
    ) -> Result<(), ChatError> {
        let user = self.account(caller)?;
        self.visible(Some(user), room.as_str())?;
        if !(self.shared.identity)
            .leave_room(&user.key, room.as_str())
            .await?
        {
            return Err(ChatError::NotJoined);
        }
        Ok(())
    }

    /// The room as the list shows it; `mentions` of the account after its read position
    /// (in a direct room, every unread message counts as one).
    fn joined_room(&self, joined: JoinedRoomRecord, mentions: usize) -> JoinedRoom {
        let unread = self
            .shared
            .broker
            .unread_after(&joined.room, joined.last_read);
        let private = self.shared.identity.rooms().get(&joined.room);
        let direct = joined_direct(private.as_deref());
        JoinedRoom {
            private: private.is_some(),
            mentions: if direct.is_some() {
                unread.count
            } else {
                mentions
            },
            notify: (joined.notify).unwrap_or_else(|| NotifyLevel::default_for(&joined.room)),
            direct: direct.is_some(),
            people: direct.unwrap_or_default(),
            unread: unread.count,
            unread_at_least: unread.at_least,
            last_read_id: joined.last_read,
            room: joined.room,
        }
    }
}

/// A direct room's people, for a joined room that is one.
fn joined_direct(room: Option<&PrivateRoomRecord>) -> Option<Vec<String>> {
    room.filter(|room| is_direct_room(&room.name))
        .map(super::rooms::people_of)
}
