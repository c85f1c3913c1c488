//! Who a request is, and which private rooms they may see: accounts, sessions, tokens from
//! another app, and private rooms with their members. It knows nothing of HTTP (the adapters
//! hand it [`Credentials`]) nor of the broker (`server::chat` applies its answers to polls).
//!
//! - this module: the [`Identity`] service, authentication, and the [`Caller`] it answers with;
//! - `accounts`: signing up, in and out, and the operator's account commands;
//! - `secrets`: password hashing (sign-ins first, in bounded queues) and session tokens;
//! - `limits`: the attempt limits of sign-in and sign-up, bounded in memory;
//! - `jwt`: tokens another site signs, verified locally (and cached) on every request;
//! - `rooms`: the private rooms, kept in memory and checked on every request;
//! - `room_writes`: changes to private rooms and joined rooms, to the store and that copy at once.
//!
//! Invariants:
//! - Nothing here logs or returns a password or token; the store keeps only their hashes.
//! - A sign-in or sign-up refused for its address spends nothing else: an address's flood
//!   never uses up an account's sign-in attempts nor the server's sign-ups; only names that are
//!   account names are counted, by their key.
//! - A session found in memory is trusted for [`SESSION_RECHECK`] at most, then read from the
//!   store again: a session revoked by another instance ends at once when the store tells us
//!   (Redis), or within that time when it cannot (an operator's command on the SQLite file).
//! - Private rooms are read from the store at startup and kept current by this instance's own
//!   changes and the store's reports of other instances' ones; every room check is in memory.

mod accounts;
pub mod jwt;
mod limits;
mod room_writes;
mod rooms;
mod secrets;

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::{sync::mpsc, time::Instant};

use super::{
    clock::unix_seconds,
    store::{
        identity::{AccountRecord, SessionRecord, TokenHash},
        IdentitySink, IdentityStore, StoreConfig, StoreError,
    },
};
use crate::{
    error::ChatError,
    model::{AccountName, Password, RoomName},
};
use jwt::JwtVerifier;
use limits::{address_key, per_hour, per_minute, retry_after_secs, KeyedLimit, Limit};
use rooms::PrivateRooms;
pub use rooms::RoomChange;
pub use secrets::TOKEN_PREFIX;
use secrets::{new_session_token, token_hash, Hasher};

/// How long a session found in memory is trusted before the store is asked again.
pub const SESSION_RECHECK: Duration = Duration::from_secs(15);
/// Sessions kept in memory at most; past it, the expired and stale ones go.
const MAX_CACHED_SESSIONS: usize = 100_000;

/// Tunables of identity.
#[derive(Clone)]
pub struct IdentityConfig {
    /// Whether requests without an identity may read and send as guests.
    pub guests: bool,
    /// How long a session lasts after sign-in.
    pub session_ttl: Duration,
    /// Sign-in attempts per minute for one account name, and for one client address.
    pub sign_in_per_name: NonZeroU32,
    pub sign_in_per_address: NonZeroU32,
    /// Password hashes computed at once; more wait their turn, sign-ins first.
    pub parallel_hashes: usize,
    /// Hashes that may wait for a thread, sign-ins and sign-ups each; past it, 503.
    pub hash_queue: usize,
    /// Whether anyone may create an account (`--sign-up`); off, only the operator does.
    pub sign_up: bool,
    /// Sign-ups per hour from one client address (429 past it), and over the whole server
    /// (503 past it).
    pub sign_up_per_address: NonZeroU32,
    pub sign_up_per_hour: NonZeroU32,
    /// The server is reached over https (`--public-url`): session cookies are `Secure`.
    pub https: bool,
    /// Accepts bearer tokens another site signs (`--jwt-secret`, `--jwt-public-key`).
    pub tokens: Option<JwtVerifier>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            guests: true,
            session_ttl: Duration::from_secs(30 * 86_400),
            sign_in_per_name: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            sign_in_per_address: NonZeroU32::new(30).unwrap_or(NonZeroU32::MIN),
            parallel_hashes: std::thread::available_parallelism()
                .map_or(1, |cores| cores.get().saturating_sub(1).max(1)),
            hash_queue: 32,
            sign_up: true,
            sign_up_per_address: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            sign_up_per_hour: NonZeroU32::new(600).unwrap_or(NonZeroU32::MIN),
            https: false,
            tokens: None,
        }
    }
}

/// What a request offers as proof of who it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// `Authorization: Bearer ...`: a session token or (with a verifier) another app's JWT.
    pub bearer: Option<&'a str>,
    /// The browser's session cookie.
    pub session_cookie: Option<&'a str>,
}

/// Who is asking: a signed-in user, or a guest; and from which address (for limits).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: Option<User>,
    pub address: IpAddr,
}

/// Someone the server vouches for.
#[derive(Debug, Clone)]
pub struct User {
    /// As the account was created (or the token's `sub`).
    pub name: AccountName,
    /// [`AccountName::key`]: what rooms and limits know the user by.
    pub key: Arc<str>,
    pub via: Via,
}

/// How a user proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// A session of an account here.
    Session {
        token_hash: TokenHash,
        expires_at: f64,
    },
    /// A token another app signed, naming the private rooms its holder may join.
    Token {
        rooms: Vec<RoomName>,
        expires_at: f64,
    },
}

impl User {
    /// Whether the user is this server's account `key` (signed in with a session of it): a
    /// token holder of the same name is not, so it never acts as an owner or a member.
    pub fn is_account(&self, key: &str) -> bool {
        matches!(self.via, Via::Session { .. }) && *self.key == *key
    }

    /// How the user's messages name their author ([`Message::author`](crate::model::Message)):
    /// the account's key, or `token:KEY` for another site's token holder, so that a token
    /// naming an account never edits that account's messages.
    pub fn author(&self) -> String {
        match self.via {
            Via::Session { .. } => self.key.to_string(),
            Via::Token { .. } => format!("token:{}", self.key),
        }
    }

    pub fn expires_at(&self) -> f64 {
        match &self.via {
            Via::Session { expires_at, .. } | Via::Token { expires_at, .. } => *expires_at,
        }
    }
}

/// A new session, as sign-in answers it.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub name: AccountName,
    pub expires_at: f64,
}

#[derive(Clone)]
pub struct Identity {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn IdentityStore>,
    hasher: Hasher,
    config: IdentityConfig,
    sessions: Mutex<HashMap<TokenHash, CachedSession>>,
    rooms: PrivateRooms,
    limits: Limits,
}

/// The attempt limits (see `limits`).
struct Limits {
    sign_in_by_address: KeyedLimit<IpAddr>,
    /// By account key: a name that is no account name is never counted.
    sign_in_by_name: KeyedLimit<String>,
    sign_up_by_address: KeyedLimit<IpAddr>,
    sign_ups: Limit,
}

struct CachedSession {
    user: User,
    checked: Instant,
}

impl Identity {
    /// Opens the identity part of `store` and reads its private rooms. Changes other instances
    /// make to private rooms arrive on the returned channel, for the broker's polls to follow.
    pub async fn open(
        config: IdentityConfig,
        store: &StoreConfig,
    ) -> Result<(Self, mpsc::UnboundedReceiver<RoomChange>), StoreError> {
        let (changes, changed) = mpsc::unbounded_channel();
        let sink = Arc::new(IdentityFeed {
            identity: std::sync::OnceLock::new(),
        });
        let identity_store = store.open_identity(sink.clone()).await?;
        let identity = Self::with_store(config, identity_store, changes).await?;
        let _ = sink.identity.set(identity.clone());
        Ok((identity, changed))
    }

    async fn with_store(
        config: IdentityConfig,
        store: Arc<dyn IdentityStore>,
        changes: mpsc::UnboundedSender<RoomChange>,
    ) -> Result<Self, StoreError> {
        let rooms = PrivateRooms::new(changes);
        rooms.replace_all(store.private_rooms().await?);
        let hasher = Hasher::new(config.parallel_hashes, config.hash_queue);
        Ok(Self {
            shared: Arc::new(Shared {
                limits: Limits {
                    sign_in_by_address: KeyedLimit::new(per_minute(config.sign_in_per_address)),
                    sign_in_by_name: KeyedLimit::new(per_minute(config.sign_in_per_name)),
                    sign_up_by_address: KeyedLimit::new(per_hour(config.sign_up_per_address)),
                    sign_ups: Limit::new(per_hour(config.sign_up_per_hour)),
                },
                store,
                hasher,
                config,
                sessions: Mutex::new(HashMap::new()),
                rooms,
            }),
        })
    }

    pub fn guests_allowed(&self) -> bool {
        self.shared.config.guests
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.shared.config
    }

    /// The private rooms, for the chat service to check and change.
    pub(crate) fn rooms(&self) -> &PrivateRooms {
        &self.shared.rooms
    }

    pub(super) fn store(&self) -> &Arc<dyn IdentityStore> {
        &self.shared.store
    }

    /// Whether the session of this token hash is still on (not signed out, expired or
    /// revoked), as the store says now.
    pub async fn session_alive(&self, token_hash: &TokenHash) -> Result<bool, ChatError> {
        let session = self.shared.store.session(token_hash).await;
        Ok(session.map_err(store_failed)?.is_some())
    }

    /// Who `credentials` prove the caller is. A bearer token that proves nothing is refused
    /// (401); a stale session cookie only makes the caller a guest, so a browser signed out
    /// elsewhere still opens the page.
    pub async fn authenticate(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<Option<User>, ChatError> {
        if let Some(token) = credentials.bearer {
            if token.starts_with(TOKEN_PREFIX) {
                return match self.session_user(token).await? {
                    Some(user) => Ok(Some(user)),
                    None => Err(ChatError::unauthenticated(
                        "invalid, expired or revoked token",
                    )),
                };
            }
            let Some(verifier) = &self.shared.config.tokens else {
                return Err(ChatError::unauthenticated(
                    "invalid, expired or revoked token",
                ));
            };
            // The rejection names what is wrong (expired, bad signature...), never the token.
            let claims = verifier
                .verify(token)
                .map_err(|rejected| ChatError::unauthenticated(rejected.to_string()))?;
            return Ok(Some(User {
                key: claims.name.key().into(),
                name: claims.name,
                via: Via::Token {
                    rooms: claims.rooms,
                    expires_at: claims.expires_at,
                },
            }));
        }
        match credentials.session_cookie {
            Some(token) if token.starts_with(TOKEN_PREFIX) => self.session_user(token).await,
            _ => Ok(None),
        }
    }

    async fn session_user(&self, token: &str) -> Result<Option<User>, ChatError> {
        let hash = token_hash(token);
        let now = unix_seconds();
        if let Some(cached) = self.sessions().get(&hash) {
            if cached.checked.elapsed() < SESSION_RECHECK && cached.user.expires_at() > now {
                return Ok(Some(cached.user.clone()));
            }
        }
        let store = &self.shared.store;
        let found = match store.session(&hash).await.map_err(store_failed)? {
            Some(session) => store
                .account(&session.account)
                .await
                .map_err(store_failed)?
                .filter(|account| !account.disabled)
                .map(|account| (session, account)),
            None => None,
        };
        let mut sessions = self.sessions();
        let Some((session, account)) = found else {
            sessions.remove(&hash);
            return Ok(None);
        };
        let Ok(name) = AccountName::parse(&account.name) else {
            return Ok(None);
        };
        let user = User {
            key: name.key().into(),
            name,
            via: Via::Session {
                token_hash: hash,
                expires_at: session.expires_at,
            },
        };
        if sessions.len() >= MAX_CACHED_SESSIONS {
            sessions.retain(|_, cached| {
                cached.checked.elapsed() < SESSION_RECHECK && cached.user.expires_at() > now
            });
        }
        sessions.insert(
            hash,
            CachedSession {
                user: user.clone(),
                checked: Instant::now(),
            },
        );
        Ok(Some(user))
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<TokenHash, CachedSession>> {
        self.shared
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forgets what is cached of sessions: of one account, or of every one.
    fn forget_sessions(&self, account: Option<&str>) {
        match account {
            Some(account) => self
                .sessions()
                .retain(|_, cached| &*cached.user.key != account),
            None => self.sessions().clear(),
        }
    }
}

/// A store failure as the client sees it, logged and counted as every store's is.
pub(crate) fn store_failed(error: StoreError) -> ChatError {
    error.reported("identity store")
}

/// Hears of other instances' changes through the store. Set once the service exists: the
/// store is opened before it.
struct IdentityFeed {
    identity: std::sync::OnceLock<Identity>,
}

impl IdentitySink for IdentityFeed {
    fn session_revoked(&self, token_hash: &TokenHash) {
        if let Some(identity) = self.identity.get() {
            identity.sessions().remove(token_hash);
        }
    }

    fn account_changed(&self, account: &str) {
        if let Some(identity) = self.identity.get() {
            identity.forget_sessions(Some(account));
        }
    }

    fn room_changed(&self, room: &str) {
        if let Some(identity) = self.identity.get() {
            let identity = identity.clone();
            let room = room.to_owned();
            tokio::spawn(async move { identity.rooms().reload(identity.store(), &room).await });
        }
    }

    fn interrupted(&self) {
        if let Some(identity) = self.identity.get() {
            identity.forget_sessions(None);
            let identity = identity.clone();
            tokio::spawn(async move { identity.rooms().reload_all(identity.store()).await });
        }
    }
}

#[cfg(test)]
mod tests;
