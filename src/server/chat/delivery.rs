//! Polls, streams, history, stats and disconnection: what the caller may read and from where.

use super::*;

impl Chat {
    /// Holds the poll (see [`Broker::poll`]) if the caller may see the room.
    pub async fn poll(
        &self,
        caller: &Caller,
        mut request: PollRequest,
    ) -> Result<PollAnswer, ChatError> {
        let user = self.participant(caller)?;
        self.visible(user, request.room.as_str())?;
        request.holder = user.map(|user| user.key.clone());
        request.owner = Self::owner(caller);
        let room = request.room.clone();
        let answer = self.shared.broker.poll(request).await?;
        // Checked again before handing messages out: a room made private (or a member
        // removed) while the poll was being registered ends only the polls registered by then.
        if !answer.messages.is_empty() {
            self.visible(user, room.as_str())?;
        }
        Ok(answer)
    }

    /// Holds one request for many rooms (see [`Broker::stream`]). Rooms the caller may not
    /// read are answered `unavailable` at once, without waiting: they are never followed.
    pub async fn stream(
        &self,
        caller: &Caller,
        mut request: StreamRequest,
    ) -> Result<StreamAnswer, ChatError> {
        let user = self.participant(caller)?;
        let private = self.shared.identity.rooms();
        let hidden: Vec<RoomAnswer> = request
            .rooms
            .iter()
            .filter(|follow| !private.may_see(user, follow.room.as_str()))
            .map(|follow| RoomAnswer::unavailable(follow.room.to_string()))
            .collect();
        if !hidden.is_empty() {
            return Ok(StreamAnswer {
                status: PollStatus::Success,
                rooms: hidden,
                timestamp: unix_seconds(),
            });
        }
        // A signed-in person's stream makes its rooms, so who is there shows before the first
        // message (people are few, and their polls capped); a guest's makes only the default
        // room: a stream naming a hundred unused names makes no room, it waits for them.
        for follow in &mut request.rooms {
            follow.open = user.is_some() || follow.room.as_str() == DEFAULT_ROOM;
        }
        request.holder = user.map(|user| user.key.clone());
        request.owner = Self::owner(caller);
        request.person = user.map(Self::person);
        let rooms: Vec<RoomName> = request.rooms.iter().map(|f| f.room.clone()).collect();
        let mut answer = self.shared.broker.stream(request).await?;
        // Checked again before handing anything out, as in `poll`; and a stream ended early
        // because a room changed hands learns here which rooms it lost.
        if answer.status == PollStatus::Success {
            let private = self.shared.identity.rooms();
            for room in &rooms {
                if private.may_see(user, room.as_str()) {
                    continue;
                }
                match answer
                    .rooms
                    .iter_mut()
                    .find(|news| news.room == room.as_str())
                {
                    Some(news) => *news = RoomAnswer::unavailable(room.to_string()),
                    None => answer.rooms.push(RoomAnswer::unavailable(room.to_string())),
                }
            }
        }
        Ok(answer)
    }

    /// The room's most recent messages, or those around one (where a search result opens).
    pub async fn history(
        &self,
        caller: &Caller,
        request: &HistoryRequest,
    ) -> Result<History, ChatError> {
        let user = self.participant(caller)?;
        self.visible(user, request.room.as_str())?;
        match request.around {
            Some(id) => {
                (self.shared.broker)
                    .history_around(&request.room, id, request.limit)
                    .await
            }
            None => Ok(self.shared.broker.history(request)),
        }
    }

    /// The counters, over the rooms the caller may see.
    pub async fn stats(&self, caller: &Caller) -> Result<Stats, ChatError> {
        let user = self.participant(caller)?;
        let rooms = self.shared.identity.rooms();
        Ok(self
            .shared
            .broker
            .stats(|room| rooms.may_see(user, room))
            .await)
    }

    pub async fn disconnect(
        &self,
        caller: &Caller,
        client_id: &ClientId,
    ) -> Result<usize, ChatError> {
        self.participant(caller)?;
        (self.shared.broker)
            .disconnect(client_id, &Self::owner(caller))
            .await
    }
}
