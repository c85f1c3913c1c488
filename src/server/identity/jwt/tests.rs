use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: f64 = 1_800_000_000.0;
const RSA_PRIVATE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/jwt/rsa-private.pem"
));
const RSA_PUBLIC: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/jwt/rsa-public.pem"
));
const ED_PRIVATE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/jwt/ed25519-private.pem"
));
const ED_PUBLIC: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/jwt/ed25519-public.pem"
));
const EC_PUBLIC: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/jwt/ec-p256-public.pem"
));

fn hs256() -> JwtVerifier {
    JwtVerifier::hs256(SECRET).unwrap()
}

fn sign_hs256(claims: &Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

fn alice(exp: f64) -> Value {
    json!({"sub": "alice", "exp": exp})
}

#[test]
fn a_valid_hs256_token_gives_its_claims() {
    let token = sign_hs256(
        &json!({"sub": "alice", "exp": NOW + 60.0, "rooms": ["ops", "team-1"]}),
        SECRET,
    );
    let claims = hs256().verify_at(&token, NOW).unwrap();
    assert_eq!(claims.name, AccountName::parse("alice").unwrap());
    assert_eq!(
        claims.rooms,
        vec![
            RoomName::parse("ops").unwrap(),
            RoomName::parse("team-1").unwrap()
        ]
    );
    assert_eq!(claims.expires_at, NOW + 60.0);
}

#[test]
fn verify_uses_the_wall_clock() {
    let token = sign_hs256(&alice(unix_seconds() + 60.0), SECRET);
    assert!(hs256().verify(&token).is_ok());
}

#[test]
fn short_secrets_are_refused() {
    let error = JwtVerifier::hs256(b"too short").unwrap_err();
    assert!(matches!(error, JwtConfigError::SecretTooShort { len: 9 }));
    assert!(error.to_string().contains("at least 32"), "{error}");
}

#[test]
fn expired_tokens_are_refused() {
    let token = sign_hs256(&alice(NOW - 31.0), SECRET);
    assert_eq!(hs256().verify_at(&token, NOW), Err(TokenRejected::Expired));
}

#[test]
fn tokens_without_exp_are_refused() {
    let token = sign_hs256(&json!({"sub": "alice"}), SECRET);
    assert_eq!(
        hs256().verify_at(&token, NOW),
        Err(TokenRejected::Malformed)
    );
}

#[test]
fn clock_skew_within_the_leeway_is_tolerated() {
    let verifier = hs256();
    let just_expired = sign_hs256(&alice(NOW - 29.0), SECRET);
    assert!(verifier.verify_at(&just_expired, NOW).is_ok());
    let almost_valid = sign_hs256(
        &json!({"sub": "alice", "exp": NOW + 60.0, "nbf": NOW + 29.0}),
        SECRET,
    );
    assert!(verifier.verify_at(&almost_valid, NOW).is_ok());
}

#[test]
fn tokens_not_yet_valid_are_refused() {
    let token = sign_hs256(
        &json!({"sub": "alice", "exp": NOW + 600.0, "nbf": NOW + 31.0}),
        SECRET,
    );
    assert_eq!(
        hs256().verify_at(&token, NOW),
        Err(TokenRejected::NotYetValid)
    );
}

#[test]
fn tokens_signed_with_another_secret_are_refused() {
    let token = sign_hs256(&alice(NOW + 60.0), b"another secret, also 32 bytes lo");
    assert_eq!(
        hs256().verify_at(&token, NOW),
        Err(TokenRejected::Signature)
    );
}

#[test]
fn tampered_claims_are_refused() {
    let token = sign_hs256(&alice(NOW + 60.0), SECRET);
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"mallory","exp":1900000000}"#);
    parts[1] = &forged;
    assert_eq!(
        hs256().verify_at(&parts.join("."), NOW),
        Err(TokenRejected::Signature)
    );
}

#[test]
fn rsa_keys_verify_rs256_tokens() {
    let verifier = JwtVerifier::from_public_key_pem(RSA_PUBLIC).unwrap();
    let token = encode(
        &Header::new(Algorithm::RS256),
        &alice(NOW + 60.0),
        &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
    )
    .unwrap();
    assert_eq!(
        verifier.verify_at(&token, NOW).unwrap().name.as_str(),
        "alice"
    );
    assert!(format!("{verifier:?}").contains("RS256"));
}

#[test]
fn ed25519_keys_verify_eddsa_tokens() {
    let verifier = JwtVerifier::from_public_key_pem(ED_PUBLIC).unwrap();
    let token = encode(
        &Header::new(Algorithm::EdDSA),
        &alice(NOW + 60.0),
        &EncodingKey::from_ed_pem(ED_PRIVATE).unwrap(),
    )
    .unwrap();
    assert_eq!(
        verifier.verify_at(&token, NOW).unwrap().name.as_str(),
        "alice"
    );
    assert!(format!("{verifier:?}").contains("EdDSA"));
}

#[test]
fn private_and_unsupported_keys_are_refused() {
    assert!(matches!(
        JwtVerifier::from_public_key_pem(RSA_PRIVATE),
        Err(JwtConfigError::PrivateKey)
    ));
    assert!(matches!(
        JwtVerifier::from_public_key_pem(EC_PUBLIC),
        Err(JwtConfigError::UnsupportedKey)
    ));
    assert!(matches!(
        JwtVerifier::from_public_key_pem(b"not a key"),
        Err(JwtConfigError::UnsupportedKey)
    ));
}

#[test]
fn an_hs256_token_is_refused_by_an_rs256_verifier() {
    let verifier = JwtVerifier::from_public_key_pem(RSA_PUBLIC).unwrap();
    // The classic confusion: HMAC keyed with the public key's own bytes.
    let token = sign_hs256(&alice(NOW + 60.0), RSA_PUBLIC);
    assert_eq!(
        verifier.verify_at(&token, NOW),
        Err(TokenRejected::Algorithm)
    );
}

#[test]
fn an_rs256_token_is_refused_by_an_hs256_verifier() {
    let token = encode(
        &Header::new(Algorithm::RS256),
        &alice(NOW + 60.0),
        &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
    )
    .unwrap();
    assert_eq!(
        hs256().verify_at(&token, NOW),
        Err(TokenRejected::Algorithm)
    );
}

#[test]
fn unsigned_alg_none_tokens_are_refused() {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(alice(NOW + 60.0).to_string());
    for token in [format!("{header}.{claims}."), format!("{header}.{claims}")] {
        let rejected = hs256().verify_at(&token, NOW).unwrap_err();
        assert!(
            matches!(
                rejected,
                TokenRejected::Algorithm | TokenRejected::Malformed
            ),
            "{rejected:?}"
        );
    }
}

#[test]
fn garbage_is_malformed() {
    for token in ["", "abc", "a.b.c", "..."] {
        assert_eq!(
            hs256().verify_at(token, NOW),
            Err(TokenRejected::Malformed),
            "{token:?}"
        );
    }
}

#[test]
fn subjects_must_be_account_names() {
    let verifier = hs256();
    for claims in [
        json!({"sub": "-dash-first", "exp": NOW + 60.0}),
        json!({"sub": "has space", "exp": NOW + 60.0}),
        json!({"sub": "", "exp": NOW + 60.0}),
        json!({"exp": NOW + 60.0}),
    ] {
        let token = sign_hs256(&claims, SECRET);
        assert_eq!(
            verifier.verify_at(&token, NOW),
            Err(TokenRejected::Subject),
            "{claims}"
        );
    }
}

#[test]
fn rooms_must_be_room_names() {
    let token = sign_hs256(
        &json!({"sub": "alice", "exp": NOW + 60.0, "rooms": ["ok", "not/ok"]}),
        SECRET,
    );
    assert_eq!(hs256().verify_at(&token, NOW), Err(TokenRejected::Rooms));
    // Not a list of strings at all.
    let token = sign_hs256(
        &json!({"sub": "alice", "exp": NOW + 60.0, "rooms": "ops"}),
        SECRET,
    );
    assert_eq!(
        hs256().verify_at(&token, NOW),
        Err(TokenRejected::Malformed)
    );
}

#[test]
fn audience_and_issuer_are_checked_when_configured() {
    let verifier = hs256()
        .with_audience("chat")
        .with_issuer("https://site.example");
    let good = json!({"sub": "a", "exp": NOW + 60.0, "aud": "chat", "iss": "https://site.example"});
    assert!(verifier.verify_at(&sign_hs256(&good, SECRET), NOW).is_ok());
    let mut other_aud = good.clone();
    other_aud["aud"] = json!("billing");
    assert_eq!(
        verifier.verify_at(&sign_hs256(&other_aud, SECRET), NOW),
        Err(TokenRejected::Audience)
    );
    let mut other_iss = good.clone();
    other_iss["iss"] = json!("https://evil.example");
    assert_eq!(
        verifier.verify_at(&sign_hs256(&other_iss, SECRET), NOW),
        Err(TokenRejected::Issuer)
    );
    // Without configuration, `aud` is not judged.
    assert!(hs256()
        .verify_at(&sign_hs256(&other_aud, SECRET), NOW)
        .is_ok());
}

fn ours() -> JwtVerifier {
    hs256()
        .with_audience("chat")
        .with_issuer("https://site.example")
}

fn ours_claims() -> Value {
    json!({"sub": "a", "exp": NOW + 60.0, "aud": "chat", "iss": "https://site.example"})
}

#[test]
fn a_token_without_aud_is_refused_when_an_audience_is_configured() {
    let mut claims = ours_claims();
    claims.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        ours().verify_at(&sign_hs256(&claims, SECRET), NOW),
        Err(TokenRejected::Audience)
    );
    // The same token passes a verifier that judges no audience.
    assert!(hs256()
        .with_issuer("https://site.example")
        .verify_at(&sign_hs256(&claims, SECRET), NOW)
        .is_ok());
}

#[test]
fn a_token_without_iss_is_refused_when_an_issuer_is_configured() {
    let mut claims = ours_claims();
    claims.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        ours().verify_at(&sign_hs256(&claims, SECRET), NOW),
        Err(TokenRejected::Issuer)
    );
}

#[test]
fn an_iss_array_is_refused_even_when_it_contains_ours() {
    for iss in [
        json!(["https://site.example"]),
        json!(["https://evil.example", "https://site.example"]),
        json!(null),
        json!(42),
    ] {
        let mut claims = ours_claims();
        claims["iss"] = iss.clone();
        assert_eq!(
            ours().verify_at(&sign_hs256(&claims, SECRET), NOW),
            Err(TokenRejected::Issuer),
            "{iss}"
        );
    }
}

#[test]
fn an_aud_array_must_contain_ours() {
    let mut claims = ours_claims();
    claims["aud"] = json!(["billing", "chat"]);
    assert!(ours().verify_at(&sign_hs256(&claims, SECRET), NOW).is_ok());
    for aud in [json!(["billing"]), json!([]), json!(null), json!("Chat")] {
        claims["aud"] = aud.clone();
        assert_eq!(
            ours().verify_at(&sign_hs256(&claims, SECRET), NOW),
            Err(TokenRejected::Audience),
            "{aud}"
        );
    }
}

#[test]
fn a_token_living_longer_than_the_max_lifetime_is_refused() {
    // The review's token: `exp` in the year 33658.
    let far = sign_hs256(&alice(1_000_000_000_000.0), SECRET);
    assert_eq!(hs256().verify_at(&far, NOW), Err(TokenRejected::Lifetime));
    // The default is a day from now (skew allowed), whatever `iat` says.
    let day = DEFAULT_MAX_LIFETIME_SECONDS;
    let just_within = sign_hs256(&alice(NOW + day + LEEWAY_SECONDS), SECRET);
    assert!(hs256().verify_at(&just_within, NOW).is_ok());
    let beyond = sign_hs256(
        &json!({"sub": "alice", "exp": NOW + day + LEEWAY_SECONDS + 1.0, "iat": NOW}),
        SECRET,
    );
    assert_eq!(
        hs256().verify_at(&beyond, NOW),
        Err(TokenRejected::Lifetime)
    );
    // Configurable.
    let hour = hs256().with_max_lifetime(3_600.0);
    let two_hours = sign_hs256(&alice(NOW + 7_200.0), SECRET);
    assert_eq!(
        hour.verify_at(&two_hours, NOW),
        Err(TokenRejected::Lifetime)
    );
    assert!(hour
        .verify_at(&sign_hs256(&alice(NOW + 3_600.0), SECRET), NOW)
        .is_ok());
}

#[test]
fn the_cache_returns_the_same_claims_until_the_token_expires() {
    let verifier = hs256();
    let token = sign_hs256(&alice(NOW + 60.0), SECRET);
    let first = verifier.verify_at(&token, NOW).unwrap();
    assert_eq!(verifier.shared.cache.lock().unwrap().len(), 1);
    // A clone shares the cache.
    assert_eq!(verifier.clone().verify_at(&token, NOW + 1.0), Ok(first));
    assert_eq!(
        verifier.verify_at(&token, NOW + 60.0 + LEEWAY_SECONDS),
        Err(TokenRejected::Expired)
    );
    assert!(verifier.shared.cache.lock().unwrap().is_empty());
}

#[test]
fn failures_are_not_cached() {
    let verifier = hs256();
    let token = sign_hs256(&alice(NOW + 60.0), b"another secret, also 32 bytes lo");
    assert!(verifier.verify_at(&token, NOW).is_err());
    assert!(verifier.shared.cache.lock().unwrap().is_empty());
}

#[test]
fn a_full_cache_drops_expired_entries_then_everything() {
    let verifier = hs256();
    let claims = |expires_at| TokenClaims {
        name: AccountName::parse("a").unwrap(),
        rooms: Vec::new(),
        expires_at,
    };
    for i in 0..CACHE_CAPACITY {
        let mut digest = [0; 32];
        digest[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let expires_at = if i % 2 == 0 { NOW - 100.0 } else { NOW + 100.0 };
        verifier.remember(digest, &claims(expires_at), NOW - 200.0);
    }
    assert_eq!(verifier.shared.cache.lock().unwrap().len(), CACHE_CAPACITY);
    verifier.remember([0xff; 32], &claims(NOW + 100.0), NOW);
    assert_eq!(
        verifier.shared.cache.lock().unwrap().len(),
        CACHE_CAPACITY / 2 + 1
    );
    for i in 0..CACHE_CAPACITY {
        let mut digest = [0xee; 32];
        digest[..8].copy_from_slice(&(i as u64).to_le_bytes());
        verifier.remember(digest, &claims(NOW + 100.0), NOW);
    }
    assert!(verifier.shared.cache.lock().unwrap().len() <= CACHE_CAPACITY);
}

#[test]
fn rejections_never_show_the_token() {
    let token = sign_hs256(&alice(NOW - 100.0), SECRET);
    let rejected = hs256().verify_at(&token, NOW).unwrap_err();
    assert_eq!(rejected.to_string(), "token expired");
    assert!(!format!("{rejected:?}").contains(&token[..10]));
    assert!(!format!("{:?}", hs256()).contains("0123456789"));
}
