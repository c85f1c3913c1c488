//! Web Push end to end, without the internet: a push service of the test's own on loopback
//! (allowed with `--push-allow-insecure 127.0.0.1`) takes the pushes, and each is decrypted
//! here as a browser would (RFC 8291, with the subscription's private key, by code apart from
//! the library that encrypts them) and its VAPID signature (RFC 8292) and headers checked.
//! Then who hears of what: never the sender, nobody holding a stream of the room, a level of
//! `none` nothing, a burst one push that says so; a 410 deletes the subscription, a 503 is
//! retried; and every refusal of subscribing.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use aes_gcm::{aead::Aead, Aes128Gcm, KeyInit};
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode},
    routing::post,
    Router,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hkdf::Hkdf;
use longpoll_chat::server::push::{InsecureHosts, PushConfig};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::{mpsc, Mutex};
use web_push_native::{
    jwt_simple::prelude::{ECDSAP256PublicKeyLike, ES256PublicKey, NoCustomClaims},
    p256::{ecdh::diffie_hellman, elliptic_curve::sec1::ToEncodedPoint, PublicKey, SecretKey},
};

use crate::common::{
    accounts::{assert_refused, bearer, json_request, signed_in},
    app::{send_request, stream_request, wait_for, Setup, TestApp},
};

/// A push as the push service received it.
struct Received {
    /// The last part of the endpoint's path: whose browser it was for.
    browser: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A push service on loopback: `/push/NAME` takes a push (201); `/push/gone-NAME` answers
/// 410; `/push/busy-NAME` answers 503 to its first push and takes the next ones.
struct PushService {
    address: SocketAddr,
    received: mpsc::UnboundedReceiver<Received>,
}

#[derive(Clone)]
struct Service {
    received: mpsc::UnboundedSender<Received>,
    busy_answered: Arc<Mutex<bool>>,
}

async fn take(
    State(service): State<Service>,
    Path(browser): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let status = if browser.starts_with("gone-") {
        StatusCode::GONE
    } else if browser.starts_with("busy-")
        && !std::mem::replace(&mut *service.busy_answered.lock().await, true)
    {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::CREATED
    };
    let _ = service.received.send(Received {
        browser,
        headers,
        body,
    });
    status
}

impl PushService {
    async fn start() -> Self {
        let (sender, received) = mpsc::unbounded_channel();
        let service = Service {
            received: sender,
            busy_answered: Arc::default(),
        };
        let router = Router::new()
            .route("/push/{browser}", post(take))
            .with_state(service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { address, received }
    }

    fn endpoint(&self, browser: &str) -> String {
        format!("http://{}/push/{browser}", self.address)
    }

    /// The next push, failing after ten seconds.
    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.received.recv())
            .await
            .expect("a push within ten seconds")
            .expect("the push service runs")
    }
}

/// A browser's subscription keys, and what it decrypts pushes with.
struct Browser {
    secret: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Self {
        let mut auth = [0; 16];
        getrandom::fill(&mut auth).unwrap();
        Self {
            secret: SecretKey::random(&mut aes_gcm::aead::OsRng),
            auth,
        }
    }

    fn public(&self) -> Vec<u8> {
        (self.secret.public_key().to_encoded_point(false))
            .as_bytes()
            .to_vec()
    }

    fn subscription(&self, endpoint: &str) -> Value {
        json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(self.public()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }

    /// Decrypts an `aes128gcm` body (RFC 8188, keys as RFC 8291 says) into the JSON it carries.
    fn decrypt(&self, body: &[u8]) -> Value {
        let (salt, rest) = body.split_at(16);
        let key_id_length = usize::from(rest[4]);
        let (server_public, ciphertext) = rest[5..].split_at(key_id_length);
        let server_public = PublicKey::from_sec1_bytes(server_public).unwrap();
        let shared = diffie_hellman(self.secret.to_nonzero_scalar(), server_public.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend(self.public());
        info.extend(server_public.to_encoded_point(false).as_bytes());
        let mut ikm = [0; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes().as_slice())
            .expand(&info, &mut ikm)
            .unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let (mut key, mut nonce) = ([0; 16], [0; 12]);
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut key)
            .unwrap();
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
            .unwrap();
        let mut plain = Aes128Gcm::new(&key.into())
            .decrypt(&nonce.into(), ciphertext)
            .expect("a push decrypts with the subscription's keys");
        // One record: the text, then the last record's delimiter 2 and any padding.
        while plain.last() == Some(&0) {
            plain.pop();
        }
        assert_eq!(plain.pop(), Some(2), "one record, marked last");
        serde_json::from_slice(&plain).unwrap()
    }
}

fn push_setup() -> Setup {
    Setup {
        push: Some(PushConfig {
            insecure: InsecureHosts::new(["127.0.0.1".to_owned()]),
            every: Duration::from_millis(400),
            backoff: Duration::from_millis(50),
            subject: "mailto:ops@example.com".into(),
            ..PushConfig::default()
        }),
        ..Setup::default()
    }
}

async fn subscribe(app: &TestApp, token: &str, subscription: Value) -> StatusCode {
    let request = json_request(Method::POST, "/api/me/push-subscriptions", subscription);
    let answer = app.call(bearer(request, token)).await;
    answer.status
}

async fn unsubscribe(app: &TestApp, token: &str, endpoint: &str) -> StatusCode {
    let body = json!({ "endpoint": endpoint });
    let request = json_request(Method::DELETE, "/api/me/push-subscriptions", body);
    app.call(bearer(request, token)).await.status
}

async fn direct_room(app: &TestApp, token: &str, with: &str) -> String {
    let request = json_request(Method::POST, "/api/dms", json!({ "with": [with] }));
    let answer = app.call(bearer(request, token)).await;
    answer.json["name"].as_str().unwrap().to_owned()
}

/// Sends `text` to `room` as the token's account; the message id.
async fn send(app: &TestApp, token: &str, room: &str, text: &str) -> String {
    let request = send_request(json!({ "room": room, "text": text }));
    let answer = app.call(bearer(request, token)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    answer.json["message_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_push_is_encrypted_for_the_browser_and_signed_by_the_server() {
    let app = TestApp::build(push_setup()).await;
    let mut service = PushService::start().await;
    let (ann, bob) = (signed_in(&app, "ann").await, signed_in(&app, "bob").await);
    let browser = Browser::new();
    let endpoint = service.endpoint("bob");
    assert_eq!(
        subscribe(&app, &bob, browser.subscription(&endpoint)).await,
        StatusCode::CREATED
    );
    assert_eq!(
        subscribe(&app, &bob, browser.subscription(&endpoint)).await,
        StatusCode::OK
    );
    // The sender's own browser hears nothing of their message.
    let ann_browser = Browser::new();
    let ann_endpoint = service.endpoint("ann");
    assert_eq!(
        subscribe(&app, &ann, ann_browser.subscription(&ann_endpoint)).await,
        StatusCode::CREATED
    );

    let room = direct_room(&app, &ann, "bob").await;
    let id = send(&app, &ann, &room, "lunch at noon?").await;

    let push = service.next().await;
    assert_eq!(push.browser, "bob");
    let payload = browser.decrypt(&push.body);
    assert_eq!(payload["room"], room.as_str());
    assert_eq!(payload["sender"], "ann");
    assert_eq!(payload["title"], "ann");
    assert_eq!(payload["id"], id.as_str());
    assert_eq!(payload["body"], "lunch at noon?");
    assert_eq!(payload["count"], 1);
    assert_eq!(payload["url"], format!("/room/{room}?at={id}"));

    let header = |name: &str| push.headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(header("content-encoding"), "aes128gcm");
    assert_eq!(header("urgency"), "high");
    assert!(header("ttl").parse::<u64>().unwrap() > 0);
    assert!(header("topic").len() <= 32);
    // `vapid t=JWT, k=KEY`: the key is the one browsers subscribe with, and it signed the JWT
    // for this push service's origin.
    let authorization = header("authorization");
    let (token, key) = authorization
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split_once(", k="))
        .expect("a VAPID authorization");
    let served_key = app.get("/api/push/key").await.json["key"].clone();
    assert_eq!(served_key, key);
    let public = ES256PublicKey::from_bytes(&URL_SAFE_NO_PAD.decode(key).unwrap()).unwrap();
    let claims = public
        .verify_token::<NoCustomClaims>(token, None)
        .expect("signed by the key");
    let audience = claims.audiences.unwrap().into_string().unwrap();
    assert_eq!(audience, format!("http://{}", service.address));
    assert_eq!(claims.subject.as_deref(), Some("mailto:ops@example.com"));
    let expires_in = claims.expires_at.unwrap().as_secs() as f64 - now();
    assert!(expires_in > 0.0 && expires_in <= 86_400.0, "{expires_in}");

    // Ann's subscription never got a push: the next push is the next message's, to Bob.
    send(&app, &bob, "general", "hello @ann").await;
    let push = service.next().await;
    assert_eq!(push.browser, "ann");
    assert_eq!(ann_browser.decrypt(&push.body)["body"], "hello @ann");
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test]
async fn nobody_looking_at_the_room_or_not_wanting_it_is_pushed_to() {
    let app = TestApp::build(push_setup()).await;
    let mut service = PushService::start().await;
    let (ann, bob) = (signed_in(&app, "ann").await, signed_in(&app, "bob").await);
    let browser = Browser::new();
    assert_eq!(
        subscribe(&app, &bob, browser.subscription(&service.endpoint("bob"))).await,
        StatusCode::CREATED
    );
    let room = direct_room(&app, &ann, "bob").await;

    // Bob holds a stream of the direct room: he is looking.
    let stream = app.spawn(bearer(
        stream_request(json!({"client_id": "bob-tab", "rooms": [{"room": room}]})),
        &bob,
    ));
    let broker = app.broker.clone();
    let looking = room.clone();
    wait_for("bob's stream is held", move || {
        broker.is_present(&looking, "bob")
    })
    .await;
    send(&app, &ann, &room, "are you there?").await;

    // A room set to `none` tells him nothing either.
    let mark = json_request(
        Method::PUT,
        "/api/me/rooms/quiet",
        json!({"notify": "none"}),
    );
    assert_eq!(app.call(bearer(mark, &bob)).await.status, StatusCode::OK);
    send(&app, &ann, "quiet", "@bob fyi").await;

    // A mention in a room he is not looking at (default level: mentions) is the first push.
    send(&app, &ann, "general", "nothing for bob").await;
    let id = send(&app, &ann, "general", "@bob see this").await;
    let push = service.next().await;
    let payload = browser.decrypt(&push.body);
    assert_eq!(payload["id"], id.as_str(), "{payload}");
    assert_eq!(payload["title"], "ann in general");
    stream.abort();
}

#[tokio::test]
async fn a_room_set_to_all_pushes_every_message_and_a_burst_is_one_push_that_says_so() {
    let app = TestApp::build(push_setup()).await;
    let mut service = PushService::start().await;
    let (ann, bob) = (signed_in(&app, "ann").await, signed_in(&app, "bob").await);
    let browser = Browser::new();
    assert_eq!(
        subscribe(&app, &bob, browser.subscription(&service.endpoint("bob"))).await,
        StatusCode::CREATED
    );
    let mark = json_request(
        Method::PUT,
        "/api/me/rooms/general",
        json!({"notify": "all"}),
    );
    assert_eq!(app.call(bearer(mark, &bob)).await.status, StatusCode::OK);

    for n in 1..=20 {
        send(&app, &ann, "general", &format!("message {n}")).await;
    }
    let first = browser.decrypt(&service.next().await.body);
    assert_eq!(first["body"], "message 1");
    assert_eq!(first["count"], 1);
    let push = service.next().await;
    assert_eq!(push.headers["urgency"], "normal");
    let rest = browser.decrypt(&push.body);
    assert_eq!(rest["count"], 19, "{rest}");
    assert_eq!(rest["body"], "19 new messages, the latest: message 20");
    // Nothing more of the burst: the next push is a later message's.
    let room = direct_room(&app, &ann, "bob").await;
    send(&app, &ann, &room, "later").await;
    assert_eq!(browser.decrypt(&service.next().await.body)["body"], "later");
}

#[tokio::test]
async fn a_gone_subscription_is_deleted_and_a_busy_push_service_is_tried_again() {
    let app = TestApp::build(push_setup()).await;
    let mut service = PushService::start().await;
    let (ann, bob, cat) = (
        signed_in(&app, "ann").await,
        signed_in(&app, "bob").await,
        signed_in(&app, "cat").await,
    );
    let gone = service.endpoint("gone-bob");
    assert_eq!(
        subscribe(&app, &bob, Browser::new().subscription(&gone)).await,
        StatusCode::CREATED
    );
    let busy = Browser::new();
    assert_eq!(
        subscribe(&app, &cat, busy.subscription(&service.endpoint("busy-cat"))).await,
        StatusCode::CREATED
    );

    send(&app, &ann, "general", "@bob and @cat").await;
    let mut browsers = Vec::new();
    for _ in 0..3 {
        browsers.push(service.next().await.browser);
    }
    browsers.sort();
    // One push to the gone one, and the busy one's second try after its 503.
    assert_eq!(browsers, ["busy-cat", "busy-cat", "gone-bob"]);
    // Deleted once its answer is in: asked until it is (the delivery task deletes it after
    // the push service answered, which the test cannot see).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while unsubscribe(&app, &bob, &gone).await != StatusCode::NOT_FOUND {
        assert!(
            std::time::Instant::now() < deadline,
            "the subscription answered 410 is deleted"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn signing_out_ends_the_sessions_subscriptions() {
    let app = TestApp::build(push_setup()).await;
    let service = PushService::start().await;
    let bob = signed_in(&app, "bob").await;
    let endpoint = service.endpoint("bob");
    assert_eq!(
        subscribe(&app, &bob, Browser::new().subscription(&endpoint)).await,
        StatusCode::CREATED
    );
    let sign_out = json_request(Method::DELETE, "/api/sessions/current", json!({}));
    let signed_out = app.call(bearer(sign_out, &bob)).await;
    assert!(signed_out.status.is_success(), "{}", signed_out.json);
    let again = crate::common::accounts::new_session(&app, "bob").await;
    assert_eq!(
        unsubscribe(&app, &again, &endpoint).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn subscribing_is_for_accounts_and_endpoints_on_public_https() {
    let app = TestApp::build(Setup {
        push: Some(PushConfig::default()),
        ..Setup::default()
    })
    .await;
    let bob = signed_in(&app, "bob").await;
    let browser = Browser::new();
    let key = app.get("/api/push/key").await;
    assert_eq!(key.status, StatusCode::OK);
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(key.json["key"].as_str().unwrap())
            .unwrap()
            .len(),
        65
    );

    let guest = app
        .call(json_request(
            Method::POST,
            "/api/me/push-subscriptions",
            browser.subscription("https://push.example.com/x"),
        ))
        .await;
    assert_refused(&guest, StatusCode::UNAUTHORIZED, "sign in");
    for (endpoint, why) in [
        ("http://push.example.com/x", "https"),
        ("https://127.0.0.1/x", "public host"),
        ("https://10.0.0.8/x", "public host"),
        ("https://[::1]/x", "public host"),
        ("https://localhost/x", "public host"),
        ("https://169.254.169.254/latest", "public host"),
        ("no url", "not a URL"),
    ] {
        let request = json_request(
            Method::POST,
            "/api/me/push-subscriptions",
            browser.subscription(endpoint),
        );
        assert_refused(
            &app.call(bearer(request, &bob)).await,
            StatusCode::BAD_REQUEST,
            why,
        );
    }
    let mut bad_key = browser.subscription("https://push.example.com/x");
    bad_key["keys"]["p256dh"] = json!("AAAA");
    let request = json_request(Method::POST, "/api/me/push-subscriptions", bad_key);
    assert_refused(
        &app.call(bearer(request, &bob)).await,
        StatusCode::BAD_REQUEST,
        "p256dh",
    );
    let long = format!("https://push.example.com/{}", "x".repeat(2_000));
    let request = json_request(
        Method::POST,
        "/api/me/push-subscriptions",
        browser.subscription(&long),
    );
    assert_refused(
        &app.call(bearer(request, &bob)).await,
        StatusCode::BAD_REQUEST,
        "at most",
    );
    assert_eq!(
        unsubscribe(&app, &bob, "https://push.example.com/x").await,
        StatusCode::NOT_FOUND
    );

    // Past the most an account keeps, the oldest goes.
    for n in 0..=20 {
        let endpoint = format!("https://push.example.com/{n}");
        assert_eq!(
            subscribe(&app, &bob, browser.subscription(&endpoint)).await,
            StatusCode::CREATED
        );
    }
    assert_eq!(
        unsubscribe(&app, &bob, "https://push.example.com/0").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        unsubscribe(&app, &bob, "https://push.example.com/20").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_web_push_there_is_no_key_to_subscribe_with() {
    let app = TestApp::new().await;
    let bob = signed_in(&app, "bob").await;
    assert_refused(
        &app.get("/api/push/key").await,
        StatusCode::NOT_FOUND,
        "Web Push is off",
    );
    let request = json_request(
        Method::POST,
        "/api/me/push-subscriptions",
        Browser::new().subscription("https://push.example.com/x"),
    );
    assert_refused(
        &app.call(bearer(request, &bob)).await,
        StatusCode::NOT_FOUND,
        "Web Push is off",
    );
}
