//! Accounts and sessions: credentials, who a request is.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `POST /api/accounts` and `POST /api/sessions` bodies.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Credentials {
    /// 1–32 characters of `A-Z a-z 0-9 - _ .`, starting with a letter or digit; names that
    /// differ only in letter case are the same account.
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length = 32)
    )]
    pub name: String,
    /// At least 8 characters, at most 1,024 bytes.
    #[cfg_attr(feature = "ssr", schema(min_length = 8, format = Password))]
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// An account as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Account {
    pub name: String,
}

/// A new session: the token for `Authorization: Bearer`, and when it expires (the browser
/// gets the same token as an `HttpOnly` cookie).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionCreated {
    pub token: String,
    pub name: String,
    /// Unix seconds.
    pub expires_at: f64,
}

impl fmt::Debug for SessionCreated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCreated")
            .field("name", &self.name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Who the request is (`GET /api/me`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Me {
    pub name: String,
    /// `session` (an account here) or `token` (another app's signed token).
    pub via: String,
    /// Unix seconds: when the session or token stops working.
    pub expires_at: f64,
}
