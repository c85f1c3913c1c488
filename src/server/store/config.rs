//! Which store to use ([`StoreConfig`], from `--store`), and opening each of its parts.

use std::{fmt, path::PathBuf, str::FromStr, sync::Arc};

use super::{
    Cluster, ClusterSink, CommitSink, IdentitySink, IdentityStore, LogStore, MemoryIdentityStore,
    MemoryPushStore, MemoryStore, PushStore, RedisCluster, RedisIdentityStore, RedisPrefix,
    RedisPushStore, RedisStore, Retention, SqliteIdentityStore, SqlitePushStore, SqliteStore,
    StoreError,
};

/// Which store to use, as given on the command line: `memory`, `sqlite:PATH` or
/// `redis://HOST:PORT/DB` (with `--redis-prefix`, see [`StoreConfig::with_redis_prefix`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// Nothing survives the process.
    Memory,
    /// A SQLite file, created (with its directory) if missing.
    Sqlite(PathBuf),
    /// A Redis shared with other instances: `redis://HOST:PORT/DB`, every key and channel
    /// under `prefix`; by default the prefix of the database (see [`RedisPrefix`]).
    Redis {
        url: String,
        prefix: Option<RedisPrefix>,
    },
}

impl StoreConfig {
    /// The same store, with a Redis one's keys and channels under `prefix` when given. Other
    /// stores have no prefix and are left as they are.
    pub fn with_redis_prefix(self, prefix: Option<RedisPrefix>) -> Self {
        match (self, prefix) {
            (Self::Redis { url, .. }, Some(prefix)) => Self::Redis {
                url,
                prefix: Some(prefix),
            },
            (config, _) => config,
        }
    }

    /// The message log of the store, keeping what `retention` says. `sink` hears of every
    /// entry committed, whichever instance sharing the store appended it.
    pub async fn open(
        &self,
        sink: Arc<dyn CommitSink>,
        retention: Retention,
    ) -> Result<Arc<dyn LogStore>, StoreError> {
        Ok(match self {
            Self::Memory => Arc::new(MemoryStore::new(sink, retention)),
            Self::Sqlite(path) => Arc::new(SqliteStore::open(path, sink, retention)?),
            Self::Redis { url, prefix } => {
                Arc::new(RedisStore::open(url, prefix.as_ref(), sink, retention).await?)
            }
        })
    }

    /// The other instances sharing the store, `None` for a store nobody shares. `sink` hears
    /// what they tell this one.
    pub async fn open_cluster(
        &self,
        sink: Arc<dyn ClusterSink>,
    ) -> Result<Option<Arc<dyn Cluster>>, StoreError> {
        Ok(match self {
            Self::Memory | Self::Sqlite(_) => None,
            Self::Redis { url, prefix } => Some(Arc::new(
                RedisCluster::open(url, prefix.as_ref(), sink).await?,
            )),
        })
    }

    /// The accounts, sessions and private rooms of the same store. `sink` hears of changes
    /// made by other instances sharing it.
    pub async fn open_identity(
        &self,
        sink: Arc<dyn IdentitySink>,
    ) -> Result<Arc<dyn IdentityStore>, StoreError> {
        Ok(match self {
            Self::Memory => Arc::new(MemoryIdentityStore::default()),
            // One instance: nobody to tell, so the sink is not needed.
            Self::Sqlite(path) => Arc::new(SqliteIdentityStore::open(path)?),
            Self::Redis { url, prefix } => {
                Arc::new(RedisIdentityStore::open(url, prefix.as_ref(), sink).await?)
            }
        })
    }
}

impl StoreConfig {
    /// The VAPID key and push subscriptions of the same store (a memory store's are its own:
    /// open it once).
    pub async fn open_push(&self) -> Result<Arc<dyn PushStore>, StoreError> {
        Ok(match self {
            Self::Memory => Arc::new(MemoryPushStore::default()),
            Self::Sqlite(path) => Arc::new(SqlitePushStore::open(path)?),
            Self::Redis { url, prefix } => {
                Arc::new(RedisPushStore::open(url, prefix.as_ref()).await?)
            }
        })
    }
}

impl FromStr for StoreConfig {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.split_once(':') {
            None if value == "memory" => Ok(Self::Memory),
            Some(("sqlite", path)) if !path.is_empty() => Ok(Self::Sqlite(path.into())),
            Some(("redis", rest)) if rest.starts_with("//") => Ok(Self::Redis {
                url: value.to_owned(),
                prefix: None,
            }),
            _ => Err(format!(
                "unknown store {value:?}; expected `memory`, `sqlite:PATH` or `redis://HOST:PORT/DB`"
            )),
        }
    }
}

impl fmt::Display for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Redis { url, .. } => f.write_str(&redacted(url)),
        }
    }
}

/// The URL without the credentials it may carry (`redis://user:password@host`), for logs and
/// errors: a password is never printed.
pub(crate) fn redacted(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((_, host)) => format!("redis://***@{host}"),
        None => url.to_owned(),
    }
}
