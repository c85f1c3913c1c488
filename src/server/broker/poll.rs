//! `GET /api/poll`: one client's wait on one room, answered with the room's messages past its
//! cursor as soon as there are any.

use std::pin::pin;

use tokio::time::Instant;

use super::{
    clients::{Follows, PollEnd},
    room::{Read, Room},
    Broker, PollAnswer,
};
use crate::{
    error::ChatError,
    model::{PollRequest, PollStatus},
    server::clock::unix_seconds,
};

impl Broker {
    /// Holds until the room has messages the client has not seen, the timeout passes, a newer
    /// poll of the same client on the same room supersedes this one, the client is
    /// disconnected, or the server shuts down.
    ///
    /// Fails with [`ChatError::TooManyPolls`] when the server or the client already holds as
    /// many polls as allowed (a poll that supersedes another is always accepted).
    pub async fn poll(&self, request: PollRequest) -> Result<PollAnswer, ChatError> {
        let answer = self.hold_poll(&request).await;
        let metrics = &self.shared.metrics;
        match &answer {
            Ok(answer) => metrics.poll_answered(answer.status, answer.reset, answer.messages.len()),
            Err(_) => metrics.poll_refused(),
        }
        answer
    }

    async fn hold_poll(&self, request: &PollRequest) -> Result<PollAnswer, ChatError> {
        let shared = &*self.shared;
        let deadline = Instant::now() + request.timeout;
        let room_name = request.room.as_str();
        let room = shared.rooms.get_or_create(room_name);
        // Before the poll counts as held: a client that saw it held (`held_polls`) and then
        // sent expects the poll to get that message, so the poll's position must not be taken
        // after the send.
        let start = self
            .start_position(&room, room_name, request.last_message_id.as_deref())
            .await;
        let follows = Follows::Room(room.clone());
        let holder = request.holder.clone();
        let registered =
            (shared.clients).register(&request.client_id, &request.owner, follows, holder);
        let (_held, ended) = match registered {
            Ok(registered) => registered,
            Err(refused) => {
                // A refused poll leaves nothing behind, not even the empty room it created.
                shared.rooms.forget_if_unused(room_name, room);
                return Err(refused);
            }
        };
        let Some(start) = start else {
            return Ok(room.lock().reset());
        };
        Ok(self.wait_from(&room, start, deadline, ended).await)
    }

    /// Where the poll reads from: just after its cursor's message, or the room's end without a
    /// cursor. A cursor this instance has not seen may come from another instance sharing the
    /// store, newer than anything here yet: then the store hands over what it has, once, and
    /// the room is searched again. `None`: the room does not know the cursor.
    pub(super) async fn start_position(
        &self,
        room: &Room,
        room_name: &str,
        cursor: Option<&str>,
    ) -> Option<u64> {
        if let Some(start) = room.lock().start_after(cursor) {
            return Some(start);
        }
        if let Err(error) = self.shared.store.catch_up(room_name).await {
            tracing::warn!(%error, room = room_name, "store catch-up failed");
        }
        room.lock().start_after(cursor)
    }

    /// Answers with the room's messages from offset `from` on as soon as there are any, or
    /// ends the poll at `deadline` or when the registry tells it to (`ended`).
    async fn wait_from(
        &self,
        room: &Room,
        from: u64,
        deadline: Instant,
        mut ended: PollEnd,
    ) -> PollAnswer {
        let mut timeout = pin!(tokio::time::sleep_until(deadline));
        let mut woken = false;
        loop {
            // Made before the log is read, so it completes for any message committed after
            // that read (tokio's `Notified` sees `notify_waiters` calls from its creation on).
            // It joins the room's waiter list only if the poll must wait: a woken poll usually
            // finds its message below and returns without touching the list.
            let arrived = pin!(room.arrived.notified());
            {
                let mut log = room.lock();
                match log.read_from(from) {
                    Read::Nothing => {}
                    Read::Messages(answer) => {
                        if let (true, Some(newest)) = (woken, answer.messages.last()) {
                            let delay = unix_seconds() - newest.timestamp;
                            self.shared.metrics.wakeup.record(delay.max(0.0));
                        }
                        return answer;
                    }
                    // More messages arrived than the room keeps since this poll last looked.
                    Read::Evicted => return log.reset(),
                }
            }
            tokio::select! {
                () = arrived => woken = true,
                () = &mut timeout => return PollAnswer::empty(PollStatus::Timeout),
                // Superseded, disconnected, or timeout-shaped when the store lost sight of new
                // messages or the server shuts down.
                end = &mut ended => {
                    // A dropped sender means the client was forgotten: treat it as disconnected.
                    return PollAnswer::empty(end.unwrap_or(PollStatus::Disconnected));
                }
            }
        }
    }
}
