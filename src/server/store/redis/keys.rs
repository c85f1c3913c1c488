//! The name of every key and channel a deployment uses in Redis, all under one prefix: a name is
//! spelled here once, for the log ([`super::log`]), the cluster ([`super::cluster`]) and the
//! identity store ([`super::identity`]) alike.
//!
//! Pub/sub channels belong to the whole Redis server, whatever the database number, so two
//! deployments on one server are kept apart by their prefixes alone. By default the prefix
//! follows the database of the URL: `chat:` on database 0 (the names used before prefixes
//! existed, so a deployment there keeps its data) and `chat:N:` on database N; `--redis-prefix`
//! names another. A fixed word follows the prefix in every name, so `chat:` never reaches into
//! what `chat:1:` keeps.

use std::{fmt, str::FromStr};

use redis::IntoConnectionInfo;

use super::open_error;
use crate::server::store::StoreError;

/// What every key and channel of a deployment starts with: non-empty, at most
/// [`RedisPrefix::MAX_BYTES`], without spaces or control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisPrefix(String);

impl RedisPrefix {
    pub const MAX_BYTES: usize = 64;

    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("a Redis prefix cannot be empty".into());
        }
        if text.len() > Self::MAX_BYTES {
            return Err(format!(
                "a Redis prefix is at most {} bytes",
                Self::MAX_BYTES
            ));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("a Redis prefix has no spaces or control characters".into());
        }
        Ok(Self(text.to_owned()))
    }

    /// The prefix of a deployment on database `database` when none is given.
    pub fn for_database(database: i64) -> Self {
        match database {
            0 => Self("chat:".into()),
            n => Self(format!("chat:{n}:")),
        }
    }

    /// The default prefix for the Redis at `url` (`redis://HOST:PORT/DB`; database 0 without
    /// a path).
    pub fn for_url(url: &str) -> Result<Self, String> {
        let info = url
            .into_connection_info()
            .map_err(|error| error.to_string())?;
        Ok(Self::for_database(info.redis_settings().db()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RedisPrefix {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for RedisPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The keys and channels of one deployment (`PREFIX` below is its [`RedisPrefix`]); what each
/// holds is described where it is used.
#[derive(Debug, Clone)]
pub(super) struct RedisKeys {
    prefix: RedisPrefix,
    rooms: String,
    clients: String,
    messages: String,
    disconnects: String,
    live: String,
    accounts: String,
    session_prefix: String,
    sessions_of_prefix: String,
    private_rooms: String,
    joined_prefix: String,
    identity: String,
}

impl RedisKeys {
    pub fn new(prefix: RedisPrefix) -> Self {
        let named = |name: &str| format!("{prefix}{name}");
        Self {
            rooms: named("rooms"),
            clients: named("clients"),
            messages: named("messages"),
            disconnects: named("disconnects"),
            live: named("live"),
            accounts: named("accounts"),
            session_prefix: named("session:"),
            sessions_of_prefix: named("sessions-of:"),
            private_rooms: named("private-rooms"),
            joined_prefix: named("joined:"),
            identity: named("identity"),
            prefix,
        }
    }

    /// The names of the deployment at `url`: under `prefix`, or the default of its database.
    pub fn for_deployment(url: &str, prefix: Option<&RedisPrefix>) -> Result<Self, StoreError> {
        let prefix = match prefix {
            Some(prefix) => prefix.clone(),
            None => RedisPrefix::for_url(url).map_err(|cause| open_error(url, cause))?,
        };
        Ok(Self::new(prefix))
    }

    pub fn prefix(&self) -> &RedisPrefix {
        &self.prefix
    }

    fn named(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// `PREFIX rooms`: hash of each room's message count.
    pub fn rooms(&self) -> &str {
        &self.rooms
    }

    /// `PREFIX room:NAME`: the stream of a room's entries.
    pub fn room_stream(&self, room: &str) -> String {
        self.named(&format!("room:{room}"))
    }

    /// `PREFIX room-messages:NAME`: the list of a room's message entries.
    pub fn room_messages(&self, room: &str) -> String {
        self.named(&format!("room-messages:{room}"))
    }

    /// `PREFIX clients`: sorted set of active clients.
    pub fn clients(&self) -> &str {
        &self.clients
    }

    /// Channel `PREFIX messages`: every appended entry.
    pub fn messages_channel(&self) -> &str {
        &self.messages
    }

    /// Channel `PREFIX disconnects`: clients disconnected by an instance.
    pub fn disconnects_channel(&self) -> &str {
        &self.disconnects
    }

    /// Channel `PREFIX live`: presence and typing.
    pub fn live_channel(&self) -> &str {
        &self.live
    }

    /// `PREFIX accounts`: sorted set of every account key.
    pub fn accounts(&self) -> &str {
        &self.accounts
    }

    /// `PREFIX account:KEY`.
    pub fn account(&self, key: &str) -> String {
        self.named(&format!("account:{key}"))
    }

    /// What a session key is before its hash (for scripts that derive session keys).
    pub fn session_prefix(&self) -> &str {
        &self.session_prefix
    }

    /// `PREFIX session:HASH`.
    pub fn session(&self, hash: &str) -> String {
        format!("{}{hash}", self.session_prefix)
    }

    /// What the key of an account's sessions set is before the account.
    pub fn sessions_of_prefix(&self) -> &str {
        &self.sessions_of_prefix
    }

    /// `PREFIX sessions-of:KEY`.
    pub fn sessions_of(&self, account: &str) -> String {
        format!("{}{account}", self.sessions_of_prefix)
    }

    /// `PREFIX private-rooms`: sorted set of every private room.
    pub fn private_rooms(&self) -> &str {
        &self.private_rooms
    }

    /// `PREFIX private-room:NAME`.
    pub fn private_room(&self, name: &str) -> String {
        self.named(&format!("private-room:{name}"))
    }

    /// `PREFIX private-room-members:NAME`.
    pub fn private_room_members(&self, name: &str) -> String {
        self.named(&format!("private-room-members:{name}"))
    }

    /// What the key of an account's joined rooms is before the account.
    pub fn joined_prefix(&self) -> &str {
        &self.joined_prefix
    }

    /// `PREFIX joined:KEY`.
    pub fn joined(&self, account: &str) -> String {
        format!("{}{account}", self.joined_prefix)
    }

    /// `PREFIX notify:KEY`: the account's level per joined room that it chose one for.
    pub fn notify(&self, account: &str) -> String {
        self.named(&format!("notify:{account}"))
    }

    /// `PREFIX joined-by:NAME`.
    pub fn joined_by(&self, room: &str) -> String {
        self.named(&format!("joined-by:{room}"))
    }

    /// `PREFIX push-key`: the VAPID private key.
    pub fn push_key(&self) -> String {
        self.named("push-key")
    }

    /// `PREFIX push:KEY`: the account's push subscriptions, by endpoint.
    pub fn push_subscriptions(&self, account: &str) -> String {
        self.named(&format!("push:{account}"))
    }

    /// `PREFIX push-endpoints`: the account each endpoint is subscribed for.
    pub fn push_endpoints(&self) -> String {
        self.named("push-endpoints")
    }

    /// Channel `PREFIX identity`: changes to accounts, sessions and private rooms.
    pub fn identity_channel(&self) -> &str {
        &self.identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_prefix(url: &str) -> String {
        RedisPrefix::for_url(url).unwrap().to_string()
    }

    #[test]
    fn the_default_prefix_follows_the_database_and_keeps_database_0s_names() {
        assert_eq!(default_prefix("redis://127.0.0.1:6379"), "chat:");
        assert_eq!(default_prefix("redis://127.0.0.1:6379/"), "chat:");
        assert_eq!(default_prefix("redis://127.0.0.1:6379/0"), "chat:");
        assert_eq!(default_prefix("redis://127.0.0.1:6379/1"), "chat:1:");
        assert_eq!(
            default_prefix("redis://:secret@redis.internal/12"),
            "chat:12:"
        );
        assert!(RedisPrefix::for_url("redis://127.0.0.1:6379/x").is_err());
    }

    #[test]
    fn database_0_keeps_the_names_of_before() {
        let keys = RedisKeys::new(RedisPrefix::for_database(0));
        assert_eq!(keys.rooms(), "chat:rooms");
        assert_eq!(keys.room_stream("general"), "chat:room:general");
        assert_eq!(keys.room_messages("general"), "chat:room-messages:general");
        assert_eq!(keys.clients(), "chat:clients");
        assert_eq!(keys.messages_channel(), "chat:messages");
        assert_eq!(keys.disconnects_channel(), "chat:disconnects");
        assert_eq!(keys.live_channel(), "chat:live");
        assert_eq!(keys.accounts(), "chat:accounts");
        assert_eq!(keys.account("wes"), "chat:account:wes");
        assert_eq!(keys.session("ab"), "chat:session:ab");
        assert_eq!(keys.sessions_of("wes"), "chat:sessions-of:wes");
        assert_eq!(keys.private_rooms(), "chat:private-rooms");
        assert_eq!(keys.private_room("hut"), "chat:private-room:hut");
        assert_eq!(
            keys.private_room_members("hut"),
            "chat:private-room-members:hut"
        );
        assert_eq!(keys.joined("wes"), "chat:joined:wes");
        assert_eq!(keys.joined_by("hut"), "chat:joined-by:hut");
        assert_eq!(keys.notify("wes"), "chat:notify:wes");
        assert_eq!(keys.identity_channel(), "chat:identity");
    }

    #[test]
    fn every_name_is_under_the_prefix_given() {
        let keys = RedisKeys::new("staging:".parse().unwrap());
        assert_eq!(keys.messages_channel(), "staging:messages");
        assert_eq!(keys.session("ab"), "staging:session:ab");
        assert_eq!(keys.joined_by("hut"), "staging:joined-by:hut");
    }

    #[test]
    fn a_prefix_is_short_printable_and_without_spaces() {
        assert!(RedisPrefix::parse("").is_err());
        assert!(RedisPrefix::parse("my chat:").is_err());
        assert!(RedisPrefix::parse("chat:\n").is_err());
        assert!(RedisPrefix::parse(&"x".repeat(RedisPrefix::MAX_BYTES + 1)).is_err());
        assert!(RedisPrefix::parse(&"x".repeat(RedisPrefix::MAX_BYTES)).is_ok());
        assert_eq!(
            RedisPrefix::parse("tenant-7/chat:").unwrap().as_str(),
            "tenant-7/chat:"
        );
    }
}
