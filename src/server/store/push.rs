//! What Web Push keeps: the server's VAPID key, so every instance signs with the same one and a
//! restart breaks no subscription, and the browsers' subscriptions.
//!
//! Contract, checked for every store by the shared suite (`tests/suite/store_contract.rs`):
//! - the first key offered is kept and every later offer is answered with it, on every
//!   instance sharing the store;
//! - an endpoint is one subscription: subscribing it again (whoever signed in on that browser
//!   now) replaces the one kept;
//! - an account's subscriptions are listed oldest first;
//! - deleting by session deletes exactly the subscriptions made under it.

use async_trait::async_trait;

use super::{identity::TokenHash, StoreError};

/// A browser's push subscription, as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct PushSubscriptionRecord {
    pub endpoint: String,
    /// The account's key.
    pub account: String,
    /// The session it was made under: it ends with it.
    pub session: TokenHash,
    /// The browser's keys, base64url as it sent them.
    pub p256dh: String,
    pub auth: String,
    /// Unix seconds.
    pub created_at: f64,
}

/// The VAPID key and the subscriptions. Every method is one atomic change or read.
#[async_trait]
pub trait PushStore: Send + Sync + 'static {
    /// The kept VAPID private key; `candidate` is kept (and answered) if none is.
    async fn vapid_key(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// Keeps the subscription, replacing any of the same endpoint.
    async fn add_subscription(&self, record: &PushSubscriptionRecord) -> Result<(), StoreError>;

    /// The account's subscriptions, oldest first.
    async fn subscriptions(&self, account: &str)
        -> Result<Vec<PushSubscriptionRecord>, StoreError>;

    /// Deletes the account's subscription of this endpoint; `false` if it had none.
    async fn delete_subscription(&self, account: &str, endpoint: &str) -> Result<bool, StoreError>;

    /// Deletes the account's subscriptions made under the session; how many there were.
    async fn delete_session_subscriptions(
        &self,
        account: &str,
        session: &TokenHash,
    ) -> Result<usize, StoreError>;
}
