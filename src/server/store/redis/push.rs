//! The VAPID key and push subscriptions in the Redis the instances share.
//!
//! Keys: `PREFIX push-key`: the VAPID private key (raw bytes), set once (`SET NX`);
//! `PREFIX push:KEY`: hash of the account's subscriptions, endpoint to
//! `{"session","p256dh","auth","created_at"}` (the session's token hash in hex);
//! `PREFIX push-endpoints`: hash of every endpoint to its account, so that an endpoint
//! subscribed again for another account (someone else signed in on that browser) leaves the
//! first. Each change is one Lua script.

use async_trait::async_trait;
use redis::{aio::ConnectionManager, AsyncCommands, Script};
use serde::{Deserialize, Serialize};

use super::{connect, corrupt, keys::RedisKeys, unavailable, RedisPrefix};
use crate::server::store::{
    identity::TokenHash,
    push::{PushStore, PushSubscriptionRecord},
    StoreError,
};

/// KEYS: the endpoints' accounts, the account's subscriptions. ARGV: endpoint, account, the
/// subscription, the prefix of an account's subscriptions.
const ADD_SUBSCRIPTION: &str = r"
local before = redis.call('HGET', KEYS[1], ARGV[1])
if before and before ~= ARGV[2] then
  redis.call('HDEL', ARGV[4] .. before, ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
";

/// KEYS: the endpoints' accounts, the account's subscriptions. ARGV: endpoint, account.
const DELETE_SUBSCRIPTION: &str = r"
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
";

pub struct RedisPushStore {
    keys: RedisKeys,
    commands: ConnectionManager,
    add: Script,
    delete: Script,
}

/// A subscription as the account's hash keeps it.
#[derive(Serialize, Deserialize)]
struct Kept {
    session: String,
    p256dh: String,
    auth: String,
    created_at: f64,
}

impl RedisPushStore {
    /// Connects to the Redis at `url`; every key is under `prefix` (by default the
    /// database's, see [`RedisPrefix`]).
    pub async fn open(url: &str, prefix: Option<&RedisPrefix>) -> Result<Self, StoreError> {
        let keys = RedisKeys::for_deployment(url, prefix)?;
        let (_, commands) = connect(url).await?;
        Ok(Self {
            keys,
            commands,
            add: Script::new(ADD_SUBSCRIPTION),
            delete: Script::new(DELETE_SUBSCRIPTION),
        })
    }

    fn account_prefix(&self) -> String {
        self.keys.push_subscriptions("")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Option<TokenHash> {
    let mut hash = [0; 32];
    if text.len() != 64 {
        return None;
    }
    for (index, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * index..2 * index + 2)?, 16).ok()?;
    }
    Some(hash)
}

#[async_trait]
impl PushStore for RedisPushStore {
    async fn vapid_key(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut commands = self.commands.clone();
        let key = self.keys.push_key();
        let _: bool = commands
            .set_nx(&key, candidate)
            .await
            .map_err(unavailable)?;
        let kept: Option<Vec<u8>> = commands.get(&key).await.map_err(unavailable)?;
        kept.ok_or_else(|| corrupt("push key"))
    }

    async fn add_subscription(&self, record: &PushSubscriptionRecord) -> Result<(), StoreError> {
        let kept = serde_json::to_string(&Kept {
            session: hex(&record.session),
            p256dh: record.p256dh.clone(),
            auth: record.auth.clone(),
            created_at: record.created_at,
        })
        .map_err(|_| corrupt("push subscription"))?;
        let _: i64 = self
            .add
            .key(self.keys.push_endpoints())
            .key(self.keys.push_subscriptions(&record.account))
            .arg(&record.endpoint)
            .arg(&record.account)
            .arg(kept)
            .arg(self.account_prefix())
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn subscriptions(
        &self,
        account: &str,
    ) -> Result<Vec<PushSubscriptionRecord>, StoreError> {
        let kept: Vec<(String, String)> = self
            .commands
            .clone()
            .hgetall(self.keys.push_subscriptions(account))
            .await
            .map_err(unavailable)?;
        let mut subscriptions = Vec::with_capacity(kept.len());
        for (endpoint, kept) in kept {
            let kept: Kept =
                serde_json::from_str(&kept).map_err(|_| corrupt("push subscription"))?;
            subscriptions.push(PushSubscriptionRecord {
                endpoint,
                account: account.to_owned(),
                session: from_hex(&kept.session).ok_or_else(|| corrupt("push subscription"))?,
                p256dh: kept.p256dh,
                auth: kept.auth,
                created_at: kept.created_at,
            });
        }
        subscriptions.sort_by(|a, b| {
            (a.created_at.total_cmp(&b.created_at)).then_with(|| a.endpoint.cmp(&b.endpoint))
        });
        Ok(subscriptions)
    }

    async fn delete_subscription(&self, account: &str, endpoint: &str) -> Result<bool, StoreError> {
        let deleted: i64 = self
            .delete
            .key(self.keys.push_endpoints())
            .key(self.keys.push_subscriptions(account))
            .arg(endpoint)
            .arg(account)
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(unavailable)?;
        Ok(deleted == 1)
    }

    async fn delete_session_subscriptions(
        &self,
        account: &str,
        session: &TokenHash,
    ) -> Result<usize, StoreError> {
        let mut deleted = 0;
        for subscription in self.subscriptions(account).await? {
            if subscription.session == *session
                && self
                    .delete_subscription(account, &subscription.endpoint)
                    .await?
            {
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}
