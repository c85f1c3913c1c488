//! Full-text search: only what the caller may read now, checked at every query.

use super::*;
use crate::{
    model::{SearchHit, SearchRequest, SearchResults},
    server::search::{snippet, Query, Scope},
};

impl Chat {
    /// The messages matching the request that the caller may read now: public rooms, and the
    /// private rooms they are in (never one they left or were removed from, whatever the index
    /// kept), best matches first, then newest.
    pub async fn search(
        &self,
        caller: &Caller,
        request: &SearchRequest,
    ) -> Result<SearchResults, ChatError> {
        let user = self.participant(caller)?;
        let key = match user {
            Some(user) => SendKey::User(user.key.clone()),
            None => SendKey::Address(caller.address),
        };
        let limiter = self.shared.options.search_limiter.as_ref();
        if let Some(retry_after_secs) = limiter.and_then(|limiter| limiter.check(&key)) {
            return Err(ChatError::TooManySearches { retry_after_secs });
        }
        let query = Query::parse(&request.text)?;
        if let Some(room) = &request.room {
            self.visible(user, room.as_str())?;
        }
        let scope = Scope {
            room: request.room.as_ref().map(ToString::to_string),
            author: request.from.as_ref().map(AccountName::key),
            hidden: self.shared.identity.rooms().hidden_from(user),
        };
        let broker = &self.shared.broker;
        let found = (broker.search_index())
            .find(query.clone(), scope, request.before, request.limit)
            .await?;
        let mut more = found.more;
        let mut results = Vec::with_capacity(found.messages.len());
        let mut budget = broker.max_answer_bytes();
        for kept in found.messages {
            // With its reactions, when the room here keeps it.
            let message = broker
                .message(kept.id)
                .map_or(kept, |message| Message::clone(&message));
            let hit = SearchHit {
                room: message.room.clone(),
                snippet: snippet(&message.text, &query),
                message,
            };
            // Long texts make a short page rather than a huge answer; the next page goes on.
            let bytes = hit_bytes(&hit);
            if bytes > budget && !results.is_empty() {
                more = true;
                break;
            }
            budget = budget.saturating_sub(bytes);
            results.push(hit);
        }
        let next_before = more
            .then(|| results.last().map(|hit: &SearchHit| hit.message.id))
            .flatten();
        Ok(SearchResults {
            results,
            next_before,
        })
    }
}

/// What a result takes in the answer.
fn hit_bytes(hit: &SearchHit) -> usize {
    serde_json::to_vec(hit).map_or(0, |json| json.len())
}
