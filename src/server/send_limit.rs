//! The send rate limit: each signed-in user, and each guest's client address, may send so
//! many messages per second (with a burst), whichever adapter they send through. Past it: 429
//! with `Retry-After`. Checked by the chat service once it knows who sends, so people behind
//! one proxy or one address do not share a bucket when signed in.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc};

use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Above this many remembered senders, forget those whose bucket is full again.
const MAX_TRACKED_SENDERS: usize = 100_000;

/// Whose bucket a send takes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SendKey {
    /// A signed-in user, by account key.
    User(Arc<str>),
    /// A guest, by client address.
    Address(IpAddr),
}

#[derive(Clone)]
pub struct SendLimiter(Arc<DefaultKeyedRateLimiter<SendKey>>);

impl SendLimiter {
    /// `per_second` sends per sender, bursts up to `burst`.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Self(Arc::new(RateLimiter::keyed(quota)))
    }

    /// Seconds until `sender` may send again, or `None` if it may send now (and the send is
    /// counted).
    pub fn check(&self, sender: &SendKey) -> Option<u64> {
        if self.0.len() > MAX_TRACKED_SENDERS {
            self.0.retain_recent();
        }
        self.0.check_key(sender).err().map(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }
}
