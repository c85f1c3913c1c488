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
        let next_before = found
            .more
            .then(|| found.messages.last().map(|message| message.id))
            .flatten();
        let results = found
            .messages
            .into_iter()
            .map(|kept| {
                // With its reactions, when the room here keeps it.
                let message = broker
                    .message(kept.id)
                    .map_or(kept, |message| Message::clone(&message));
                SearchHit {
                    room: message.room.clone(),
                    snippet: snippet(&message.text, &query),
                    message,
                }
            })
            .collect();
        Ok(SearchResults {
            results,
            next_before,
        })
    }
}
