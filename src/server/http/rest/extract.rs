//! The REST adapter's extractors: axum's, with every rejection answered as a [`ChatError`]
//! (the API's one error shape), and the poll's own query reader. Who the caller is, is
//! [`crate::server::http::caller`]'s.

use axum::{
    extract::{
        rejection::{JsonRejection, PathRejection, QueryRejection},
        FromRequest, FromRequestParts,
    },
    http::{request::Parts, StatusCode},
    Json,
};
use serde::{de::DeserializeOwned, Deserialize};

use super::query::query_pairs;
pub(super) use crate::server::http::caller::ApiCaller;
use crate::{
    error::ChatError,
    model::{PollQuery, PollRequest},
};

/// `axum::Json` whose rejections are [`ChatError`]s.
#[derive(FromRequest)]
#[from_request(via(Json), rejection(ChatError))]
pub(super) struct ApiJson<T>(pub T);

/// A JSON body that must be an object: serde would otherwise read a struct from an array.
#[derive(Deserialize)]
pub(super) struct JsonObject(serde_json::Map<String, serde_json::Value>);

impl JsonObject {
    pub fn into_typed<T: DeserializeOwned>(self) -> Result<T, ChatError> {
        serde_json::from_value(serde_json::Value::Object(self.0))
            .map_err(|error| ChatError::invalid(format!("invalid JSON body: {error}")))
    }
}

/// `axum::extract::Query` whose rejections are [`ChatError`]s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ChatError))]
pub(super) struct ApiQuery<T>(pub T);

/// `GET /api/poll`'s query, validated. Read with [`query_pairs`] (polls are most of the
/// traffic), without copies until the validated request takes what it keeps: a held poll's
/// future holds only that request.
pub(super) struct PollParams(pub PollRequest);

impl<S: Send + Sync> FromRequestParts<S> for PollParams {
    type Rejection = ChatError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ChatError> {
        let query = PollQuery::from_pairs(query_pairs(parts.uri.query().unwrap_or_default()))?;
        query.validate().map(Self)
    }
}

/// `axum::extract::Path` whose rejections are [`ChatError`]s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ChatError))]
pub(super) struct ApiPath<T>(pub T);

impl From<JsonRejection> for ChatError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            rejection if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::PayloadTooLarge
            }
            rejection => Self::InvalidInput(rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for ChatError {
    fn from(rejection: QueryRejection) -> Self {
        Self::InvalidInput(rejection.body_text())
    }
}

impl From<PathRejection> for ChatError {
    fn from(rejection: PathRejection) -> Self {
        Self::InvalidInput(rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    #[test]
    fn poll_queries_read_their_parameters_once_each() {
        let query = |text| PollQuery::from_pairs(query_pairs(text));
        assert_eq!(
            query("client_id=a&room=r%20x&timeout=9&last_message_id=&other=1").unwrap(),
            PollQuery {
                client_id: Some("a".into()),
                room: Some("r x".into()),
                last_message_id: Some("".into()),
                timeout: Some("9".into()),
            }
        );
        assert_eq!(query("").unwrap(), PollQuery::default());
        // Nothing to decode: the values are the query's own bytes, not copies.
        let plain = query("client_id=a&room=r").unwrap();
        assert!(matches!(plain.client_id, Some(Cow::Borrowed("a"))));
        assert!(matches!(plain.room, Some(Cow::Borrowed("r"))));
        let repeated = query("room=a&room=b").unwrap_err().to_string();
        assert!(repeated.contains("duplicate field `room`"), "{repeated}");
    }
}
