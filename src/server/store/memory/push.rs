//! The VAPID key and push subscriptions in memory, gone with the process.

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::server::store::{
    identity::TokenHash,
    push::{PushStore, PushSubscriptionRecord},
    StoreError,
};

#[derive(Default)]
pub struct MemoryPushStore {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    vapid_key: Option<Vec<u8>>,
    subscriptions: Vec<PushSubscriptionRecord>,
}

impl MemoryPushStore {
    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl PushStore for MemoryPushStore {
    async fn vapid_key(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        Ok((self.kept().vapid_key)
            .get_or_insert_with(|| candidate.to_vec())
            .clone())
    }

    async fn add_subscription(&self, record: &PushSubscriptionRecord) -> Result<(), StoreError> {
        let mut kept = self.kept();
        kept.subscriptions
            .retain(|kept| kept.endpoint != record.endpoint);
        kept.subscriptions.push(record.clone());
        Ok(())
    }

    async fn subscriptions(
        &self,
        account: &str,
    ) -> Result<Vec<PushSubscriptionRecord>, StoreError> {
        let mut subscriptions: Vec<_> = (self.kept().subscriptions.iter())
            .filter(|kept| kept.account == account)
            .cloned()
            .collect();
        subscriptions.sort_by(|a, b| {
            (a.created_at.total_cmp(&b.created_at)).then_with(|| a.endpoint.cmp(&b.endpoint))
        });
        Ok(subscriptions)
    }

    async fn delete_subscription(&self, account: &str, endpoint: &str) -> Result<bool, StoreError> {
        let mut kept = self.kept();
        let before = kept.subscriptions.len();
        kept.subscriptions
            .retain(|kept| kept.account != account || kept.endpoint != endpoint);
        Ok(kept.subscriptions.len() != before)
    }

    async fn delete_session_subscriptions(
        &self,
        account: &str,
        session: &TokenHash,
    ) -> Result<usize, StoreError> {
        let mut kept = self.kept();
        let before = kept.subscriptions.len();
        kept.subscriptions
            .retain(|kept| kept.account != account || kept.session != *session);
        Ok(before - kept.subscriptions.len())
    }
}
