//! What polls and streams answer, shared by every one that gets the same and serialized once
//! for them all: [`PollAnswer`] for a poll; [`RoomAnswer`], a room's part of a stream's answer,
//! and [`StreamAnswer`], a stream's answer assembled from those parts.

use std::{
    ops::Deref,
    sync::{Arc, OnceLock},
};

use bytes::Bytes;
use serde::Serialize;

use crate::{
    error::ChatError,
    model::{PollResponse, PollStatus, RoomNews},
};

/// What a read of a room answers. Readers that get the same answer share it (one send answers
/// every caught-up poll or stream of the room with the same entries), and its JSON is made once
/// for all of them.
#[derive(Debug)]
pub struct Answer<T>(Arc<SharedAnswer<T>>);

/// A poll's answer.
pub type PollAnswer = Answer<PollResponse>;

/// What is new in one room, as a stream's answer carries it.
pub type RoomAnswer = Answer<RoomNews>;

#[derive(Debug)]
struct SharedAnswer<T> {
    response: T,
    json: OnceLock<Bytes>,
}

impl<T: Serialize> Answer<T> {
    pub(super) fn new(response: T) -> Self {
        Self(Arc::new(SharedAnswer {
            response,
            json: OnceLock::new(),
        }))
    }

    /// The answer as JSON, serialized by the first reader that asks.
    pub fn to_json(&self) -> Result<Bytes, ChatError> {
        if let Some(json) = self.0.json.get() {
            return Ok(json.clone());
        }
        let json = serde_json::to_vec(&self.0.response).map_err(not_serialized)?;
        Ok(self.0.json.get_or_init(|| json.into()).clone())
    }

    /// Whether `self` and `other` are one shared answer, not merely equal.
    #[cfg(test)]
    pub fn is_shared_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl PollAnswer {
    pub(super) fn empty(status: PollStatus) -> Self {
        Self::new(PollResponse::empty(status))
    }
}

impl RoomAnswer {
    /// A room the stream's caller may not (or may no longer) read, or one deleted.
    pub fn unavailable(room: String) -> Self {
        Self::new(RoomNews::unavailable(room))
    }
}

fn not_serialized(error: serde_json::Error) -> ChatError {
    tracing::error!(%error, "an answer did not serialize");
    ChatError::Internal
}

impl<T> Clone for Answer<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: PartialEq> PartialEq for Answer<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0.response == other.0.response
    }
}

impl<T: PartialEq> PartialEq<T> for Answer<T> {
    fn eq(&self, other: &T) -> bool {
        self.0.response == *other
    }
}

impl<T> Deref for Answer<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0.response
    }
}

/// A stream's answer: a [`StreamResponse`](crate::model::StreamResponse) whose rooms' parts
/// are shared with the other streams answered with the same news.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamAnswer {
    pub status: PollStatus,
    /// Only rooms with news, in the order the request listed them.
    pub rooms: Vec<RoomAnswer>,
    /// Unix time in seconds of the answer.
    pub timestamp: f64,
}

impl StreamAnswer {
    /// The answer as JSON, the same as its `StreamResponse` serializes to, written around
    /// the rooms' JSON, each made once for every stream it answers.
    pub fn to_json(&self) -> Result<Bytes, ChatError> {
        let rooms = (self.rooms.iter())
            .map(RoomAnswer::to_json)
            .collect::<Result<Vec<_>, _>>()?;
        let rooms_len: usize = rooms.iter().map(|room| room.len() + 1).sum();
        let mut json = Vec::with_capacity(rooms_len + 64);
        json.extend_from_slice(br#"{"status":"#);
        serde_json::to_writer(&mut json, &self.status).map_err(not_serialized)?;
        json.extend_from_slice(br#","rooms":["#);
        for (index, room) in rooms.iter().enumerate() {
            if index > 0 {
                json.push(b',');
            }
            json.extend_from_slice(room);
        }
        json.extend_from_slice(br#"],"timestamp":"#);
        serde_json::to_writer(&mut json, &self.timestamp).map_err(not_serialized)?;
        json.push(b'}');
        Ok(json.into())
    }

    /// The answer as the model has it, each room's part copied.
    #[cfg(test)]
    pub fn to_response(&self) -> crate::model::StreamResponse {
        crate::model::StreamResponse {
            status: self.status,
            rooms: self.rooms.iter().map(|room| (**room).clone()).collect(),
            timestamp: self.timestamp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LiveState, Message};

    #[test]
    fn a_stream_answer_is_its_stream_response_as_json() {
        let message = Arc::new(Message {
            text: "a \"quoted\" line\n".into(),
            ..Message::default()
        });
        let live = Arc::new(LiveState {
            version: 3,
            online: vec!["alice".into()],
            guests: 2,
            typing: Vec::new(),
        });
        let news = RoomNews {
            messages: vec![message],
            live: Some(live),
            ..RoomNews::unavailable("hall".into())
        };
        for rooms in [
            vec![],
            vec![news.clone(), RoomNews::unavailable("gone".into())],
        ] {
            let answer = StreamAnswer {
                status: PollStatus::Success,
                rooms: rooms.into_iter().map(RoomAnswer::new).collect(),
                timestamp: 1_700_000_000.25,
            };
            let expected = serde_json::to_vec(&answer.to_response()).unwrap();
            assert_eq!(answer.to_json().unwrap(), expected);
        }
    }
}
