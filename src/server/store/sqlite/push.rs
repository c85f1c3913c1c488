//! The VAPID key and push subscriptions in the SQLite file of the messages (migration 11 of
//! [`super::MIGRATIONS`]): `push_keys(id, private_key)`, one row; `push_subscriptions(endpoint,
//! account, session, p256dh, auth, created_at)`, indexed by account and age.

use std::path::Path;

use async_trait::async_trait;
use rusqlite::{params, Row};

use super::Transactions;
use crate::server::store::{
    identity::TokenHash,
    push::{PushStore, PushSubscriptionRecord},
    StoreError,
};

pub struct SqlitePushStore {
    db: Transactions,
}

impl SqlitePushStore {
    /// Opens (creating if needed) the database at `path`, running whatever migrations are
    /// pending.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            db: Transactions::open(path)?,
        })
    }
}

fn subscription_from(row: &Row<'_>) -> rusqlite::Result<PushSubscriptionRecord> {
    Ok(PushSubscriptionRecord {
        endpoint: row.get(0)?,
        account: row.get(1)?,
        session: row.get(2)?,
        p256dh: row.get(3)?,
        auth: row.get(4)?,
        created_at: row.get(5)?,
    })
}

#[async_trait]
impl PushStore for SqlitePushStore {
    async fn vapid_key(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        let candidate = candidate.to_vec();
        self.db
            .write(move |connection| {
                connection.execute(
                    "INSERT INTO push_keys (id, private_key) VALUES (1, ?1)
                     ON CONFLICT (id) DO NOTHING",
                    params![candidate],
                )?;
                connection.query_row(
                    "SELECT private_key FROM push_keys WHERE id = 1",
                    [],
                    |row| row.get(0),
                )
            })
            .await
    }

    async fn add_subscription(&self, record: &PushSubscriptionRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.db
            .write(move |connection| {
                connection.execute(
                    "INSERT OR REPLACE INTO push_subscriptions
                         (endpoint, account, session, p256dh, auth, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        record.endpoint,
                        record.account,
                        record.session,
                        record.p256dh,
                        record.auth,
                        record.created_at
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn subscriptions(
        &self,
        account: &str,
    ) -> Result<Vec<PushSubscriptionRecord>, StoreError> {
        let account = account.to_owned();
        self.db
            .read(move |connection| {
                let mut query = connection.prepare_cached(
                    "SELECT endpoint, account, session, p256dh, auth, created_at
                     FROM push_subscriptions WHERE account = ?1 ORDER BY created_at, endpoint",
                )?;
                let subscriptions = query.query_map([account], subscription_from)?.collect();
                subscriptions
            })
            .await
    }

    async fn delete_subscription(&self, account: &str, endpoint: &str) -> Result<bool, StoreError> {
        let (account, endpoint) = (account.to_owned(), endpoint.to_owned());
        self.db
            .write(move |connection| {
                let deleted = connection.execute(
                    "DELETE FROM push_subscriptions WHERE account = ?1 AND endpoint = ?2",
                    params![account, endpoint],
                )?;
                Ok(deleted > 0)
            })
            .await
    }

    async fn delete_session_subscriptions(
        &self,
        account: &str,
        session: &TokenHash,
    ) -> Result<usize, StoreError> {
        let (account, session) = (account.to_owned(), *session);
        self.db
            .write(move |connection| {
                connection.execute(
                    "DELETE FROM push_subscriptions WHERE account = ?1 AND session = ?2",
                    params![account, session],
                )
            })
            .await
    }
}
