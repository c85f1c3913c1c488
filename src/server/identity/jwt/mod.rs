//! Tokens signed by another site, so that its users join the chat without an account here.
//!
//! A [`JwtVerifier`] accepts tokens of exactly one algorithm: HS256 with a shared secret
//! (`--jwt-secret`), or RS256 / EdDSA with the site's public key (`--jwt-public-key`, the
//! algorithm read from the PEM). A token is valid when its signature is, its `exp` has not
//! passed and its `nbf`, if any, has come (both with [`LEEWAY_SECONDS`] of clock skew), its
//! `exp` is at most the configured lifetime from now ([`DEFAULT_MAX_LIFETIME_SECONDS`] unless
//! configured; skew allowed), its `sub` is an [`AccountName`] and each entry of its optional
//! `rooms` a [`RoomName`]. When an audience is configured the token must carry `aud`, either
//! that string or an array holding it (RFC 7519 §4.1.3); when an issuer is configured, `iss`
//! must be exactly that string (an array is refused, even one holding it).
//!
//! Invariants:
//! - The token never reaches an error message, a log or `Debug` output: [`TokenRejected`] says
//!   only why, and the cache is keyed by the token's SHA-256.
//! - The cache only shortens the work, never the checks: a cached token is still refused once
//!   its `exp` (plus leeway) has passed, and the cache holds at most [`CACHE_CAPACITY`] entries.
//! - Expiry is checked here against an explicit `now` rather than by jsonwebtoken's own clock,
//!   so that the cache and the first verification apply one rule, and tests need no sleeping.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::{Arc, Mutex},
};

use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    model::{AccountName, RoomName},
    server::clock::unix_seconds,
};

/// Clock skew tolerated between the signing site and this server, in seconds.
pub const LEEWAY_SECONDS: f64 = 30.0;

/// Longest a token may still be valid for, from now, unless configured otherwise: a day.
pub const DEFAULT_MAX_LIFETIME_SECONDS: f64 = 86_400.0;

/// Shortest HS256 secret accepted: 256 bits, the size of the HMAC's output (RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;

/// Most verified tokens remembered at once. Each entry is a few hundred bytes, so the cache
/// stays within tens of megabytes whatever clients send.
pub const CACHE_CAPACITY: usize = 100_000;

/// Why a verifier could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    #[error("the JWT secret is {len} bytes; HS256 needs at least {MIN_SECRET_BYTES} random bytes")]
    SecretTooShort { len: usize },
    #[error(
        "the JWT key file holds a private key; give this server only the public key \
         (openssl pkey -in private.pem -pubout)"
    )]
    PrivateKey,
    #[error(
        "the JWT key file is not a PEM public key of a supported kind (RSA for RS256, \
         Ed25519 for EdDSA)"
    )]
    UnsupportedKey,
}

/// Why a token was refused. The text is safe to log and to answer with: it never contains
/// the token or its claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejected {
    #[error("token malformed")]
    Malformed,
    #[error("token algorithm not accepted")]
    Algorithm,
    #[error("token signature invalid")]
    Signature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token audience not accepted")]
    Audience,
    #[error("token issuer not accepted")]
    Issuer,
    #[error("token subject is not a valid account name")]
    Subject,
    #[error("token rooms are not valid room names")]
    Rooms,
    #[error("token lifetime is longer than this server accepts")]
    Lifetime,
}

/// What a valid token says about its holder.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenClaims {
    /// The holder, from `sub`.
    pub name: AccountName,
    /// Private rooms the holder may join, from the optional `rooms` claim.
    pub rooms: Vec<RoomName>,
    /// When the token stops being valid (`exp`), in Unix seconds.
    pub expires_at: f64,
}

/// Verifies tokens of one configured key and algorithm. Cheap to clone: clones share the key
/// and the cache.
#[derive(Clone)]
pub struct JwtVerifier {
    shared: Arc<Shared>,
}

struct Shared {
    key: DecodingKey,
    validation: Validation,
    rules: Rules,
    cache: Mutex<HashMap<[u8; 32], TokenClaims>>,
}

/// What this server asks of a token beyond its signature, checked here rather than by
/// jsonwebtoken so that a missing claim or an `iss` array is refused whatever its version does.
#[derive(Debug, Clone)]
struct Rules {
    audience: Option<String>,
    issuer: Option<String>,
    max_lifetime: f64,
}

/// The claims read from a token; the registered ones jsonwebtoken checks are left to it.
#[derive(Deserialize)]
struct RawClaims {
    sub: Option<String>,
    exp: Option<f64>,
    nbf: Option<f64>,
    aud: Option<Value>,
    iss: Option<Value>,
    rooms: Option<Vec<String>>,
}

impl JwtVerifier {
    /// A verifier of HS256 tokens signed with `secret`, refusing secrets shorter than
    /// [`MIN_SECRET_BYTES`].
    pub fn hs256(secret: &[u8]) -> Result<Self, JwtConfigError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(JwtConfigError::SecretTooShort { len: secret.len() });
        }
        let key = DecodingKey::from_secret(secret).map_err(|_| JwtConfigError::UnsupportedKey)?;
        Ok(Self::new(key, Algorithm::HS256))
    }

    /// A verifier of tokens signed by the private half of the PEM public key `pem`: RS256 for
    /// an RSA key, EdDSA for an Ed25519 key.
    pub fn from_public_key_pem(pem: &[u8]) -> Result<Self, JwtConfigError> {
        // A private key would work for RSA (jsonwebtoken takes either), but a chat server
        // holding the other site's signing key could mint its tokens: refuse it outright.
        if pem
            .windows(b"PRIVATE KEY".len())
            .any(|window| window == b"PRIVATE KEY")
        {
            return Err(JwtConfigError::PrivateKey);
        }
        // Each constructor checks the key's algorithm identifier, so at most one accepts it.
        if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            return Ok(Self::new(key, Algorithm::EdDSA));
        }
        if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            return Ok(Self::new(key, Algorithm::RS256));
        }
        Err(JwtConfigError::UnsupportedKey)
    }

    fn new(key: DecodingKey, algorithm: Algorithm) -> Self {
        // Only `algorithm`: a token naming any other (another family, or `none`, which
        // jsonwebtoken does not even parse) is refused before its signature is looked at.
        let mut validation = Validation::new(algorithm);
        // `exp` and `nbf` are checked in `check_time`, against the caller's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = HashSet::new();
        // `aud` and `iss` are checked in `check_audience` / `check_issuer`.
        validation.validate_aud = false;
        Self {
            shared: Arc::new(Shared {
                key,
                validation,
                rules: Rules {
                    audience: None,
                    issuer: None,
                    max_lifetime: DEFAULT_MAX_LIFETIME_SECONDS,
                },
                cache: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Accepts only tokens whose `aud` is, or includes, `audience`.
    pub fn with_audience(self, audience: &str) -> Self {
        self.with_rules(|rules| rules.audience = Some(audience.to_owned()))
    }

    /// Accepts only tokens whose `iss` is `issuer`.
    pub fn with_issuer(self, issuer: &str) -> Self {
        self.with_rules(|rules| rules.issuer = Some(issuer.to_owned()))
    }

    /// Refuses tokens whose `exp` is more than `seconds` (plus the leeway) from now.
    pub fn with_max_lifetime(self, seconds: f64) -> Self {
        self.with_rules(|rules| rules.max_lifetime = seconds)
    }

    /// A verifier with the rules changed and an empty cache (entries cached under the old
    /// rules must not pass the new ones).
    fn with_rules(self, change: impl FnOnce(&mut Rules)) -> Self {
        let mut rules = self.shared.rules.clone();
        change(&mut rules);
        Self {
            shared: Arc::new(Shared {
                key: self.shared.key.clone(),
                validation: self.shared.validation.clone(),
                rules,
                cache: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Verifies `token` now (by the wall clock).
    pub fn verify(&self, token: &str) -> Result<TokenClaims, TokenRejected> {
        self.verify_at(token, unix_seconds())
    }

    /// Verifies `token` as of `now`, in Unix seconds.
    pub fn verify_at(&self, token: &str, now: f64) -> Result<TokenClaims, TokenRejected> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.cached(&digest, now)? {
            return Ok(claims);
        }
        let claims = self.check(token, now)?;
        self.remember(digest, &claims, now);
        Ok(claims)
    }

    /// The claims of an already verified token, or `Expired` (and the entry dropped) once it
    /// has expired.
    fn cached(&self, digest: &[u8; 32], now: f64) -> Result<Option<TokenClaims>, TokenRejected> {
        let mut cache = self.shared.cache.lock().unwrap_or_else(|e| e.into_inner());
        let Some(claims) = cache.get(digest) else {
            return Ok(None);
        };
        if is_expired(claims.expires_at, now) {
            cache.remove(digest);
            return Err(TokenRejected::Expired);
        }
        Ok(Some(claims.clone()))
    }

    fn remember(&self, digest: [u8; 32], claims: &TokenClaims, now: f64) {
        let mut cache = self.shared.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, claims| !is_expired(claims.expires_at, now));
            // Still full of live tokens: start over rather than track recency. The cost is one
            // signature check per live token, once.
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(digest, claims.clone());
    }

    /// The full check: signature, algorithm, `aud`/`iss`, times, then the claims' syntax.
    fn check(&self, token: &str, now: f64) -> Result<TokenClaims, TokenRejected> {
        let data =
            jsonwebtoken::decode::<RawClaims>(token, &self.shared.key, &self.shared.validation)
                .map_err(|error| rejection(error.kind()))?;
        let raw = data.claims;
        let rules = &self.shared.rules;
        if !rules
            .audience
            .as_deref()
            .is_none_or(|ours| audience_includes(raw.aud.as_ref(), ours))
        {
            return Err(TokenRejected::Audience);
        }
        if !rules
            .issuer
            .as_deref()
            .is_none_or(|ours| matches!(&raw.iss, Some(Value::String(iss)) if iss == ours))
        {
            return Err(TokenRejected::Issuer);
        }
        let expires_at = raw.exp.ok_or(TokenRejected::Malformed)?;
        if is_expired(expires_at, now) {
            return Err(TokenRejected::Expired);
        }
        // Measured from now rather than from `iat`, which the signer may leave out or
        // backdate: however the token was made, it is never good for longer than this here.
        if expires_at > now + rules.max_lifetime + LEEWAY_SECONDS {
            return Err(TokenRejected::Lifetime);
        }
        if raw.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECONDS) {
            return Err(TokenRejected::NotYetValid);
        }
        let name = raw
            .sub
            .as_deref()
            .and_then(|sub| AccountName::parse(sub).ok())
            .ok_or(TokenRejected::Subject)?;
        let rooms = raw
            .rooms
            .unwrap_or_default()
            .iter()
            .map(|room| RoomName::parse(room))
            .collect::<Result<_, _>>()
            .map_err(|_| TokenRejected::Rooms)?;
        Ok(TokenClaims {
            name,
            rooms,
            expires_at,
        })
    }
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key (an HS256 secret) and the cached claims stay out of logs.
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.shared.validation.algorithms)
            .field("rules", &self.shared.rules)
            .finish_non_exhaustive()
    }
}

/// Whether a token's `aud` names `ours`: the string itself, or an array holding it.
fn audience_includes(aud: Option<&Value>, ours: &str) -> bool {
    match aud {
        Some(Value::String(aud)) => aud == ours,
        Some(Value::Array(auds)) => auds
            .iter()
            .any(|aud| matches!(aud, Value::String(aud) if aud == ours)),
        _ => false,
    }
}

/// Whether a token expiring at `expires_at` is expired at `now`, skew allowed.
fn is_expired(expires_at: f64, now: f64) -> bool {
    expires_at + LEEWAY_SECONDS <= now
}

fn rejection(kind: &ErrorKind) -> TokenRejected {
    match kind {
        ErrorKind::InvalidSignature => TokenRejected::Signature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm => TokenRejected::Algorithm,
        ErrorKind::InvalidAudience => TokenRejected::Audience,
        ErrorKind::InvalidIssuer => TokenRejected::Issuer,
        ErrorKind::ExpiredSignature => TokenRejected::Expired,
        ErrorKind::ImmatureSignature => TokenRejected::NotYetValid,
        _ => TokenRejected::Malformed,
    }
}

#[cfg(test)]
mod tests;
