//! Web Push (RFC 8030, payloads encrypted per RFC 8291, signed per RFC 8292): telling people
//! who are not looking of the messages they should hear of, through their browsers' push
//! services, with no tab open.
//!
//! - this module: the [`Push`] service: the VAPID key, subscriptions, and the queue that sends
//!   take a message to;
//! - `vapid`: where the key comes from;
//! - `endpoint`: which endpoints may be pushed to (https on public addresses);
//! - `worker`: who hears of a message, one push per person and room at most every
//!   [`PushConfig::every`], and the deliveries.
//!
//! Invariants:
//! - nothing here is on the send path but one `try_send` into a bounded queue: a full queue
//!   drops the push (counted), never waits;
//! - a push goes only to a person who may read the room now, is not its sender, holds no
//!   stream of it here or on another instance (nor ended one within the presence grace
//!   period), and whose level there asks for it;
//! - a subscription lives as long as the session it was made under, and one the push
//!   service says is gone (404, 410) is deleted;
//! - an endpoint's URL is a capability: it is never logged, only its host.

pub mod endpoint;
mod vapid;
mod worker;

use std::{path::PathBuf, sync::Arc, time::Duration};

use tokio::sync::mpsc;
use uuid::Uuid;
use web_push_native::jwt_simple::algorithms::ES256KeyPair;

use super::{
    broker::Broker,
    clock::unix_seconds,
    identity::Identity,
    metrics,
    store::{identity::TokenHash, PushStore, PushSubscriptionRecord, StoreConfig},
};
use crate::{
    error::ChatError,
    model::{PushKey, PushSubscriptionBody},
};
pub use endpoint::InsecureHosts;

/// How Web Push behaves.
#[derive(Clone)]
pub struct PushConfig {
    /// `--vapid-private-key`: the key file; `None` keeps one in the store.
    pub vapid_key_file: Option<PathBuf>,
    /// `--vapid-subject`: how push services may reach the operator (`mailto:` or `https:`).
    pub subject: String,
    /// `--push-allow-insecure`: hosts that may be plain http on any address (tests).
    pub insecure: InsecureHosts,
    /// One push per person and room at most this often; what comes between is one push.
    pub every: Duration,
    /// Messages waiting to be looked at; past it, pushes are dropped.
    pub queue: usize,
    /// Requests to push services at once.
    pub in_flight: usize,
    /// Pushes being sent or waiting to be retried; past it, new ones are dropped.
    pub pending: usize,
    /// How long one request to a push service may take.
    pub timeout: Duration,
    /// Tries of one push after the first, on a 429, a 5xx or no answer.
    pub retries: u32,
    /// The first wait before a retry; each next one doubles it.
    pub backoff: Duration,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            vapid_key_file: None,
            subject: "mailto:postmaster@localhost".into(),
            insecure: InsecureHosts::default(),
            every: Duration::from_secs(5),
            queue: 4_096,
            in_flight: 32,
            pending: 1_024,
            timeout: Duration::from_secs(10),
            retries: 3,
            backoff: Duration::from_secs(1),
        }
    }
}

/// The most subscriptions an account keeps: a new one past it replaces its oldest.
pub const MAX_SUBSCRIPTIONS_PER_ACCOUNT: usize = 20;

/// A message sent, as the push worker needs it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub room: String,
    pub id: Uuid,
    /// The sender's name as shown.
    pub sender: String,
    /// [`Message::author`](crate::model::Message): the sender's account key, if any.
    pub author: Option<String>,
    pub text: String,
    /// The account keys it mentions.
    pub mentions: Vec<String>,
}

/// A cheap, cloneable handle to Web Push.
#[derive(Clone)]
pub struct Push {
    shared: Arc<Shared>,
}

struct Shared {
    config: PushConfig,
    key: ES256KeyPair,
    public_key: String,
    store: Arc<dyn PushStore>,
    queue: mpsc::Sender<Sent>,
}

impl Push {
    /// Web Push over `store`'s subscriptions, its worker running for as long as the service
    /// lives: the key from the configured file, or the store's (made now if it has none).
    pub async fn open(
        config: PushConfig,
        store: &StoreConfig,
        broker: Broker,
        identity: Identity,
    ) -> anyhow::Result<Self> {
        let store = store.open_push().await?;
        let key = match &config.vapid_key_file {
            Some(path) => vapid::read_key_file(path).map_err(anyhow::Error::msg)?,
            None => vapid::kept_or_new(&*store).await?,
        };
        let (queue, events) = mpsc::channel(config.queue.max(1));
        let push = Self {
            shared: Arc::new(Shared {
                public_key: vapid::public_key(&key),
                config,
                key,
                store,
                queue,
            }),
        };
        let worker = worker::Worker::new(push.clone(), broker, identity)?;
        tokio::spawn(worker.run(events));
        Ok(push)
    }

    /// `GET /api/push/key`.
    pub fn key(&self) -> PushKey {
        PushKey {
            key: self.shared.public_key.clone(),
        }
    }

    /// Keeps the browser's subscription for `account` under `session`; `true` if it is new
    /// (not the same endpoint again). Past [`MAX_SUBSCRIPTIONS_PER_ACCOUNT`], the account's
    /// oldest goes: a browser the person no longer uses should not keep a new one out.
    pub async fn subscribe(
        &self,
        account: &str,
        session: &TokenHash,
        body: &PushSubscriptionBody,
    ) -> Result<bool, ChatError> {
        body.check_shape()?;
        endpoint::checked(&body.endpoint, &self.shared.config.insecure)?;
        worker::browser_keys(&body.keys.p256dh, &body.keys.auth)?;
        let store = &self.shared.store;
        let kept = (store.subscriptions(account).await).map_err(|error| error.reported("push"))?;
        let again = kept.iter().any(|kept| kept.endpoint == body.endpoint);
        if !again && kept.len() >= MAX_SUBSCRIPTIONS_PER_ACCOUNT {
            for oldest in &kept[..=kept.len() - MAX_SUBSCRIPTIONS_PER_ACCOUNT] {
                (store.delete_subscription(account, &oldest.endpoint).await)
                    .map_err(|error| error.reported("push"))?;
            }
        }
        let record = PushSubscriptionRecord {
            endpoint: body.endpoint.clone(),
            account: account.to_owned(),
            session: *session,
            p256dh: body.keys.p256dh.clone(),
            auth: body.keys.auth.clone(),
            created_at: unix_seconds(),
        };
        (store.add_subscription(&record).await).map_err(|error| error.reported("push"))?;
        Ok(!again)
    }

    /// Ends the account's subscription of `endpoint`; `false` if it had none.
    pub async fn unsubscribe(&self, account: &str, endpoint: &str) -> Result<bool, ChatError> {
        (self
            .shared
            .store
            .delete_subscription(account, endpoint)
            .await)
            .map_err(|error| error.reported("push"))
    }

    /// Ends the subscriptions made under a session that ended (signed out).
    pub async fn forget_session(&self, account: &str, session: &TokenHash) {
        let store = &self.shared.store;
        if let Err(error) = store.delete_session_subscriptions(account, session).await {
            // Its pushes stop anyway: each is checked against its session first.
            error.reported("push");
        }
    }

    /// Hands a sent message to the worker, without waiting: a full queue drops it.
    pub fn sent(&self, sent: Sent) {
        if self.shared.queue.try_send(sent).is_err() {
            metrics::count_push("dropped");
        }
    }
}
