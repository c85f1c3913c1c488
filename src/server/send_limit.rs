//! The send rate limits, whichever adapter a request comes through; past them: 429 with
//! `Retry-After`. Checked by the chat service once it knows who sends, so people behind one
//! proxy or one address do not share a bucket when signed in.
//!
//! - Sends, and changes to messages (each takes a place in a room's log): so many per second
//!   for each signed-in user, and each guest's client address ([`SendKey`]).
//! - Changes to one message by one person ([`ChangeKey`]): so many per minute, so that nobody
//!   floods a room's log by toggling a reaction, whatever their send rate.
//! - Searches, per user or guest address as sends: so many per minute, so that nobody keeps
//!   the index busy for everyone (the index also takes only so many at once).

use std::{hash::Hash, net::IpAddr, num::NonZeroU32, sync::Arc};

use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

/// Above this many remembered keys, forget those whose bucket is full again.
const MAX_TRACKED_KEYS: usize = 100_000;

/// Whose bucket a send takes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SendKey {
    /// A signed-in user, by account key.
    User(Arc<str>),
    /// A guest, by client address.
    Address(IpAddr),
}

/// A person (as [`Message::author`](crate::model::Message) names them) changing a message.
pub type ChangeKey = (String, Uuid);

/// A rate limit per key, with a burst.
pub struct KeyedLimit<K: Hash + Eq + Clone>(Arc<DefaultKeyedRateLimiter<K>>);

impl<K: Hash + Eq + Clone> Clone for KeyedLimit<K> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// Sends per user or guest address.
pub type SendLimiter = KeyedLimit<SendKey>;
/// Changes per person and message.
pub type ChangeLimiter = KeyedLimit<ChangeKey>;
/// Searches per user or guest address (the same keys as sends').
pub type SearchLimiter = KeyedLimit<SendKey>;
/// Uploads per user, or per guest address.
pub type UploadLimiter = KeyedLimit<SendKey>;

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    /// `per_second` per key, bursts up to `burst`.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self::with_quota(Quota::per_second(per_second).allow_burst(burst))
    }

    /// `per_minute` per key, all of them at once if need be.
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self::with_quota(Quota::per_minute(per_minute).allow_burst(per_minute))
    }

    fn with_quota(quota: Quota) -> Self {
        Self(Arc::new(RateLimiter::keyed(quota)))
    }

    /// Seconds until `key` may go again, or `None` if it may now (and this is counted).
    pub fn check(&self, key: &K) -> Option<u64> {
        if self.0.len() > MAX_TRACKED_KEYS {
            self.0.retain_recent();
        }
        self.0.check_key(key).err().map(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }
}
