//! The server's VAPID key pair (RFC 8292), which signs every push so that push services know it
//! is this server's: from `--vapid-private-key FILE`, or generated at the first start and kept
//! in the store, so every instance signs with the same key and a restart breaks no
//! subscription (a browser's subscription is bound to the key it was made with).

use std::{path::Path, time::Duration};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use reqwest::Url;
use web_push_native::jwt_simple::{
    algorithms::{ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair},
    claims::Claims,
};

use crate::server::store::{PushStore, StoreError};

/// Reads a private key file: PEM (`openssl ecparam -name prime256v1 -genkey`, PKCS#8 or SEC1),
/// or the base64url private key `web-push generate-vapid-keys` prints.
pub fn read_key_file(path: &Path) -> Result<ES256KeyPair, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let text = text.trim();
    let key = if text.starts_with("-----BEGIN") {
        ES256KeyPair::from_pem(text).map_err(|error| error.to_string())
    } else {
        (URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|error| error.to_string())
            .and_then(|bytes| ES256KeyPair::from_bytes(&bytes).map_err(|error| error.to_string()))
    };
    key.map_err(|error| {
        format!(
            "{} is not a P-256 private key (PEM, or base64url): {error}",
            path.display()
        )
    })
}

/// The key kept in the store, made now if none is.
pub async fn kept_or_new(store: &dyn PushStore) -> Result<ES256KeyPair, StoreError> {
    let candidate = ES256KeyPair::generate().to_bytes();
    let kept = store.vapid_key(&candidate).await?;
    ES256KeyPair::from_bytes(&kept)
        .map_err(|_| StoreError::Unavailable("the kept VAPID key is unreadable".into()))
}

/// The public key as browsers take it (`applicationServerKey`): the uncompressed point,
/// base64url without padding.
pub fn public_key(key: &ES256KeyPair) -> String {
    URL_SAFE_NO_PAD.encode(key.public_key().public_key().to_bytes_uncompressed())
}

/// How long a VAPID signature is good for (RFC 8292 allows at most a day).
const SIGNATURE_LASTS: Duration = Duration::from_secs(12 * 3600);

/// The `Authorization` of a push to `endpoint`: `vapid t=JWT, k=KEY`, the JWT's `aud` being
/// the endpoint's origin, port included (RFC 8292 section 2: the library drops a port).
pub fn authorization(
    key: &ES256KeyPair,
    endpoint: &Url,
    subject: &str,
) -> Result<String, web_push_native::jwt_simple::Error> {
    let claims = Claims::create(SIGNATURE_LASTS.into())
        .with_audience(endpoint.origin().ascii_serialization())
        .with_subject(subject);
    Ok(format!(
        "vapid t={}, k={}",
        key.sign(claims)?,
        public_key(key)
    ))
}
