//! A Redis subscription kept up for as long as its store lives: the one place that decides when
//! a subscription is lost, when it is tried again, and what its [`Subscriber`] hears of either.
//!
//! The rule, the same for every subscriber:
//! - a subscription is *live* once Redis has confirmed it and the subscriber has caught up
//!   ([`Subscriber::subscribed`]) with what was published before it took effect: pub/sub keeps
//!   nothing for a client that was not listening;
//! - a live subscription is *lost* when its connection ends, when a PING (one every
//!   `ping_every`, so a silently dead connection is noticed) fails or gets no answer within
//!   [`COMMAND_TIMEOUT`], or when the subscriber fails on a publication. The loss is reported at
//!   once ([`Subscriber::lost`]), once per live subscription: never for a failed attempt to
//!   subscribe again, nor when the store is dropped;
//! - after a loss, subscribing is tried again after [`RECONNECT_MIN`], then twice as long after
//!   each failed attempt up to [`RECONNECT_MAX`]; an attempt succeeds only once subscribed and
//!   caught up (`subscribed(again: true)`), which starts the rule over.
//!
//! The first subscription is made when the store opens: failing it fails the opening.

use std::{
    convert::Infallible,
    future::Future,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use redis::{aio::PubSub, Client};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::{unavailable, COMMAND_TIMEOUT, RECONNECT_MAX, RECONNECT_MIN};
use crate::server::store::StoreError;

/// What a subscription is for: what it does with each publication, and how it makes up for
/// what it could not hear.
pub(super) trait Subscriber: Send + Sync + 'static {
    /// Makes up for what was published before the subscription took effect: since the store
    /// opened for the first subscription, since the last live one was lost when `again`. An
    /// error fails this attempt to subscribe.
    fn subscribed(&self, again: bool) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Handles what was published on `channel`. An error loses the subscription.
    fn published(
        &self,
        channel: &str,
        payload: &[u8],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The live subscription was lost: nothing published from now on is heard until the next
    /// one has caught up.
    fn lost(&self);
}

/// A handle to a subscription kept up in the background until its `stop` token is cancelled.
pub(super) struct Subscription {
    live: Arc<AtomicBool>,
}

impl Subscription {
    /// Subscribes `subscriber` to `channels` of the Redis behind `client` and catches it up,
    /// then keeps the subscription up (see the module's rule) until `stop`. `name` tells
    /// subscriptions apart in logs.
    pub async fn start<S: Subscriber>(
        name: &'static str,
        client: Client,
        channels: Vec<String>,
        subscriber: Arc<S>,
        ping_every: Duration,
        stop: CancellationToken,
    ) -> Result<Self, StoreError> {
        let live = Arc::new(AtomicBool::new(false));
        let keeper = Keeper {
            name,
            client,
            channels,
            subscriber,
            ping_every,
            live: live.clone(),
        };
        let first = keeper.subscribe(false).await?;
        tokio::spawn(keeper.stay_subscribed(first, stop));
        Ok(Self { live })
    }

    /// Whether the subscription is live: whatever is published now is heard.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Relaxed)
    }
}

struct Keeper<S> {
    name: &'static str,
    client: Client,
    channels: Vec<String>,
    subscriber: Arc<S>,
    ping_every: Duration,
    live: Arc<AtomicBool>,
}

impl<S: Subscriber> Keeper<S> {
    /// Subscribes, then catches the subscriber up: only then is the subscription live.
    async fn subscribe(&self, again: bool) -> Result<PubSub, StoreError> {
        let mut pubsub = timeout(COMMAND_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| StoreError::Unavailable("connecting timed out".into()))?
            .map_err(unavailable)?;
        pubsub
            .subscribe(&self.channels)
            .await
            .map_err(unavailable)?;
        self.subscriber.subscribed(again).await?;
        self.live.store(true, Ordering::Relaxed);
        Ok(pubsub)
    }

    /// Relays publications while the subscription lasts, and subscribes again (with backoff)
    /// whenever it is lost, until `stop`.
    async fn stay_subscribed(self, first: PubSub, stop: CancellationToken) {
        let name = self.name;
        let mut pubsub = Some(first);
        let mut backoff = RECONNECT_MIN;
        loop {
            if let Some(subscription) = pubsub.take() {
                backoff = RECONNECT_MIN;
                let Err(error) = tokio::select! {
                    outcome = self.relay(subscription) => outcome,
                    () = stop.cancelled() => return,
                };
                self.live.store(false, Ordering::Relaxed);
                tracing::warn!(subscription = name, %error, "lost a redis subscription; subscribing again");
                self.subscriber.lost();
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = stop.cancelled() => return,
            }
            backoff = (backoff * 2).min(RECONNECT_MAX);
            match self.subscribe(true).await {
                Ok(subscription) => {
                    tracing::info!(subscription = name, "redis subscription restored");
                    pubsub = Some(subscription);
                }
                Err(error) => {
                    tracing::debug!(subscription = name, %error, "redis still unavailable")
                }
            }
        }
    }

    /// Hands each publication to the subscriber, and checks the connection with a PING every
    /// `ping_every`, until the subscription is lost.
    async fn relay(&self, pubsub: PubSub) -> Result<Infallible, StoreError> {
        use futures_util::StreamExt;

        let (mut pings, mut messages) = pubsub.split();
        let mut ticks = tokio::time::interval(self.ping_every);
        ticks.tick().await;
        loop {
            tokio::select! {
                published = messages.next() => {
                    let published = published.ok_or(StoreError::Closed)?;
                    let channel = published.get_channel_name();
                    let payload = published.get_payload_bytes();
                    self.subscriber.published(channel, payload).await?;
                }
                _ = ticks.tick() => {
                    // While subscribed, Redis answers a PING with the array ["pong", ""].
                    let _: redis::Value = timeout(COMMAND_TIMEOUT, pings.ping())
                        .await
                        .map_err(|_| StoreError::Unavailable("ping timed out".into()))?
                        .map_err(unavailable)?;
                }
            }
        }
    }
}
