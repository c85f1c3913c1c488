//! The attempt limits of sign-in and sign-up, kept bounded whatever callers send.
//!
//! Invariants:
//! - A key is something of bounded size: a client address (an IPv6 address counts by its /64,
//!   which one host is usually given whole) or an account's key (at most
//!   [`AccountName`](crate::model::AccountName)'s length). A raw name a caller sends is never
//!   a key.
//! - Each limiter keeps at most [`MAX_KEYS`] keys. Keys whose attempts have all been regained
//!   are dropped every [`SWEEP_EVERY`]; if the limiter is still full after such a sweep (a
//!   flood from more addresses or names than that within one period), it starts over empty.
//!   Starting over frees the memory and costs a flooder [`MAX_KEYS`] attempts of their own for
//!   each reset, so it never makes guessing one account's password faster than the per-name
//!   limit allows per that many attempts.

use std::{
    hash::Hash,
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::{Mutex, RwLock},
    time::Duration,
};

use governor::{
    clock::{Clock, DefaultClock},
    middleware::NoOpMiddleware,
    state::keyed::DashMapStateStore,
    DefaultDirectRateLimiter, Quota, RateLimiter,
};
use tokio::time::Instant;

/// Most keys one limiter holds (each some tens of bytes).
pub const MAX_KEYS: usize = 100_000;

/// How often keys that are back to a fresh state are dropped.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// `count` attempts per minute, all of them at once if need be.
pub fn per_minute(count: NonZeroU32) -> Quota {
    Quota::per_minute(count).allow_burst(count)
}

/// `count` attempts per hour, all of them at once if need be.
pub fn per_hour(count: NonZeroU32) -> Quota {
    Quota::per_hour(count).allow_burst(count)
}

/// What limits count a client address by: IPv4 as is, IPv6 by its /64 (an IPv4 address
/// mapped into IPv6 counts as that IPv4 address).
pub fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// A rate limit per key, holding at most `max_keys` keys. `C` is governor's clock, which
/// measures the attempts regained (tests use a fake one); the sweeps follow tokio's.
pub struct KeyedLimit<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    quota: Quota,
    max_keys: usize,
    clock: C,
    limiter: RwLock<KeyedLimiter<K, C>>,
    last_sweep: Mutex<Instant>,
}

type KeyedLimiter<K, C> =
    RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    pub fn new(quota: Quota) -> Self {
        Self::with_clock(quota, MAX_KEYS, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: Clock + Clone> KeyedLimit<K, C> {
    pub fn with_clock(quota: Quota, max_keys: usize, clock: C) -> Self {
        Self {
            quota,
            max_keys,
            limiter: RwLock::new(RateLimiter::dashmap_with_clock(quota, clock.clone())),
            clock,
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    /// Spends one attempt of `key`; `Err` with the wait until the next one if none is left.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.keep_bounded();
        let limiter = self.limiter.read().unwrap_or_else(|e| e.into_inner());
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.limiter.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn keep_bounded(&self) {
        let due = {
            let mut last_sweep = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
            let due = last_sweep.elapsed() >= SWEEP_EVERY;
            if due {
                *last_sweep = Instant::now();
            }
            due
        };
        if !due && self.len() < self.max_keys {
            return;
        }
        let limiter = self.limiter.read().unwrap_or_else(|e| e.into_inner());
        limiter.retain_recent();
        if limiter.len() < self.max_keys {
            return;
        }
        drop(limiter);
        tracing::warn!(
            keys = self.max_keys,
            "an attempt limiter is full of recent keys; starting it over"
        );
        *self.limiter.write().unwrap_or_else(|e| e.into_inner()) =
            RateLimiter::dashmap_with_clock(self.quota, self.clock.clone());
    }
}

/// One rate limit for everyone.
pub struct Limit {
    limiter: DefaultDirectRateLimiter,
}

impl Limit {
    pub fn new(quota: Quota) -> Self {
        Self {
            limiter: RateLimiter::direct(quota),
        }
    }

    /// Spends one attempt; `Err` with the wait until the next one if none is left.
    pub fn check(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// A wait as whole seconds for `Retry-After`: at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn one() -> NonZeroU32 {
        NonZeroU32::MIN
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_prefix() {
        let key = |text: &str| address_key(text.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }

    #[test]
    fn a_key_is_refused_past_its_quota_with_the_wait() {
        let limit = KeyedLimit::new(per_minute(NonZeroU32::new(2).unwrap()));
        assert!(limit.check(&"a").is_ok());
        assert!(limit.check(&"a").is_ok());
        let wait = limit.check(&"a").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert!(limit.check(&"b").is_ok());
    }

    #[test]
    fn a_full_limiter_never_holds_more_than_its_keys() {
        let limit = KeyedLimit::with_clock(per_hour(one()), 100, FakeRelativeClock::default());
        for key in 0..10_000u32 {
            let _ = limit.check(&key);
            assert!(limit.len() <= 100, "{} keys", limit.len());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn keys_back_to_fresh_are_swept_periodically() {
        let clock = FakeRelativeClock::default();
        let limit = KeyedLimit::with_clock(per_minute(one()), MAX_KEYS, clock.clone());
        for key in 0..50u32 {
            limit.check(&key).unwrap();
        }
        assert_eq!(limit.len(), 50);
        // governor counts a key fresh one emission interval (here a minute) after its last
        // attempt was regained; the sweep drops the keys then.
        clock.advance(Duration::from_secs(120));
        tokio::time::advance(SWEEP_EVERY).await;
        limit.check(&0).unwrap();
        assert_eq!(limit.len(), 1);
        // Between sweeps, nothing is dropped.
        clock.advance(Duration::from_secs(120));
        limit.check(&1).unwrap();
        assert_eq!(limit.len(), 2);
    }
}
