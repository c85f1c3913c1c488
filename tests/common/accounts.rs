//! Accounts and sessions for the in-process app: requests that sign up and in, and requests
//! that carry an identity.

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::{json, Value};

use longpoll_chat::server::identity::IdentityConfig;

use super::app::{Answer, Setup, TestApp};

/// `request` carrying `Authorization: Bearer token`.
pub fn bearer(mut request: Request<Body>, token: &str) -> Request<Body> {
    request.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    request
}

/// `request` carrying `Authorization: Bearer token` when there is a `token`.
pub fn with_token(request: Request<Body>, token: Option<&str>) -> Request<Body> {
    match token {
        Some(token) => bearer(request, token),
        None => request,
    }
}

pub fn json_request(method: Method, uri: &str, body: Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub fn empty_request(method: Method, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap()
}

pub fn credentials(name: &str, password: &str) -> Value {
    json!({"name": name, "password": password})
}

pub async fn sign_up(app: &TestApp, name: &str) -> Answer {
    let body = credentials(name, "correct horse battery");
    app.call(json_request(Method::POST, "/api/accounts", body))
        .await
}

/// Signs `name` up and in; returns the session token.
pub async fn signed_in(app: &TestApp, name: &str) -> String {
    assert_eq!(sign_up(app, name).await.status, StatusCode::CREATED);
    new_session(app, name).await
}

/// Another session of an account that exists (a second device); returns its token.
pub async fn new_session(app: &TestApp, name: &str) -> String {
    let body = credentials(name, "correct horse battery");
    let session = app
        .call(json_request(Method::POST, "/api/sessions", body))
        .await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.json);
    session.json["token"].as_str().unwrap().to_owned()
}

/// `request` carrying the browser's session cookie.
pub fn with_cookie(mut request: Request<Body>, token: &str) -> Request<Body> {
    request.headers_mut().insert(
        header::COOKIE,
        format!("lpc_session={token}").parse().unwrap(),
    );
    request
}

/// A verifier of HS256 tokens, and a token it accepts for `sub` with `rooms`, expiring in
/// `expires_in` seconds (negative: expired).
pub fn jwt_setup() -> (Setup, impl Fn(&str, &[&str], i64) -> String) {
    use jsonwebtoken::{encode, EncodingKey, Header};
    use longpoll_chat::server::identity::jwt::JwtVerifier;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    let setup = Setup {
        identity: IdentityConfig {
            tokens: Some(JwtVerifier::hs256(SECRET).unwrap()),
            ..IdentityConfig::default()
        },
        ..Setup::default()
    };
    let token = |sub: &str, rooms: &[&str], expires_in: i64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let claims = json!({"sub": sub, "rooms": rooms, "exp": now + expires_in});
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET).unwrap(),
        )
        .unwrap()
    };
    (setup, token)
}

/// Checks that `answer` is the JSON error with `status` whose detail says `detail_part`.
pub fn assert_refused(answer: &Answer, status: StatusCode, detail_part: &str) {
    assert_eq!(answer.status, status, "{}", answer.json);
    assert_eq!(answer.json["status"], "error");
    let detail = answer.json["detail"].as_str().unwrap();
    assert!(
        detail.contains(detail_part),
        "{detail:?} lacks {detail_part:?}"
    );
}

/// Creates `room` as a private room of `owner` with `members`.
pub async fn private_room(app: &TestApp, owner: &str, room: &str, members: &[&str]) {
    let create = json_request(
        Method::POST,
        "/api/rooms",
        json!({"name": room, "private": true}),
    );
    assert_eq!(
        app.call(bearer(create, owner)).await.status,
        StatusCode::CREATED
    );
    for member in members {
        let uri = format!("/api/rooms/{room}/members/{member}");
        let added = app
            .call(bearer(empty_request(Method::PUT, &uri), owner))
            .await;
        assert_eq!(added.status, StatusCode::OK, "{}", added.json);
    }
}
