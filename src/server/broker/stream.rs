//! `POST /api/stream`: one client's wait on many rooms, answered with what is new in each
//! (messages, changes, who is online and typing) as soon as any has news.

use std::{future::Future, pin::pin, sync::Arc};

use tokio::time::Instant;

use super::{
    answer::{RoomAnswer, StreamAnswer},
    clients::{Follows, PollEnd},
    lock,
    room::{json_str_len, Room},
    Broker,
};
use crate::{
    error::ChatError,
    model::{LiveState, PollStatus, RoomName, StreamFrom, StreamRequest},
    server::clock::unix_seconds,
};

impl Broker {
    /// Holds one request for many rooms until any of them has messages the client has not
    /// seen (answering every room that has), or as [`Broker::poll`] for the rest: the timeout,
    /// a newer stream of the same client, a disconnect, shutdown. A followed room deleted while
    /// held is answered `unavailable`; one whose user lost access ends the stream early with
    /// no news (the caller checks access). The same per-room rules as `poll`: oldest first, at
    /// most [`MAX_MESSAGES_PER_POLL`](crate::model::MAX_MESSAGES_PER_POLL) per room, a reset
    /// for an unknown cursor.
    pub async fn stream(&self, request: StreamRequest) -> Result<StreamAnswer, ChatError> {
        let answer = self.hold_stream(request).await;
        let metrics = &self.shared.metrics;
        match &answer {
            Ok(answer) => {
                let messages = answer.rooms.iter().map(|news| news.messages.len()).sum();
                let reset = answer.rooms.iter().any(|news| news.reset);
                metrics.poll_answered(answer.status, reset, messages);
            }
            Err(_) => metrics.poll_refused(),
        }
        answer
    }

    async fn hold_stream(&self, request: StreamRequest) -> Result<StreamAnswer, ChatError> {
        let shared = &*self.shared;
        let deadline = Instant::now() + request.timeout;
        let mut followed = Vec::with_capacity(request.rooms.len());
        let mut awaited = Vec::new();
        for follow in request.rooms {
            let (name, live_version) = (follow.room, follow.live_version);
            // A room nobody has written to is not made for a stream (a stream naming a hundred
            // of them would make a hundred rooms) unless asked: the stream waits for it.
            let room = match &follow.from {
                _ if follow.open => shared.rooms.get_or_create(name.as_str()),
                StreamFrom::After(_) => shared.rooms.get_or_create(name.as_str()),
                StreamFrom::Now | StreamFrom::Start => match shared.rooms.get(name.as_str()) {
                    Some(room) => room,
                    None => {
                        awaited.push(Awaited { name, live_version });
                        continue;
                    }
                },
            };
            // As for a poll: positions are taken before the stream counts as held.
            let start = match &follow.from {
                StreamFrom::Now => Some(room.lock().end()),
                StreamFrom::After(id) => self.start_position(&room, name.as_str(), Some(id)).await,
                StreamFrom::Start => room.lock().beginning(),
            };
            followed.push(Followed {
                name,
                room,
                start,
                live_version,
            });
        }
        let rooms: Vec<_> = followed.iter().map(|room| room.room.clone()).collect();
        let follows = Follows::Stream(rooms.clone().into());
        let registered =
            shared
                .clients
                .register(&request.client_id, &request.owner, follows, request.holder);
        let (_held, ended) = match registered {
            Ok(registered) => registered,
            Err(refused) => {
                for room in followed {
                    shared.rooms.forget_if_unused(room.name.as_str(), room.room);
                }
                return Err(refused);
            }
        };
        let client_id = request.client_id.as_str();
        let _attendance = (shared.presence).attend(rooms, request.person.as_ref(), client_id);
        let (status, rooms) = self
            .wait_on_rooms(&mut followed, &mut awaited, deadline, ended)
            .await;
        Ok(StreamAnswer {
            status,
            rooms,
            timestamp: unix_seconds(),
        })
    }

    /// [`Broker::wait_from`] for many rooms: what is new in each, as soon as any has news.
    /// An awaited room (one nobody had written to) joins the followed ones once it has an
    /// entry, read from its beginning: all of it is new to the client.
    async fn wait_on_rooms(
        &self,
        followed: &mut Vec<Followed>,
        awaited: &mut Vec<Awaited>,
        deadline: Instant,
        mut ended: PollEnd,
    ) -> (PollStatus, Vec<RoomAnswer>) {
        let mut timeout = pin!(tokio::time::sleep_until(deadline));
        loop {
            // Made before the rooms are looked up, as the arrivals below before the logs are
            // read: a room made after its lookup still completes it.
            let mut created = pin!(self.shared.rooms.created.notified());
            awaited.retain(|room| match self.shared.rooms.get(room.name.as_str()) {
                Some(made) => {
                    let start = made.lock().beginning();
                    followed.push(Followed {
                        name: room.name.clone(),
                        room: made,
                        start,
                        live_version: room.live_version,
                    });
                    false
                }
                None => true,
            });
            // Made before the logs are read, as in `wait_from`: a message committed after its
            // room's read still completes its future.
            let mut arrivals: Vec<_> = followed
                .iter()
                .map(|room| Box::pin(room.room.news.notified()))
                .collect();
            let news = self.news(followed);
            if !news.is_empty() {
                return (PollStatus::Success, news);
            }
            let any_arrived = std::future::poll_fn(|context| {
                let ready = arrivals
                    .iter_mut()
                    .any(|arrived| arrived.as_mut().poll(context).is_ready());
                if ready {
                    std::task::Poll::Ready(())
                } else {
                    std::task::Poll::Pending
                }
            });
            tokio::select! {
                () = any_arrived => {}
                () = &mut created, if !awaited.is_empty() => {}
                () = &mut timeout => return (PollStatus::Timeout, Vec::new()),
                end = &mut ended => {
                    return match end.unwrap_or(PollStatus::Disconnected) {
                        // A followed room lost a user, or was deleted.
                        PollStatus::Success => (PollStatus::Success, self.deleted(followed)),
                        status => (status, Vec::new()),
                    };
                }
            }
        }
    }

    /// What is new in the followed rooms, in their order, within one answer's bytes: a room
    /// that does not fit is left for the next read (its position has not moved).
    fn news(&self, followed: &[Followed]) -> Vec<RoomAnswer> {
        let mut left = self.shared.config.max_answer_bytes;
        let mut news = Vec::new();
        for room in followed {
            if left == 0 {
                break;
            }
            news.extend(room.news(&mut left));
        }
        news
    }

    /// The followed rooms deleted since they were followed, as `unavailable`: a deleted room
    /// is no longer the room of its name in [`Rooms`](super::room::Rooms).
    fn deleted(&self, followed: &[Followed]) -> Vec<RoomAnswer> {
        followed
            .iter()
            .filter(|room| {
                let now = self.shared.rooms.get(room.name.as_str());
                now.is_none_or(|now| !Arc::ptr_eq(&now, &room.room))
            })
            .map(|room| RoomAnswer::unavailable(room.name.to_string()))
            .collect()
    }
}

/// A room a stream waits for: nobody had written to it when the stream came.
struct Awaited {
    name: RoomName,
    live_version: Option<u64>,
}

/// A room a stream follows, where in its log the stream reads from (`None`: the cursor
/// was unknown, answered with a reset), and the version of who is online and typing the client
/// has, if it asked for it.
struct Followed {
    name: RoomName,
    room: Arc<Room>,
    start: Option<u64>,
    live_version: Option<u64>,
}

impl Followed {
    /// What is new in the room, taken from the `left` bytes of the answer. A room's first
    /// entry is taken even past them, so the client always moves on; then nothing is left and
    /// the answer ends.
    fn news(&self, left: &mut usize) -> Option<RoomAnswer> {
        let live = self.live_version.and_then(|known| {
            let mut presence = lock(&self.room.presence);
            (presence.published_version() != known)
                .then(|| presence.published_state(Instant::now()))
        });
        if let Some(live) = &live {
            *left = left.saturating_sub(live_json_len(live));
        }
        let mut log = self.room.lock();
        let (news, taken) = log.news(self.name.as_str(), self.start, live, *left)?;
        *left = left.saturating_sub(taken);
        Some(news)
    }
}

/// Bytes of JSON a room's live state takes in an answer, about.
fn live_json_len(live: &LiveState) -> usize {
    let names = |people: &[String]| {
        people
            .iter()
            .map(|name| 3 + json_str_len(name))
            .sum::<usize>()
    };
    64 + names(&live.online) + names(&live.typing)
}
