//! Command-line options, each with an environment-variable fallback.

use std::{net::SocketAddr, num::NonZeroU32, path::PathBuf, time::Duration};

use clap::{builder::BoolishValueParser, ArgAction, Parser, Subcommand};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::model::DEFAULT_MAX_REACTIONS_PER_MESSAGE;

use super::{
    broker::{
        DEFAULT_MAX_ANSWER_BYTES, DEFAULT_MAX_HELD_POLLS, DEFAULT_MAX_POLLS_PER_ADDRESS,
        DEFAULT_MAX_POLLS_PER_PERSON,
    },
    chat::ChatOptions,
    files::{FilesConfig, FilesLocation, DEFAULT_MAX_UPLOAD_BYTES},
    http::{
        client_addr::{ForwardedHeader, TrustedProxies},
        rest::Limits,
        serve::ServeOptions,
    },
    identity::{
        jwt::{JwtConfigError, JwtVerifier},
        IdentityConfig,
    },
    operator::AccountCommand,
    push::{InsecureHosts, PushConfig},
    send_limit::{ChangeLimiter, SearchLimiter, SendLimiter, UploadLimiter},
    store::{RedisPrefix, Retention, StoreConfig},
    BrokerConfig,
};

/// A real-time chat server over HTTP long polling.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Config {
    /// Without a command, the server runs.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on.
    #[arg(long, env = "CHAT_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Connections the kernel queues until the server accepts them (capped by
    /// `net.core.somaxconn`). Clients past it wait for their handshake's retry, a second or more.
    #[arg(long, env = "CHAT_LISTEN_BACKLOG", default_value_t = 4_096,
          value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub listen_backlog: u32,

    /// Message store: `sqlite:PATH` (a file, created if missing), `redis://HOST:PORT/DB`
    /// (shared by every instance pointed at it) or `memory` (nothing survives a restart).
    /// Read it through [`Config::store`], which adds `--redis-prefix`.
    #[arg(long, env = "CHAT_STORE", default_value = "sqlite:./data/chat.db")]
    store: StoreConfig,

    /// With a Redis store: what every key and channel of this deployment starts with. Instances
    /// with the same prefix share rooms, accounts and news; other deployments on the same Redis
    /// server need another (channels ignore database numbers). Default: `chat:` on database 0,
    /// `chat:N:` on database N.
    #[arg(long, env = "CHAT_REDIS_PREFIX", value_name = "PREFIX")]
    pub redis_prefix: Option<RedisPrefix>,

    /// Messages the store keeps per room; older ones are deleted as new ones arrive.
    #[arg(long, env = "CHAT_RETENTION_MESSAGES", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub retention_messages: u32,

    /// Days the store keeps a message (0 = no age limit).
    #[arg(long, env = "CHAT_RETENTION_DAYS", default_value_t = 0)]
    pub retention_days: u32,

    /// Messages kept per room; a poll whose cursor is older gets a reset.
    #[arg(long, env = "CHAT_ROOM_CAPACITY", default_value_t = 1_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub room_capacity: u32,

    /// Seconds a client without a held poll still counts as active before it is forgotten.
    #[arg(long, env = "CHAT_CLIENT_IDLE_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub client_idle_secs: u64,

    /// Polls held at once over the whole server; past it new polls get 503 with Retry-After.
    /// Default: 50000, or as many as the open-file limit leaves room for when that is fewer.
    #[arg(long, env = "CHAT_MAX_HELD_POLLS")]
    pub max_held_polls: Option<usize>,

    /// Polls one client_id may hold at once (one per room); past it, 503 with Retry-After.
    #[arg(long, env = "CHAT_MAX_POLLS_PER_CLIENT", default_value_t = 8)]
    pub max_polls_per_client: usize,

    /// Polls one signed-in person may hold at once over all their clients; past it, 503 with
    /// Retry-After. Default: 64, or half of --max-held-polls when that is less.
    #[arg(long, env = "CHAT_MAX_POLLS_PER_PERSON")]
    pub max_polls_per_person: Option<usize>,

    /// Polls the guests of one client address may hold at once; past it, 503 with
    /// Retry-After. Behind a proxy, set --trusted-proxies, or every guest shares the proxy's
    /// address. Default: 512, or half of --max-held-polls when that is less.
    #[arg(long, env = "CHAT_MAX_POLLS_PER_ADDRESS")]
    pub max_polls_per_address: Option<usize>,

    /// Seconds a client may take to send a request's headers; also how long a kept-alive
    /// connection may stay idle between requests. Never cuts a held poll.
    #[arg(long, env = "CHAT_HEADER_READ_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub header_read_timeout_secs: u64,

    /// Seconds from a request's start to the end of its body; a body still missing then is
    /// answered 408 and its connection closed. Never cuts a held poll.
    #[arg(long, env = "CHAT_BODY_READ_TIMEOUT_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub body_read_timeout_secs: u64,

    /// Connections one client address (an IPv6 /64) may hold at once; past it, new ones are
    /// answered 503 with Retry-After and closed (0 = no cap). Trusted proxies and loopback
    /// peers are not capped.
    #[arg(long, env = "CHAT_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256)]
    pub max_connections_per_address: usize,

    /// The header the trusted proxies write the client's address into; the other one is
    /// never read (a proxy passes on what a client wrote there).
    #[arg(long, env = "CHAT_FORWARDED_HEADER", value_enum,
          default_value_t = ForwardedHeader::XForwardedFor)]
    pub forwarded_header: ForwardedHeader,

    /// Longest message text in characters (at most 4000, the protocol's limit); longer: 400.
    #[arg(long, env = "CHAT_MAX_TEXT_CHARS", default_value_t = 4_000,
          value_parser = clap::value_parser!(u32).range(1..=4_000))]
    pub max_text_chars: u32,

    /// Seconds someone stays online in a room after their last stream of it ends, so that
    /// reconnecting within them is not a leave and a join.
    #[arg(long, env = "CHAT_PRESENCE_GRACE_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub presence_grace_secs: u64,

    /// The most JSON one answer carries (a poll's, a stream's over all its rooms, history's),
    /// at least 64 KiB: what does not fit comes with the next read.
    #[arg(long, env = "CHAT_MAX_ANSWER_BYTES", default_value_t = DEFAULT_MAX_ANSWER_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(65_536..=1_073_741_824))]
    pub max_answer_bytes: u64,

    /// Largest accepted request body in bytes; larger ones are answered 413.
    #[arg(long, env = "CHAT_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Messages one signed-in user, or one guest's address, may send per second (0 = no
    /// limit); past it, 429.
    #[arg(long, env = "CHAT_SEND_RATE", default_value_t = 10)]
    pub send_rate: u32,

    /// Messages one sender may send in a burst above the rate.
    #[arg(long, env = "CHAT_SEND_BURST", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub send_burst: u32,

    /// Changes (edits, reactions, taking a reaction back) one person may make to one message
    /// per minute, besides the send rate (0 = no limit of its own); past it, 429.
    #[arg(long, env = "CHAT_CHANGE_RATE_PER_MINUTE", default_value_t = 20)]
    pub change_rate_per_minute: u32,

    /// Searches one signed-in user, or one guest's address, may make per minute (0 = no
    /// limit); past it, 429. The page searches as one types, a few times a second at most.
    #[arg(long, env = "CHAT_SEARCH_RATE_PER_MINUTE", default_value_t = 120)]
    pub search_rate_per_minute: u32,

    /// Different emoji one message may carry as reactions; past it, 409.
    #[arg(long, env = "CHAT_MAX_REACTIONS_PER_MESSAGE",
          default_value_t = DEFAULT_MAX_REACTIONS_PER_MESSAGE as u16,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_reactions_per_message: u16,

    /// Origin allowed to call the API from another site (repeatable, `*` for any). CORS is
    /// off when none is given.
    #[arg(long = "cors-origin", env = "CHAT_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Whether people without an identity may read public rooms and send under a name they
    /// pick (`on`/`off`). Off: every API call needs a session or token (401), and the page
    /// asks to sign in.
    #[arg(long, env = "CHAT_GUESTS", default_value_t = true, action = ArgAction::Set,
          value_parser = BoolishValueParser::new(), value_name = "on|off")]
    pub guests: bool,

    /// Days a session lasts after sign-in.
    #[arg(long, env = "CHAT_SESSION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=3_650))]
    pub session_days: u32,

    /// Sign-in attempts per minute allowed for one account name, and for one client address;
    /// past them, 429.
    #[arg(long, env = "CHAT_SIGN_IN_PER_NAME", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_per_name: u32,
    #[arg(long, env = "CHAT_SIGN_IN_PER_ADDRESS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_per_address: u32,

    /// Whether anyone may create an account (`on`/`off`). Off: sign-up answers 403, and the
    /// operator creates accounts (`longpoll-chat accounts create NAME`).
    #[arg(long, env = "CHAT_SIGN_UP", default_value_t = true, action = ArgAction::Set,
          value_parser = BoolishValueParser::new(), value_name = "on|off")]
    pub sign_up: bool,

    /// Sign-ups per hour allowed from one client address (past it, 429), and over the whole
    /// server (past it, 503); both with Retry-After.
    #[arg(long, env = "CHAT_SIGN_UP_PER_ADDRESS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_up_per_address: u32,
    #[arg(long, env = "CHAT_SIGN_UP_PER_HOUR", default_value_t = 600,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_up_per_hour: u32,

    /// Passwords that may wait to be hashed, for sign-ins and for sign-ups each (sign-ins go
    /// first); past it, 503 with Retry-After.
    #[arg(long, env = "CHAT_HASH_QUEUE", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub hash_queue: u32,

    /// Longest a token from another site may still be valid for, in seconds: a token whose
    /// `exp` is further from now is refused.
    #[arg(long = "jwt-max-lifetime", env = "CHAT_JWT_MAX_LIFETIME_SECS", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(1..), value_name = "SECS")]
    pub jwt_max_lifetime_secs: u64,

    /// The URL people reach the server at (e.g. `https://chat.example.com`): with https,
    /// session cookies are `Secure`, and its origin may post to the server besides the one
    /// of the `Host` a request names.
    #[arg(long, env = "CHAT_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Proxies (CIDRs or addresses, comma-separated) whose `Forwarded` / `X-Forwarded-For`
    /// headers name the client's address, for per-address limits. Nobody else's are believed.
    #[arg(long, env = "CHAT_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,

    /// Accepts bearer tokens another site signs with this HS256 secret (at least 32 bytes;
    /// prefer the environment variable: the command line is visible to other users).
    #[arg(
        long,
        env = "CHAT_JWT_SECRET",
        hide_env_values = true,
        conflicts_with = "jwt_public_key"
    )]
    pub jwt_secret: Option<String>,

    /// Accepts bearer tokens another site signs, verified with this PEM public key file (RSA:
    /// RS256, Ed25519: EdDSA).
    #[arg(long, env = "CHAT_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,

    /// With tokens from another site: the `aud` they must carry.
    #[arg(long, env = "CHAT_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// With tokens from another site: the `iss` they must carry.
    #[arg(long, env = "CHAT_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Where uploaded files live: a directory, `s3://BUCKET/PREFIX` (S3-compatible storage,
    /// for several instances), or `memory`. By default a `files` directory beside the SQLite
    /// file (`memory` with the memory store).
    #[arg(long, env = "CHAT_FILES", value_name = "DIR|s3://BUCKET/PREFIX")]
    pub files: Option<FilesLocation>,

    /// With `--files s3://...`: the S3-compatible service's URL (MinIO, Ceph, Garage...) and
    /// region; credentials as the AWS tools read them (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`).
    #[arg(long, env = "CHAT_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    #[arg(long, env = "CHAT_S3_REGION")]
    pub s3_region: Option<String>,

    /// The largest file taken, in bytes (413 past it, before anything is kept).
    #[arg(long, env = "CHAT_MAX_UPLOAD_BYTES", default_value_t = DEFAULT_MAX_UPLOAD_BYTES,
          value_parser = clap::value_parser!(u64).range(1..=4_294_967_296))]
    pub max_upload_bytes: u64,

    /// Whether guests may send files (`on`/`off`).
    #[arg(long, env = "CHAT_GUEST_UPLOADS", default_value_t = true, action = ArgAction::Set,
          value_parser = BoolishValueParser::new(), value_name = "on|off")]
    pub guest_uploads: bool,

    /// Files one signed-in user, or one guest's address, may send per minute, besides the
    /// send rate (0 = no limit of its own); past it, 429.
    #[arg(long, env = "CHAT_UPLOAD_RATE_PER_MINUTE", default_value_t = 10)]
    pub upload_rate_per_minute: u32,

    /// Whether to tell people who are not looking through Web Push (`on`/`off`). Off:
    /// `/api/push/key` and subscribing answer 404, and no push leaves the server.
    #[arg(long, env = "CHAT_PUSH", default_value_t = true, action = ArgAction::Set,
          value_parser = BoolishValueParser::new(), value_name = "on|off")]
    pub push: bool,

    /// The VAPID private key that signs pushes (a PEM file, or the base64url key
    /// `web-push generate-vapid-keys` prints). Without it, one is made at the first start and
    /// kept in the store, so every instance signs with the same one.
    #[arg(long, env = "CHAT_VAPID_PRIVATE_KEY", value_name = "FILE")]
    pub vapid_private_key: Option<PathBuf>,

    /// How push services may reach the operator (VAPID's `sub`): a `mailto:` or `https:` URL.
    /// Some push services refuse pushes whose contact is not a real one.
    #[arg(long, env = "CHAT_VAPID_SUBJECT", default_value = "mailto:postmaster@localhost",
          value_parser = vapid_subject)]
    pub vapid_subject: String,

    /// A host whose push endpoints may be plain http on any address, loopback included
    /// (repeatable): for tests with a push service of their own. Never in production.
    #[arg(
        long = "push-allow-insecure",
        env = "CHAT_PUSH_ALLOW_INSECURE",
        value_delimiter = ',',
        value_name = "HOST"
    )]
    pub push_allow_insecure: Vec<String>,
}

fn vapid_subject(value: &str) -> Result<String, String> {
    if value.starts_with("mailto:") || value.starts_with("https://") {
        Ok(value.to_owned())
    } else {
        Err("a mailto: or https:// URL".into())
    }
}

/// A configuration that cannot work, found at startup.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--jwt-public-key {path}: {cause}")]
    KeyFile { path: String, cause: String },
    #[error("{0}")]
    Jwt(#[from] JwtConfigError),
}

/// What the binary does instead of serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Manages accounts in the configured store (`--store`); a running server sees the changes
    /// (at once with Redis, within seconds with SQLite).
    Accounts {
        #[command(subcommand)]
        action: AccountCommand,
    },
}

impl Config {
    /// The store to open (`--store`, with `--redis-prefix` for a Redis one).
    pub fn store(&self) -> StoreConfig {
        self.store
            .clone()
            .with_redis_prefix(self.redis_prefix.clone())
    }

    pub fn broker(&self) -> BrokerConfig {
        let max_held_polls = self.max_held_polls.unwrap_or(DEFAULT_MAX_HELD_POLLS);
        // By default nobody takes more than half the server.
        let half_the_server = (max_held_polls / 2).max(1);
        BrokerConfig {
            room_capacity: self.room_capacity as usize,
            client_idle: Duration::from_secs(self.client_idle_secs),
            retention: Retention {
                max_messages_per_room: self.retention_messages as usize,
                max_age: (self.retention_days > 0)
                    .then(|| Duration::from_secs(u64::from(self.retention_days) * 86_400)),
            },
            max_held_polls,
            max_polls_per_client: self.max_polls_per_client,
            max_polls_per_person: self
                .max_polls_per_person
                .unwrap_or(DEFAULT_MAX_POLLS_PER_PERSON.min(half_the_server)),
            max_polls_per_address: self
                .max_polls_per_address
                .unwrap_or(DEFAULT_MAX_POLLS_PER_ADDRESS.min(half_the_server)),
            max_text_chars: self.max_text_chars as usize,
            presence_grace: Duration::from_secs(self.presence_grace_secs),
            max_answer_bytes: usize::try_from(self.max_answer_bytes).unwrap_or(usize::MAX),
        }
    }

    pub fn identity(&self) -> Result<IdentityConfig, ConfigError> {
        let at_least_one = |count: u32| NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN);
        Ok(IdentityConfig {
            guests: self.guests,
            session_ttl: Duration::from_secs(u64::from(self.session_days) * 86_400),
            sign_in_per_name: at_least_one(self.sign_in_per_name),
            sign_in_per_address: at_least_one(self.sign_in_per_address),
            sign_up: self.sign_up,
            sign_up_per_address: at_least_one(self.sign_up_per_address),
            sign_up_per_hour: at_least_one(self.sign_up_per_hour),
            hash_queue: self.hash_queue as usize,
            https: self
                .public_url
                .as_deref()
                .is_some_and(|url| url.starts_with("https://")),
            tokens: self.token_verifier()?,
            ..IdentityConfig::default()
        })
    }

    fn token_verifier(&self) -> Result<Option<JwtVerifier>, ConfigError> {
        let verifier = match (&self.jwt_secret, &self.jwt_public_key) {
            (Some(secret), _) => JwtVerifier::hs256(secret.as_bytes())?,
            (None, Some(path)) => {
                let pem = std::fs::read(path).map_err(|error| ConfigError::KeyFile {
                    path: path.display().to_string(),
                    cause: error.to_string(),
                })?;
                JwtVerifier::from_public_key_pem(&pem)?
            }
            (None, None) => return Ok(None),
        };
        let verifier = verifier.with_max_lifetime(self.jwt_max_lifetime_secs as f64);
        let verifier = match &self.jwt_audience {
            Some(audience) => verifier.with_audience(audience),
            None => verifier,
        };
        Ok(Some(match &self.jwt_issuer {
            Some(issuer) => verifier.with_issuer(issuer),
            None => verifier,
        }))
    }

    /// The origin (`scheme://host[:port]`) of `--public-url`.
    pub fn public_origin(&self) -> Option<String> {
        let (scheme, rest) = self.public_url.as_deref()?.split_once("://")?;
        let host = rest.split('/').next().unwrap_or_default();
        Some(format!("{scheme}://{host}"))
    }

    pub fn chat(&self) -> ChatOptions {
        let burst = NonZeroU32::new(self.send_burst).unwrap_or(NonZeroU32::MIN);
        ChatOptions {
            send_limiter: NonZeroU32::new(self.send_rate)
                .map(|per_second| SendLimiter::new(per_second, burst)),
            change_limiter: NonZeroU32::new(self.change_rate_per_minute)
                .map(ChangeLimiter::per_minute),
            search_limiter: NonZeroU32::new(self.search_rate_per_minute)
                .map(SearchLimiter::per_minute),
            max_reactions_per_message: usize::from(self.max_reactions_per_message),
            upload_limiter: NonZeroU32::new(self.upload_rate_per_minute)
                .map(UploadLimiter::per_minute),
            ..ChatOptions::default()
        }
    }

    /// Where files live and their limits (`--files`, `--s3-*`, `--max-upload-bytes`,
    /// `--guest-uploads`).
    pub fn files(&self) -> FilesConfig {
        let location = match (&self.files, self.store()) {
            (Some(FilesLocation::S3 { bucket, prefix, .. }), _) => FilesLocation::S3 {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
            },
            (Some(location), _) => location.clone(),
            (None, StoreConfig::Memory) => FilesLocation::Memory,
            (None, StoreConfig::Sqlite(path)) => FilesLocation::Directory(
                path.parent()
                    .unwrap_or(std::path::Path::new("."))
                    .join("files"),
            ),
            (None, StoreConfig::Redis { .. }) => FilesLocation::Directory("./data/files".into()),
        };
        FilesConfig {
            location,
            max_upload_bytes: self.max_upload_bytes,
            guest_uploads: self.guest_uploads,
            upload_memory: (8 * self.max_upload_bytes).max(DEFAULT_MAX_UPLOAD_BYTES),
            ..FilesConfig::default()
        }
    }

    /// Web Push (`--push`, `--vapid-*`, `--push-allow-insecure`), `None` when off.
    pub fn push(&self) -> Option<PushConfig> {
        self.push.then(|| PushConfig {
            vapid_key_file: self.vapid_private_key.clone(),
            subject: self.vapid_subject.clone(),
            insecure: InsecureHosts::new(self.push_allow_insecure.iter().cloned()),
            ..PushConfig::default()
        })
    }

    /// How connections are served (see `serve`).
    pub fn serve(&self) -> ServeOptions {
        ServeOptions {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            body_read_timeout: Duration::from_secs(self.body_read_timeout_secs),
            max_connections_per_address: self.max_connections_per_address,
            trusted_proxies: self.trusted_proxies.clone(),
            cap_loopback: false,
        }
    }

    pub fn http(&self) -> HttpConfig {
        HttpConfig {
            limits: Limits {
                max_body_bytes: self.max_body_bytes,
            },
            cors_origins: self.cors_origins.clone(),
            public_origin: self.public_origin(),
            trusted_proxies: self.trusted_proxies.clone().reading(self.forwarded_header),
            metrics: Some(super::metrics::install()),
        }
    }
}

/// How the HTTP application treats requests, beyond the broker's own limits.
#[derive(Clone, Default)]
pub struct HttpConfig {
    pub limits: Limits,
    /// Origins allowed to call the app (the REST API above all) from other sites (`*` for any);
    /// empty: CORS off.
    pub cors_origins: Vec<String>,
    /// The origin people reach the server at (`--public-url`): it may change state whatever
    /// `Host` a proxy passes on (see `same_origin`).
    pub public_origin: Option<String>,
    /// Proxies whose forwarding header names the client's address (`--trusted-proxies`,
    /// `--forwarded-header`).
    pub trusted_proxies: TrustedProxies,
    /// Serves `GET /metrics` in Prometheus text format when set.
    pub metrics: Option<PrometheusHandle>,
}
