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
//! Every change is one Lua script (atomic) that also publishes, only if something changed, a
//! JSON event on `PREFIX identity`: `{"from":INSTANCE,"kind":"account_changed","account":KEY}`,
//! `{"from":…,"kind":"session_revoked","token_hash":HASH}` or
//! `{"from":…,"kind":"room_changed","room":NAME}`. Each store subscribes and tells its sink of
//! the events of every other instance (joined rooms and read positions are cached nowhere, so
//! their changes announce nothing); after its subscription broke and came back it tells the
//! sink it was interrupted, since events published meanwhile are lost.
//!
//! The scripts touch keys they derive (sessions from a set's members), which is fine on one
//! Redis server but not on Redis Cluster.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use async_trait::async_trait;
use redis::{aio::ConnectionManager, AsyncCommands, Script};
use serde::{Deserialize, Serialize};
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use super::{
    connect, corrupt,
    keys::RedisKeys,
    subscription::{Subscriber, Subscription},
    unavailable, RedisPrefix, PING_EVERY,
};
use crate::server::{
    clock::unix_seconds,
    store::{
        identity::{
            AccountRecord, IdentitySink, IdentityStore, JoinedRoomRecord, PrivateRoomRecord,
            SessionRecord, TokenHash,
        },
        redacted, StoreError,
    },
};

/// Deletes every session listed in the set `set` (hashes after the key prefix `prefix`), and
/// the set; returns how many sessions there were.
const DELETE_SESSIONS: &str = r"
local function delete_sessions(set, prefix)
  local count = 0
  for _, hash in ipairs(redis.call('SMEMBERS', set)) do
    count = count + redis.call('DEL', prefix .. hash)
  end
  redis.call('DEL', set)
  return count
end
";

/// KEYS: account, accounts, channel. ARGV: key, name, password hash, disabled, created at, event.
const CREATE_ACCOUNT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[2], 'password_hash', ARGV[3], 'disabled', ARGV[4],
           'created_at', ARGV[5])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[6])
return 1
";

/// KEYS: account, channel. ARGV: password hash, event.
const SET_PASSWORD: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'password_hash', ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1
";

/// KEYS: account, its sessions set, channel. ARGV: disabled, session key prefix, event.
const SET_DISABLED: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'disabled', ARGV[1])
if ARGV[1] == '1' then delete_sessions(KEYS[2], ARGV[2]) end
redis.call('PUBLISH', KEYS[3], ARGV[3])
return 1
";

/// KEYS: session, its account's sessions set. ARGV: account, expires at (seconds, as given),
/// expires at (Unix milliseconds), token hash, session key prefix.
const CREATE_SESSION: &str = r"
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[5] .. hash) == 0 then redis.call('SREM', KEYS[2], hash) end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'account', ARGV[1], 'expires_at', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
local ttl = redis.call('PTTL', KEYS[2])
local now = redis.call('TIME')
if ttl < 0 or tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000 + ttl < tonumber(ARGV[3]) then
  redis.call('PEXPIREAT', KEYS[2], ARGV[3])
end
return 1
";

/// KEYS: session, channel. ARGV: token hash, sessions set key prefix, event.
const DELETE_SESSION: &str = r"
local account = redis.call('HGET', KEYS[1], 'account')
if not account then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[2] .. account, ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[3])
return 1
";

/// KEYS: the account's sessions set, channel. ARGV: session key prefix, event.
const DELETE_SESSIONS_OF: &str = r"
local count = delete_sessions(KEYS[1], ARGV[1])
if count > 0 then redis.call('PUBLISH', KEYS[2], ARGV[2]) end
return count
";

/// KEYS: room, members, rooms, channel. ARGV: name, owner, event, members...
const CREATE_PRIVATE_ROOM: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
redis.call('DEL', KEYS[2])
for i = 4, #ARGV do
  if ARGV[i] ~= ARGV[2] then redis.call('SADD', KEYS[2], ARGV[i]) end
end
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('PUBLISH', KEYS[4], ARGV[3])
return 1
";

/// KEYS: room, members, rooms, channel, its joiners. ARGV: name, event, joined key prefix.
const DELETE_PRIVATE_ROOM: &str = r"
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
for _, account in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  redis.call('HDEL', ARGV[3] .. account, ARGV[1])
end
redis.call('DEL', KEYS[5])
redis.call('PUBLISH', KEYS[4], ARGV[2])
return 1
";

/// KEYS: room, members, channel. ARGV: account, event.
const ADD_MEMBER: &str = r"
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return 0 end
if owner ~= ARGV[1] and redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  redis.call('PUBLISH', KEYS[3], ARGV[2])
end
return 1
";

/// KEYS: members, channel, the member's joined rooms, the room's joiners. ARGV: account,
/// event, room.
const REMOVE_MEMBER: &str = r"
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1
";

/// KEYS: the account's joined rooms, the room's joiners, room, members. ARGV: account, room,
/// last read id (empty: none). Answers the kept id (empty: none), or nil for a private room
/// the account is not in. Canonical ids compare as strings, and the empty string before all.
const SET_READ: &str = r"
local owner = redis.call('HGET', KEYS[3], 'owner')
if owner and owner ~= ARGV[1] and redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 0 then
  return false
end
local kept = redis.call('HGET', KEYS[1], ARGV[2])
if not kept or ARGV[3] > kept then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  kept = ARGV[3]
end
redis.call('SADD', KEYS[2], ARGV[1])
return kept
";

/// KEYS: the account's joined rooms, the room's joiners. ARGV: account, room.
const LEAVE_ROOM: &str = r"
if redis.call('HDEL', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
";

/// One announcement on the identity channel.
#[derive(Debug, Serialize, Deserialize)]
struct Event {
    /// The instance that made the change.
    from: String,
    #[serde(flatten)]
    change: IdentityChange,
}

/// What changed, as the other instances' caches need to know it (`kind` on the wire).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum IdentityChange {
    SessionRevoked { token_hash: String },
    AccountChanged { account: String },
    RoomChanged { room: String },
}

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

struct Scripts {
    create_account: Script,
    set_password: Script,
    set_disabled: Script,
    create_session: Script,
    delete_session: Script,
    delete_sessions_of: Script,
    create_private_room: Script,
    delete_private_room: Script,
    add_member: Script,
    remove_member: Script,
    set_read: Script,
    leave_room: Script,
}

impl Scripts {
    fn new() -> Self {
        let with_delete_sessions = |body: &str| Script::new(&format!("{DELETE_SESSIONS}{body}"));
        Self {
            create_account: Script::new(CREATE_ACCOUNT),
            set_password: Script::new(SET_PASSWORD),
            set_disabled: with_delete_sessions(SET_DISABLED),
            create_session: Script::new(CREATE_SESSION),
            delete_session: Script::new(DELETE_SESSION),
            delete_sessions_of: with_delete_sessions(DELETE_SESSIONS_OF),
            create_private_room: Script::new(CREATE_PRIVATE_ROOM),
            delete_private_room: Script::new(DELETE_PRIVATE_ROOM),
            add_member: Script::new(ADD_MEMBER),
            remove_member: Script::new(REMOVE_MEMBER),
            set_read: Script::new(SET_READ),
            leave_room: Script::new(LEAVE_ROOM),
        }
    }
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
        .map_err(|error| StoreError::Open {
            path: redacted(url),
            cause: error.to_string(),
        })?;
        Ok(Self {
            inner,
            _stop: stop.drop_guard(),
        })
    }
}

impl Inner {
    /// The JSON announcing `change` as this instance's.
    fn event(&self, change: IdentityChange) -> String {
        let event = Event {
            from: self.instance.clone(),
            change,
        };
        serde_json::to_string(&event).expect("an event serializes")
    }

    fn account_changed(&self, account: &str) -> String {
        self.event(IdentityChange::AccountChanged {
            account: account.to_owned(),
        })
    }

    fn room_changed(&self, room: &str) -> String {
        self.event(IdentityChange::RoomChanged {
            room: room.to_owned(),
        })
    }

    /// Tells the sink of an announcement, unless this instance made it.
    fn announced(&self, payload: &[u8]) {
        let event: Event = match serde_json::from_slice(payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "unreadable identity event in redis");
                return;
            }
        };
        if event.from == self.instance {
            return;
        }
        match event.change {
            IdentityChange::SessionRevoked { token_hash } => match from_hex(&token_hash) {
                Some(token_hash) => self.sink.session_revoked(&token_hash),
                None => tracing::warn!(%token_hash, "unreadable token hash in redis"),
            },
            IdentityChange::AccountChanged { account } => self.sink.account_changed(&account),
            IdentityChange::RoomChanged { room } => self.sink.room_changed(&room),
        }
    }
}

impl Subscriber for Inner {
    /// Announcements cannot be read back: after a loss, the sink reads again what it caches.
    /// Only now, once subscribed again: what changed before is read again, and nothing after
    /// is missed.
    async fn subscribed(&self, again: bool) -> Result<(), StoreError> {
        if again {
            self.sink.interrupted();
        }
        Ok(())
    }

    async fn published(&self, _channel: &str, payload: &[u8]) -> Result<(), StoreError> {
        self.announced(payload);
        Ok(())
    }

    /// What is cached stays as good as it was until the subscription is back.
    fn lost(&self) {}
}

fn to_hex(hash: &TokenHash) -> String {
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Option<TokenHash> {
    let mut hash = [0; 32];
    if text.len() != 2 * hash.len() || !text.is_ascii() {
        return None;
    }
    for (byte, pair) in hash.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(hash)
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
        let kept: HashMap<String, String> = self
            .inner
            .commands
            .clone()
            .hgetall(keys.joined(account))
            .await
            .map_err(unavailable)?;
        let mut rooms = kept
            .into_iter()
            .map(|(room, last_read)| {
                Ok(JoinedRoomRecord {
                    room,
                    last_read: parse_last_read(&last_read)?,
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
    ) -> Result<Option<JoinedRoomRecord>, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        let kept: Option<String> = inner
            .scripts
            .set_read
            .key(keys.joined(account))
            .key(keys.joined_by(room))
            .key(keys.private_room(room))
            .key(keys.private_room_members(room))
            .arg(account)
            .arg(room)
            .arg(last_read.map(|id| id.to_string()).unwrap_or_default())
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)?;
        kept.map(|kept| {
            Ok(JoinedRoomRecord {
                room: room.to_owned(),
                last_read: parse_last_read(&kept)?,
            })
        })
        .transpose()
    }

    async fn leave_room(&self, account: &str, room: &str) -> Result<bool, StoreError> {
        let keys = &self.inner.keys;
        let inner = &*self.inner;
        inner
            .scripts
            .leave_room
            .key(keys.joined(account))
            .key(keys.joined_by(room))
            .arg(account)
            .arg(room)
            .invoke_async(&mut inner.commands.clone())
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_go_through_hex_unchanged() {
        let hash: TokenHash = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(from_hex(&to_hex(&hash)), Some(hash));
        assert_eq!(from_hex("00"), None);
        assert_eq!(from_hex(&"zz".repeat(32)), None);
    }

    #[test]
    fn events_are_small_tagged_json() {
        let event = Event {
            from: "i1".into(),
            change: IdentityChange::AccountChanged {
                account: "alice".into(),
            },
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"from":"i1","kind":"account_changed","account":"alice"}"#
        );
    }
}
