//! Full-text search: `GET /api/search` as it arrives and as it is answered.
//!
//! What a query means (words, `"phrases"`, `prefix*`) is the server's (`server::search`); here
//! are the parameters' rules and the answer's shape, shared with the page.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{parse_message_id, AccountName, BoundedParam, Message, RoomName};
use crate::error::ChatError;

/// `limit` of `GET /api/search`, in results.
pub const SEARCH_LIMIT: BoundedParam = BoundedParam {
    name: "limit",
    range: 1..=100,
    default: 20,
};

/// The longest query, in characters.
pub const SEARCH_TEXT_MAX_CHARS: usize = 256;

/// `GET /api/search` parameters as they arrive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct SearchQuery {
    /// What to find: words (all must match, in any order and case), `"a phrase"`, `prefix*`.
    /// At most 256 characters.
    #[cfg_attr(feature = "ssr", param(value_type = String, max_length = 256))]
    pub q: Option<String>,
    /// Only this room (one the caller may see); empty: every room.
    #[cfg_attr(feature = "ssr", param(value_type = Option<String>, pattern = "^[A-Za-z0-9._-]*$", max_length = 64))]
    pub room: Option<String>,
    /// Only messages sent by this account; empty: anyone's.
    #[cfg_attr(feature = "ssr", param(value_type = Option<String>, max_length = 32))]
    pub from: Option<String>,
    /// How many results: an integer from 1 to 100; default 20.
    #[cfg_attr(feature = "ssr", param(value_type = Option<u32>, minimum = 1, maximum = 100, default = json!(SEARCH_LIMIT.default)))]
    pub limit: Option<String>,
    /// The next page: the `next_before` of the previous answer.
    #[cfg_attr(feature = "ssr", param(value_type = Option<String>, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-7[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$"))]
    pub before: Option<String>,
}

/// A validated search request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The query as typed, trimmed: not empty, at most [`SEARCH_TEXT_MAX_CHARS`].
    pub text: String,
    pub room: Option<RoomName>,
    pub from: Option<AccountName>,
    pub limit: usize,
    pub before: Option<Uuid>,
}

impl SearchQuery {
    pub fn validate(&self) -> Result<SearchRequest, ChatError> {
        let text = self.q.as_deref().unwrap_or_default().trim();
        if text.is_empty() {
            return Err(ChatError::invalid("q must say what to search for"));
        }
        if text.chars().count() > SEARCH_TEXT_MAX_CHARS {
            return Err(ChatError::invalid(format!(
                "q must be at most {SEARCH_TEXT_MAX_CHARS} characters"
            )));
        }
        let given = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        Ok(SearchRequest {
            text: text.to_owned(),
            room: given(&self.room)
                .as_deref()
                .map(RoomName::parse)
                .transpose()?,
            from: given(&self.from)
                .as_deref()
                .map(AccountName::parse)
                .transpose()?,
            limit: SEARCH_LIMIT.parse(self.limit.as_deref())? as usize,
            before: (self.before.as_deref())
                .map(|id| parse_message_id(id.trim(), "before"))
                .transpose()?,
        })
    }
}

/// What `GET /api/search` answers: the best matches first, then the newest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SearchResults {
    pub results: Vec<SearchHit>,
    /// Ask again with `before` set to this for the next page; `null` on the last one.
    pub next_before: Option<Uuid>,
}

/// One message found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SearchHit {
    pub room: String,
    /// The message as it is now.
    pub message: Message,
    /// The message's text around the matched words, in parts: the matched words are the
    /// parts with `mark` (data, not HTML: a client shows them as it likes).
    pub snippet: Vec<SnippetPart>,
}

/// A piece of a snippet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SnippetPart {
    pub text: String,
    /// A matched word.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mark: bool,
}
