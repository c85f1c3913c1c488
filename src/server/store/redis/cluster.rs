//! What the instances sharing one Redis tell each other, apart from the log (see
//! [`Cluster`]). Keys and channels are under the deployment's prefix, written `PREFIX` (see
//! [`RedisKeys`]).
//!
//! Active clients: the sorted set `PREFIX clients` scores each `"OWNER CLIENT-ID"` by when an
//! instance last saw it active, for cluster-wide stats; counting drops those idle for longer
//! than asked.
//!
//! Disconnects: `DELETE /api/client/ID` on one instance removes `"OWNER ID"` from
//! `PREFIX clients` and, if some instance had reported it there, publishes
//! `"INSTANCE OWNER ID"` on `PREFIX disconnects` in the same script; the other instances answer
//! that owner's client's polls there.
//!
//! Presence and typing are never stored: instances tell each other on `PREFIX live`
//! (`{"from": INSTANCE, "news": [LiveNews...]}`, see [`LiveNews`]). Once subscribed (and again
//! after each loss of the subscription), an instance says `hello` there, so the others say their
//! presence again at once rather than at their next refresh.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use redis::{aio::ConnectionManager, AsyncCommands, Script};
use tokio::time::timeout;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{
    connect,
    keys::RedisKeys,
    open_error,
    subscription::{Subscriber, Subscription},
    unavailable, unix_millis, RedisPrefix, COMMAND_TIMEOUT, PING_EVERY,
};
use crate::server::store::{Cluster, ClusterSink, LiveNews, StoreError};

/// At most this many [`LiveNews`] per publication, so one room's news is never held up behind
/// a very long message.
const LIVE_NEWS_PER_PUBLICATION: usize = 64;

/// Active clients recorded per round trip.
const RECORD_CHUNK: usize = 1_000;

/// What an instance publishes on the live channel: who is online and typing.
#[derive(serde::Serialize, serde::Deserialize)]
struct LivePublication<F, N> {
    from: F,
    news: N,
}

/// KEYS: active clients, disconnections channel. ARGV: `OWNER CLIENT-ID`, this instance. Tells
/// the other instances only when some instance reported the client active as that owner's.
const DISCONNECT_SCRIPT: &str = r"
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if removed > 0 then
    redis.call('PUBLISH', KEYS[2], ARGV[2] .. ' ' .. ARGV[1])
end
return removed
";

pub struct RedisCluster {
    inner: Arc<Inner>,
    /// Stops the subscription when the cluster is dropped.
    _stop: DropGuard,
}

struct Inner {
    /// Tells this instance's own publications apart.
    instance: String,
    /// The deployment's keys and channels.
    keys: RedisKeys,
    commands: ConnectionManager,
    disconnect: Script,
    sink: Arc<dyn ClusterSink>,
}

impl RedisCluster {
    /// Connects to the Redis at `url` (`redis://HOST:PORT/DB`) and subscribes to what the other
    /// instances say, which `sink` hears from then on; every key and channel is under `prefix`
    /// (by default the database's, see [`RedisPrefix`]).
    pub async fn open(
        url: &str,
        prefix: Option<&RedisPrefix>,
        sink: Arc<dyn ClusterSink>,
    ) -> Result<Self, StoreError> {
        let keys = RedisKeys::for_deployment(url, prefix)?;
        let (client, commands) = connect(url).await?;
        let channels = vec![
            keys.disconnects_channel().to_owned(),
            keys.live_channel().to_owned(),
        ];
        let inner = Arc::new(Inner {
            instance: uuid::Uuid::now_v7().to_string(),
            keys,
            commands,
            disconnect: Script::new(DISCONNECT_SCRIPT),
            sink,
        });
        let stop = CancellationToken::new();
        Subscription::start(
            "cluster",
            client,
            channels,
            inner.clone(),
            PING_EVERY,
            stop.clone(),
        )
        .await
        .map_err(|error| open_error(url, error))?;
        Ok(Self {
            inner,
            _stop: stop.drop_guard(),
        })
    }
}

impl Inner {
    /// Follows a disconnection published by another instance (`"INSTANCE OWNER CLIENT-ID"`).
    fn disconnected_elsewhere(&self, payload: &[u8]) {
        let text = String::from_utf8_lossy(payload);
        let mut words = text.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some(instance), _, _) if instance == self.instance => {}
            (Some(_), Some(owner), Some(client_id)) => {
                self.sink.client_disconnected(owner, client_id);
            }
            _ => tracing::warn!("unreadable disconnection in redis"),
        }
    }

    /// Hands another instance's presence and typing to the sink.
    fn heard_live(&self, payload: &[u8]) {
        match serde_json::from_slice::<LivePublication<String, Vec<LiveNews>>>(payload) {
            Ok(publication) if publication.from == self.instance => {}
            Ok(publication) => self.sink.live_heard(&publication.from, publication.news),
            Err(error) => tracing::warn!(%error, "unreadable presence news in redis"),
        }
    }

    async fn publish_live(&self, news: &[LiveNews]) -> Result<(), StoreError> {
        let mut commands = self.commands.clone();
        for chunk in news.chunks(LIVE_NEWS_PER_PUBLICATION) {
            let publication = LivePublication {
                from: &self.instance,
                news: chunk,
            };
            let payload = serde_json::to_string(&publication)
                .map_err(|error| StoreError::Unavailable(error.to_string()))?;
            let _: () = timeout(
                COMMAND_TIMEOUT,
                commands.publish(self.keys.live_channel(), payload),
            )
            .await
            .map_err(|_| StoreError::Unavailable("publishing timed out".into()))?
            .map_err(unavailable)?;
        }
        Ok(())
    }
}

impl Subscriber for Inner {
    /// Says `hello`: what the others said while this instance was not listening is said again.
    async fn subscribed(&self, _again: bool) -> Result<(), StoreError> {
        self.publish_live(&[LiveNews::Hello]).await
    }

    async fn published(&self, channel: &str, payload: &[u8]) -> Result<(), StoreError> {
        if channel == self.keys.disconnects_channel() {
            self.disconnected_elsewhere(payload);
        } else {
            self.heard_live(payload);
        }
        Ok(())
    }

    /// Disconnects said meanwhile are lost (those clients' polls here end at their timeout);
    /// what others said of presence runs out by itself, and is said again after `hello`.
    fn lost(&self) {}
}

#[async_trait]
impl Cluster for RedisCluster {
    async fn record_active_clients(&self, clients: Vec<String>) -> Result<(), StoreError> {
        let now = unix_millis(Duration::ZERO);
        let mut commands = self.inner.commands.clone();
        for chunk in clients.chunks(RECORD_CHUNK) {
            let scored: Vec<(u64, &String)> = chunk.iter().map(|id| (now, id)).collect();
            let _: () = commands
                .zadd_multiple(self.inner.keys.clients(), &scored)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn active_clients(&self, idle: Duration) -> Result<usize, StoreError> {
        let mut commands = self.inner.commands.clone();
        let cutoff = unix_millis(idle);
        let clients = self.inner.keys.clients();
        let (active,): (usize,) = redis::pipe()
            .zrembyscore(clients, "-inf", format!("({cutoff}"))
            .ignore()
            .zcard(clients)
            .query_async(&mut commands)
            .await
            .map_err(unavailable)?;
        Ok(active)
    }

    async fn disconnect_client(&self, owner: &str, client_id: &str) -> Result<bool, StoreError> {
        let mut commands = self.inner.commands.clone();
        let removed: u64 = self
            .inner
            .disconnect
            .key(self.inner.keys.clients())
            .key(self.inner.keys.disconnects_channel())
            .arg(format!("{owner} {client_id}"))
            .arg(&self.inner.instance)
            .invoke_async(&mut commands)
            .await
            .map_err(unavailable)?;
        Ok(removed > 0)
    }

    async fn publish_live(&self, news: &[LiveNews]) -> Result<(), StoreError> {
        self.inner.publish_live(news).await
    }
}
