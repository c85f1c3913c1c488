//! `ChatError`: the one error type of the API, for REST answers, server functions and the UI.
//!
//! Each variant documents the HTTP status it is answered with. Messages are short and meant for
//! the client; internal causes (store errors, panics) are logged on the server, never sent.

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum ChatError {
    /// 400: a parameter or body field is missing, malformed or out of range.
    #[error("{0}")]
    InvalidInput(String),
    /// 401: no identity where one is needed, wrong name or password, or a token that is
    /// malformed, expired, revoked or badly signed.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403: the caller may not do this (send as someone else, use an account's name as a
    /// guest, change a room they do not own).
    #[error("{0}")]
    Forbidden(String),
    /// 404: no room of that name that the caller may see (a private room of others' looks
    /// exactly like no room).
    #[error("no such room")]
    NoSuchRoom,
    /// 404: no message of that id that the caller may see: unknown, older than its room
    /// keeps, in a room the caller may not see, or (for anything but deleting it) deleted.
    #[error("no such message")]
    NoSuchMessage,
    /// 404: no account of that name.
    #[error("no such account")]
    NoSuchAccount,
    /// 404: the private room has no member of that name.
    #[error("no such member")]
    NoSuchMember,
    /// 404: the account has not joined that room (`DELETE /api/me/rooms/{room}`).
    #[error("you have not joined that room")]
    NotJoined,
    /// 404: no file of that id in that room that the caller may read.
    #[error("no such file")]
    NoSuchFile,
    /// 411: an upload without `Content-Length`: its size must be known before it is read.
    #[error("send the upload with a Content-Length")]
    LengthRequired,
    /// 416: the range asked for is not within the file.
    #[error("the range is not within the file")]
    RangeNotSatisfiable,
    /// 404: the account has no push subscription of that endpoint.
    #[error("no such push subscription")]
    NoSuchSubscription,
    /// 404: Web Push is off on this server (`--push off`).
    #[error("Web Push is off on this server")]
    PushOff,
    /// 409: an account of that name exists already (in some letter case).
    #[error("that name is taken")]
    NameTaken,
    /// 409: a room of that name exists already.
    #[error("a room of that name exists")]
    RoomTaken,
    /// 409: the message carries as many different emoji as it may
    /// (`--max-reactions-per-message`); react with one of them.
    #[error("this message has as many different reactions as it may have")]
    TooManyReactions,
    /// 429 with `Retry-After`: too many sign-in attempts for this name or from this address.
    #[error("too many sign-in attempts, retry later")]
    TooManyAttempts { retry_after_secs: u64 },
    /// 404: `DELETE /api/client/{client_id}` for a client the server does not know.
    #[error("unknown client_id")]
    UnknownClient,
    /// 404: no such endpoint.
    #[error("no such endpoint: {0}")]
    NoRoute(String),
    /// 405: the endpoint exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413: the request body is larger than the server accepts.
    #[error("request body is too large")]
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    #[error("expected a body with content type application/json")]
    UnsupportedMediaType,
    /// 503 with `Retry-After`: the server or this client already holds as many polls as allowed.
    #[error("too many held polls, retry later")]
    TooManyPolls,
    /// 429 with `Retry-After`: this sender is sending faster than allowed.
    #[error("too many messages, slow down")]
    RateLimited { retry_after_secs: u64 },
    /// 503: the message store cannot take or serve messages right now; retry later.
    #[error("message store unavailable, try again later")]
    StoreUnavailable,
    /// 503: the server is shutting down; try another instance or again after the restart.
    #[error("server is shutting down")]
    ShuttingDown,
    /// 429 with `Retry-After`: this person or guest address is searching faster than allowed.
    #[error("too many searches, slow down")]
    TooManySearches { retry_after_secs: u64 },
    /// 429 with `Retry-After`: too many sign-ups from this address.
    #[error("too many sign-ups from this address, retry later")]
    TooManySignUps { retry_after_secs: u64 },
    /// 503 with `Retry-After`: the server takes no more of this work for now (sign-ups past
    /// the server's hourly limit, passwords past the hashing queue).
    #[error("{detail}")]
    Busy {
        detail: String,
        retry_after_secs: u64,
    },
    /// 500: a bug; the cause is in the server log.
    #[error("internal server error")]
    Internal,
    /// A server function call failed in transport (network, decoding): browser side only.
    #[error("request failed: {0}")]
    Transport(String),
}

impl ChatError {
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::InvalidInput(detail.into())
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::Unauthenticated(detail.into())
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Forbidden(detail.into())
    }

    pub fn busy(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::Busy {
            detail: detail.into(),
            retry_after_secs,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::InvalidInput(_) => 400,
            Self::Unauthenticated(_) => 401,
            Self::Forbidden(_) => 403,
            Self::UnknownClient
            | Self::NoRoute(_)
            | Self::NoSuchRoom
            | Self::NoSuchMessage
            | Self::NoSuchAccount
            | Self::NoSuchMember
            | Self::NotJoined
            | Self::NoSuchSubscription
            | Self::NoSuchFile
            | Self::PushOff => 404,
            Self::RangeNotSatisfiable => 416,
            Self::LengthRequired => 411,
            Self::NameTaken | Self::RoomTaken | Self::TooManyReactions => 409,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RateLimited { .. }
            | Self::TooManySearches { .. }
            | Self::TooManyAttempts { .. }
            | Self::TooManySignUps { .. } => 429,
            Self::Busy { .. }
            | Self::StoreUnavailable
            | Self::TooManyPolls
            | Self::ShuttingDown
            | Self::Transport(_) => 503,
            Self::Internal => 500,
        }
    }
}

impl ChatError {
    /// Seconds a client should wait before retrying, for answers that say so.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::TooManyPolls => Some(POLL_RETRY_AFTER_SECS),
            Self::RateLimited { retry_after_secs }
            | Self::TooManySearches { retry_after_secs }
            | Self::TooManyAttempts { retry_after_secs }
            | Self::TooManySignUps { retry_after_secs }
            | Self::Busy {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

/// `Retry-After` of a rejected poll.
const POLL_RETRY_AFTER_SECS: u64 = 2;
