//! Web Push: the server's public key, a browser's subscription as it arrives, and what a push
//! carries to the service worker.
//!
//! Who is pushed to and when is the server's (`server::push`); here are the shapes and the
//! rules of what a subscription may look like, shared with the page.

use serde::{Deserialize, Serialize};

use crate::error::ChatError;

/// `GET /api/push/key`: the key browsers subscribe with (`applicationServerKey`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PushKey {
    /// The server's VAPID public key: an uncompressed P-256 point, base64url without padding.
    pub key: String,
}

/// The longest endpoint kept, in bytes; push services' are a few hundred.
pub const PUSH_ENDPOINT_MAX_BYTES: usize = 1_024;

/// `POST /api/me/push-subscriptions`: a browser's `PushSubscription.toJSON()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PushSubscriptionBody {
    /// Where the browser's push service takes pushes for it: an `https` URL on a host name
    /// (whose addresses must be public when the server connects).
    #[cfg_attr(
        feature = "ssr",
        schema(
            max_length = 1024,
            pattern = r"^https://([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?/[!-~]*$"
        )
    )]
    pub endpoint: String,
    pub keys: PushSubscriptionKeys,
}

/// The browser's keys for encrypting pushes to it (RFC 8291).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PushSubscriptionKeys {
    /// The browser's P-256 public key, uncompressed, base64url.
    #[cfg_attr(feature = "ssr", schema(pattern = "^[A-Za-z0-9_-]{86,88}={0,2}$"))]
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url.
    #[cfg_attr(feature = "ssr", schema(pattern = "^[A-Za-z0-9_-]{22,24}={0,2}$"))]
    pub auth: String,
}

/// `DELETE /api/me/push-subscriptions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PushUnsubscribeBody {
    /// The endpoint of the subscription to end.
    #[cfg_attr(feature = "ssr", schema(max_length = 1024))]
    pub endpoint: String,
}

impl PushSubscriptionBody {
    /// The endpoint's length and the keys' lengths; whether the endpoint may be pushed to is
    /// the server's rule (`server::push::endpoint`).
    pub fn check_shape(&self) -> Result<(), ChatError> {
        if self.endpoint.is_empty() || self.endpoint.len() > PUSH_ENDPOINT_MAX_BYTES {
            return Err(ChatError::invalid(format!(
                "endpoint must be a URL of at most {PUSH_ENDPOINT_MAX_BYTES} bytes"
            )));
        }
        Ok(())
    }
}

/// What a push carries to the service worker (JSON, encrypted for the browser).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushPayload {
    pub room: String,
    /// What the notification's title says: the room, or the other people of a direct room.
    pub title: String,
    /// The sender and the start of the text, or how many messages came.
    pub body: String,
    pub sender: String,
    /// The newest message this push tells of.
    pub id: String,
    /// How many messages this push tells of (a burst is one push).
    pub count: u32,
    /// Where clicking it leads: the room at the message.
    pub url: String,
}
