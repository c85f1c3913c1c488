//! The REST adapter's extractors: axum's, with every rejection answered as a [`ChatError`]
//! (the API's one error shape), and the poll's own query reader.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::{
    extract::{
        rejection::{JsonRejection, PathRejection, QueryRejection},
        ConnectInfo, FromRequest, FromRequestParts,
    },
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    Json,
};
use serde::{de::DeserializeOwned, Deserialize};

use super::query::query_pairs;
use crate::{
    error::ChatError,
    model::{PollQuery, PollRequest},
    server::{
        chat::Chat,
        identity::{Caller, Credentials},
    },
};

/// The browser's session cookie: `HttpOnly` (no script reads it), `SameSite=Lax` (no other
/// site's form or fetch sends it; following a link here does).
pub const SESSION_COOKIE: &str = "lpc_session";

/// Who sent the request: its credentials checked by the identity service, and the client's
/// address. For the REST handlers as an extractor, and for server functions through
/// [`caller_of`].
pub struct ApiCaller(pub Caller);

impl FromRequestParts<Chat> for ApiCaller {
    type Rejection = ChatError;

    async fn from_request_parts(parts: &mut Parts, chat: &Chat) -> Result<Self, ChatError> {
        caller_of(chat, parts).await.map(Self)
    }
}

/// The caller of a request, from its headers and connection.
pub async fn caller_of(chat: &Chat, parts: &Parts) -> Result<Caller, ChatError> {
    let credentials = credentials(&parts.headers)?;
    let user = chat.identity().authenticate(credentials).await?;
    // Without connection info (in-process tests) every request shares one address.
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    Ok(Caller {
        user,
        address: chat.client_address(peer, &parts.headers),
    })
}

fn credentials(headers: &HeaderMap) -> Result<Credentials<'_>, ChatError> {
    let bearer = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value.to_str().unwrap_or_default();
            match value.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                    Some(token.trim())
                }
                _ => {
                    return Err(ChatError::unauthenticated(
                        "Authorization must be `Bearer TOKEN`",
                    ))
                }
            }
        }
    };
    let session_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value);
    Ok(Credentials {
        bearer,
        session_cookie,
    })
}

/// `Set-Cookie` for a new session (`Secure` when the server is reached over https).
pub fn session_cookie(token: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    cookie_header(token, max_age_secs, secure)
}

/// `Set-Cookie` that makes the browser forget its session.
pub fn cleared_session_cookie(secure: bool) -> HeaderValue {
    cookie_header("", 0, secure)
}

fn cookie_header(value: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("lpc_session=; Path=/; Max-Age=0"))
}

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
