//! Accounts, sessions, private rooms and joined rooms in the Redis the instances share, beside
//! the messages (under the same deployment prefix, written `PREFIX` below; see [`RedisKeys`]),
//! and the announcements that keep every instance's cache right.
//!
//! Keys:
//! - `PREFIX account:KEY`: hash `name`, `password_hash`, `disabled` (`0`/`1`), `created_at`,
//!   KEY being the lowercase name; `PREFIX accounts`: sorted set of every KEY, all scored 0 so
//!   it lists them in key order;
//! - `PREFIX session:HASH` (HASH: the token hash in lowercase hex): hash `account`,
//!   `expires_at`, which Redis expires at `expires_at`; `PREFIX sessions-of:KEY`: set of the
//!   account's session HASHes, expiring with its last session, and rid of expired ones whenever
//!   the account gets a new session;
//! - `PREFIX private-room:NAME`: hash `owner`; `PREFIX private-room-members:NAME`: set of the
//!   members besides the owner; `PREFIX private-rooms`: sorted set of every NAME, scored 0;
//! - `PREFIX joined:KEY`: hash of the rooms the account joined, each to the id of the last
//!   message it read there (canonical text, which orders as the id does; empty: none yet);
//!   `PREFIX joined-by:NAME`: set of the KEYs that joined room NAME, for dropping a deleted
//!   room from every list.
//!
//! Every change is one Lua script (atomic, `scripts`) that also publishes, only if something
//! changed, a JSON event on `PREFIX identity` (`announcements`):
//! `{"from":INSTANCE,"kind":"account_changed","account":KEY}`,
//! `{"from":…,"kind":"session_revoked","token_hash":HASH}` or
//! `{"from":…,"kind":"room_changed","room":NAME}`. Each store subscribes and tells its sink of
//! the events of every other instance (joined rooms and read positions are cached nowhere, so
//! their changes announce nothing). Events published while its subscription was lost are lost
//! with it: once a new subscription is up (see `super::subscription`), it tells the sink it
//! was interrupted, so the sink reads again whatever it caches.
//!
//! The scripts touch keys they derive (sessions from a set's members), which is fine on one
//! Redis server but not on Redis Cluster.

mod announcements;
mod scripts;

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use async_trait::async_trait;
use redis::{aio::ConnectionManager, AsyncCommands};
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use super::{
    connect, corrupt, keys::RedisKeys, open_error, subscription::Subscription, unavailable,
    RedisPrefix, PING_EVERY,
};
use crate::model::NotifyLevel;
use crate::server::{
    clock::unix_seconds,
    store::{
        identity::{
            AccountRecord, IdentitySink, IdentityStore, JoinedRoomRecord, PrivateRoomRecord,
            SessionRecord, TokenHash,
        },
        StoreError,
    },
};
use announcements::{to_hex, IdentityChange};
use scripts::Scripts;

pub struct RedisIdentityStore {
    inner: Arc<Inner>,
    /// Stops the subscription when the store is dropped.
    _stop: DropGuard,
}

struct Inner {
    /// Tells this instance's own announcements apart.
    instance: String,
    /// The deployment's keys and channels.
    keys: RedisKeys,
    commands: ConnectionManager,
    sink: Arc<dyn IdentitySink>,
    scripts: Scripts,
}

impl RedisIdentityStore {
    /// Connects to the Redis at `url` and subscribes to other instances' changes, which
    /// `sink` hears of from then on; every key and channel is under `prefix` (by default the
    /// database's, see [`RedisPrefix`]).
    pub async fn open(
        url: &str,
        prefix: Option<&RedisPrefix>,
        sink: Arc<dyn IdentitySink>,
    ) -> Result<Self, StoreError> {
        let keys = RedisKeys::for_deployment(url, prefix)?;
        let (client, commands) = connect(url).await?;
        let channels = vec![keys.identity_channel().to_owned()];
        let inner = Arc::new(Inner {
            instance: uuid::Uuid::now_v7().to_string(),
            keys,
            commands,
            sink,
            scripts: Scripts::new(),
        });
        let stop = CancellationToken::new();
        Subscription::start(
            "identity",
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

/// An account from its hash's fields; `None` for no fields (no such key).
fn parse_account(fields: HashMap<String, String>) -> Result<Option<AccountRecord>, StoreError> {
    if fields.is_empty() {
        return Ok(None);
    }
    let field = |name: &str| fields.get(name).ok_or_else(|| corrupt("account"));
    Ok(Some(AccountRecord {
        name: field("name")?.clone(),
        password_hash: field("password_hash")?.clone(),
        disabled: field("disabled")? == "1",
        created_at: field("created_at")?
            .parse()
            .map_err(|_| corrupt("account"))?,
    }))
}

/// A room from its owner and members, as [`read_room`] reads them.
fn parse_room(
    name: &str,
    (owner, members): (Option<String>, BTreeSet<String>),
) -> Option<PrivateRoomRecord> {
    owner.map(|owner| PrivateRoomRecord {
        name: name.to_owned(),
        owner,
        members,
    })
}

/// A read position as kept (empty: none).
fn parse_last_read(kept: &str) -> Result<Option<Uuid>, StoreError> {
    if kept.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(kept)
        .map(Some)
        .map_err(|_| corrupt("read position"))
}

/// Adds to `pipeline` the reads of a room's owner and members.
fn read_room(keys: &RedisKeys, pipeline: &mut redis::Pipeline, name: &str) {
    pipeline
        .hget(keys.private_room(name), "owner")
        .smembers(keys.private_room_members(name));
}

/// Unix milliseconds at `seconds`, rounded up so Redis keeps a session until then at least.
fn millis(seconds: f64) -> u64 {
    (seconds * 1_000.0).ceil() as u64
}

#[async_trait]
impl IdentityStore for RedisIdentityStore {
    async fn create_account(&self, account: &AccountRecord) -> Result<bool, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        let key = account.key();
        let created: bool = inner
            .scripts
            .create_account
            .key(keys.account(&key))
            .key(keys.accounts())
            .key(keys.identity_channel())
            .arg(&key)
            .arg(&account.name)
            .arg(&account.password_hash)
            .arg(if account.disabled { "1" } else { "0" })
            .arg(account.created_at.to_string())
            .arg(inner.account_changed(&key))
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)?;
        Ok(created)
    }

    async fn account(&self, key: &str) -> Result<Option<AccountRecord>, StoreError> {
        let keys = &self.inner.keys;
        let fields: HashMap<String, String> = self
            .inner
            .commands
            .clone()
            .hgetall(keys.account(key))
            .await
            .map_err(unavailable)?;
        parse_account(fields)
    }

    async fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        let keys = &self.inner.keys;
        let mut commands = self.inner.commands.clone();
        let accounts: Vec<String> = commands
            .zrange(keys.accounts(), 0, -1)
            .await
            .map_err(unavailable)?;
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipeline = redis::pipe();
        for account in &accounts {
            pipeline.hgetall(keys.account(account));
        }
        let all: Vec<HashMap<String, String>> = pipeline
            .query_async(&mut commands)
            .await
            .map_err(unavailable)?;
        let mut accounts = Vec::with_capacity(all.len());
        for fields in all {
            accounts.extend(parse_account(fields)?);
        }
        Ok(accounts)
    }

    async fn set_password(&self, key: &str, password_hash: &str) -> Result<bool, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        inner
            .scripts
            .set_password
            .key(keys.account(key))
            .key(keys.identity_channel())
            .arg(password_hash)
            .arg(inner.account_changed(key))
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)
    }

    async fn set_disabled(&self, key: &str, disabled: bool) -> Result<bool, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        inner
            .scripts
            .set_disabled
            .key(keys.account(key))
            .key(keys.sessions_of(key))
            .key(keys.identity_channel())
            .arg(if disabled { "1" } else { "0" })
            .arg(keys.session_prefix())
            .arg(inner.account_changed(key))
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)
    }

    async fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let keys = &self.inner.keys;
        // Already gone: keeping it would only make Redis delete it.
        if session.expires_at <= unix_seconds() {
            return Ok(());
        }
        let inner = &*self.inner;
        let hash = to_hex(&session.token_hash);
        let _: u8 = inner
            .scripts
            .create_session
            .key(keys.session(&hash))
            .key(keys.sessions_of(&session.account))
            .arg(&session.account)
            .arg(session.expires_at.to_string())
            .arg(millis(session.expires_at))
            .arg(&hash)
            .arg(keys.session_prefix())
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        let keys = &self.inner.keys;
        let fields: HashMap<String, String> = self
            .inner
            .commands
            .clone()
            .hgetall(keys.session(&to_hex(token_hash)))
            .await
            .map_err(unavailable)?;
        if fields.is_empty() {
            return Ok(None);
        }
        let account = fields.get("account").ok_or_else(|| corrupt("session"))?;
        let expires_at: f64 = fields
            .get("expires_at")
            .and_then(|at| at.parse().ok())
            .ok_or_else(|| corrupt("session"))?;
        // Redis expires it within a millisecond or so; the contract says at `expires_at`.
        if expires_at <= unix_seconds() {
            return Ok(None);
        }
        Ok(Some(SessionRecord {
            token_hash: *token_hash,
            account: account.clone(),
            expires_at,
        }))
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> Result<bool, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        let hash = to_hex(token_hash);
        let event = inner.event(IdentityChange::SessionRevoked {
            token_hash: hash.clone(),
        });
        inner
            .scripts
            .delete_session
            .key(keys.session(&hash))
            .key(keys.identity_channel())
            .arg(&hash)
            .arg(keys.sessions_of_prefix())
            .arg(event)
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)
    }

    async fn delete_sessions_of(&self, account: &str) -> Result<usize, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        inner
            .scripts
            .delete_sessions_of
            .key(keys.sessions_of(account))
            .key(keys.identity_channel())
            .arg(keys.session_prefix())
            .arg(inner.account_changed(account))
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)
    }

    async fn create_private_room(&self, room: &PrivateRoomRecord) -> Result<bool, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        let mut script = inner
            .scripts
            .create_private_room
            .key(keys.private_room(&room.name));
        script
            .key(keys.private_room_members(&room.name))
            .key(keys.private_rooms())
            .key(keys.identity_channel())
            .arg(&room.name)
            .arg(&room.owner)
            .arg(inner.room_changed(&room.name));
        for member in &room.members {
            script.arg(member);
        }
        script
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)
    }

    async fn private_room(&self, name: &str) -> Result<Option<PrivateRoomRecord>, StoreError> {
        let keys = &self.inner.keys;
        let mut pipeline = redis::pipe();
        read_room(keys, pipeline.atomic(), name);
        let read = pipeline
            .query_async(&mut self.inner.commands.clone())
            .await
            .map_err(unavailable)?;
        Ok(parse_room(name, read))
    }

    async fn private_rooms(&self) -> Result<Vec<PrivateRoomRecord>, StoreError> {
        let keys = &self.inner.keys;
        let mut commands = self.inner.commands.clone();
        let names: Vec<String> = commands
            .zrange(keys.private_rooms(), 0, -1)
            .await
            .map_err(unavailable)?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipeline = redis::pipe();
        for name in &names {
            read_room(keys, &mut pipeline, name);
        }
        let reads: Vec<(Option<String>, BTreeSet<String>)> = pipeline
            .query_async(&mut commands)
            .await
            .map_err(unavailable)?;
        // A room deleted since its name was read has no owner any more: it is left out.
        Ok(names
            .iter()
            .zip(reads)
            .filter_map(|(name, read)| parse_room(name, read))
            .collect())
    }

    async fn delete_private_room(&self, name: &str) -> Result<bool, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        inner
            .scripts
            .delete_private_room
            .key(keys.private_room(name))
            .key(keys.private_room_members(name))
            .key(keys.private_rooms())
            .key(keys.identity_channel())
            .key(keys.joined_by(name))
            .arg(name)
            .arg(inner.room_changed(name))
            .arg(keys.joined_prefix())
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)
    }

    async fn add_member(&self, room: &str, account: &str) -> Result<bool, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        inner
            .scripts
            .add_member
            .key(keys.private_room(room))
            .key(keys.private_room_members(room))
            .key(keys.identity_channel())
            .arg(account)
            .arg(inner.room_changed(room))
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)
    }

    async fn remove_member(&self, room: &str, account: &str) -> Result<bool, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        inner
            .scripts
            .remove_member
            .key(keys.private_room_members(room))
            .key(keys.identity_channel())
            .key(keys.joined(account))
            .key(keys.joined_by(room))
            .arg(account)
            .arg(inner.room_changed(room))
            .arg(room)
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)
    }

    async fn room_joined(&self, room: &str) -> Result<bool, StoreError> {
        let keys = &self.inner.keys;
        let joiners: u64 = (self.inner.commands.clone())
            .scard(keys.joined_by(room))
            .await
            .map_err(unavailable)?;
        Ok(joiners > 0)
    }

    async fn joined_rooms(&self, account: &str) -> Result<Vec<JoinedRoomRecord>, StoreError> {
        let keys = &self.inner.keys;
        let (kept, mut levels): (HashMap<String, String>, HashMap<String, String>) = redis::pipe()
            .hgetall(keys.joined(account))
            .hgetall(keys.notify(account))
            .query_async(&mut self.inner.commands.clone())
            .await
            .map_err(unavailable)?;
        let mut rooms = kept
            .into_iter()
            .map(|(room, last_read)| {
                let notify = levels.remove(&room);
                Ok(JoinedRoomRecord {
                    last_read: parse_last_read(&last_read)?,
                    notify: notify.as_deref().and_then(NotifyLevel::from_kept),
                    room,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        rooms.sort_by(|a, b| a.room.cmp(&b.room));
        Ok(rooms)
    }

    async fn set_read(
        &self,
        account: &str,
        room: &str,
        last_read: Option<Uuid>,
        notify: Option<NotifyLevel>,
    ) -> Result<Option<JoinedRoomRecord>, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        let kept: Option<(String, String)> = inner
            .scripts
            .set_read
            .key(keys.joined(account))
            .key(keys.joined_by(room))
            .key(keys.private_room(room))
            .key(keys.private_room_members(room))
            .key(keys.notify(account))
            .arg(account)
            .arg(room)
            .arg(last_read.map(|id| id.to_string()).unwrap_or_default())
            .arg(notify.map_or("", NotifyLevel::as_str))
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)?;
        kept.map(|(last_read, notify)| {
            Ok(JoinedRoomRecord {
                room: room.to_owned(),
                last_read: parse_last_read(&last_read)?,
                notify: NotifyLevel::from_kept(&notify),
            })
        })
        .transpose()
    }

    async fn levels_in(&self, room: &str) -> Result<Vec<(String, NotifyLevel)>, StoreError> {
        let keys = &self.inner.keys;
        let mut commands = self.inner.commands.clone();
        let joiners: Vec<String> = commands
            .smembers(keys.joined_by(room))
            .await
            .map_err(unavailable)?;
        let mut pipe = redis::pipe();
        for account in &joiners {
            pipe.hget(keys.notify(account), room);
        }
        let levels: Vec<Option<String>> =
            pipe.query_async(&mut commands).await.map_err(unavailable)?;
        Ok((joiners.into_iter().zip(levels))
            .filter_map(|(account, level)| {
                Some((account, NotifyLevel::from_kept(level.as_deref()?)?))
            })
            .collect())
    }

    async fn leave_room(&self, account: &str, room: &str) -> Result<bool, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        inner
            .scripts
            .leave_room
            .key(keys.joined(account))
            .key(keys.joined_by(room))
            .key(keys.notify(account))
            .arg(account)
            .arg(room)
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)
    }
}
