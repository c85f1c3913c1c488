//! [`PollAnswer`]: what a poll answers, shared by every poll that gets the same answer.

use std::{
    ops::Deref,
    sync::{Arc, OnceLock},
};

use bytes::Bytes;

use crate::{
    error::ChatError,
    model::{PollResponse, PollStatus},
};

/// A poll's answer. Polls that get the same answer share it (one send answers every caught-up
/// poll of the room with the same messages), and its JSON is made once for all of them.
#[derive(Debug, Clone)]
pub struct PollAnswer(Arc<SharedAnswer>);

#[derive(Debug)]
struct SharedAnswer {
    response: PollResponse,
    json: OnceLock<Bytes>,
}

impl PollAnswer {
    pub(super) fn new(response: PollResponse) -> Self {
        Self(Arc::new(SharedAnswer {
            response,
            json: OnceLock::new(),
        }))
    }

    pub(super) fn empty(status: PollStatus) -> Self {
        Self::new(PollResponse::empty(status))
    }

    /// The answer as JSON, serialized by the first poll that asks.
    pub fn to_json(&self) -> Result<Bytes, ChatError> {
        if let Some(json) = self.0.json.get() {
            return Ok(json.clone());
        }
        let json = serde_json::to_vec(&self.0.response).map_err(|error| {
            tracing::error!(%error, "a poll answer did not serialize");
            ChatError::Internal
        })?;
        Ok(self.0.json.get_or_init(|| json.into()).clone())
    }
}

impl PartialEq for PollAnswer {
    fn eq(&self, other: &Self) -> bool {
        self.0.response == other.0.response
    }
}

impl PartialEq<PollResponse> for PollAnswer {
    fn eq(&self, other: &PollResponse) -> bool {
        self.0.response == *other
    }
}

impl Deref for PollAnswer {
    type Target = PollResponse;

    fn deref(&self) -> &PollResponse {
        &self.0.response
    }
}
