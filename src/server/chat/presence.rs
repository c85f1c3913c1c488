//! Who is online and typing in a room.

use super::*;

impl Chat {
    /// Says the caller is typing in the room (see [`Broker::typing`]); signed-in users only,
    /// so that nobody shows as typing under a name that is not theirs.
    pub fn typing(&self, caller: &Caller, room: &RoomName) -> Result<(), ChatError> {
        self.participant(caller)?;
        let user = (caller.user.as_ref())
            .ok_or_else(|| ChatError::unauthenticated("sign in to show that you are typing"))?;
        self.visible(Some(user), room.as_str())?;
        self.shared.broker.typing(room, &Self::person(user));
        Ok(())
    }

    /// Who is online and typing in the room, if the caller may see it.
    pub fn online(&self, caller: &Caller, room: &RoomName) -> Result<LiveState, ChatError> {
        let user = self.participant(caller)?;
        self.visible(user, room.as_str())?;
        Ok(self.shared.broker.live_state(room))
    }
}
