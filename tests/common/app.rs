//! The whole application in-process, assembled as `main` assembles it (the production layer
//! order included) on a memory-store broker; requests go through `tower::ServiceExt::oneshot`.
//!
//! This is the only place that builds the app or opens a broker, so a move of either touches
//! this file alone.

use std::{
    num::NonZeroU32,
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes},
    http::{header, HeaderMap, HeaderName, Request, StatusCode},
    Router,
};
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use longpoll_chat::{
    server::{
        chat::{Chat, ChatOptions},
        identity::{Identity, IdentityConfig},
        push::{Push, PushConfig},
        send_limit::SendLimiter,
        store::StoreConfig,
        Broker, BrokerConfig, HttpConfig,
    },
    site,
};
use serde_json::{json, Value};
use tokio::{sync::RwLock, task::JoinHandle};
use tower::ServiceExt;

/// How long an in-process wait may take before it fails the test.
const WAIT_BOUND: Duration = Duration::from_secs(10);

/// Building an app (write) excludes any request that may render a page ([`call_raw`]: read),
/// across the test binary.
///
/// Building the app generates its Leptos route list, and while it does, leptos_router's
/// `RouteList::generate` holds `SuppressResourceLoad`: a process-wide flag (leptos_server
/// 0.8.8, `resource.rs`) that makes every `Resource` whose fetch starts meanwhile, in any
/// thread, wait forever. A page rendered by a test in parallel with another test building its
/// app would then never finish. `main` builds one app before serving, so only tests meet this.
static ROUTE_GENERATION: RwLock<()> = RwLock::const_new(());

/// The application and the services behind it.
pub struct TestApp {
    pub router: Router,
    pub broker: Broker,
    pub identity: Identity,
}

/// How a [`TestApp`] is configured; every part defaults to the server's defaults, except
/// that sends are not rate-limited.
#[derive(Default)]
pub struct Setup {
    pub broker: BrokerConfig,
    pub http: HttpConfig,
    pub identity: IdentityConfig,
    pub chat: ChatOptions,
    /// The site served (its root, hashed names or not); by default none is on disk.
    pub leptos: Option<LeptosOptions>,
    /// Web Push, off by default.
    pub push: Option<PushConfig>,
}

impl TestApp {
    /// The app with the default broker and HTTP configuration.
    pub async fn new() -> Self {
        Self::build(Setup::default()).await
    }

    /// The app with the default broker configuration and `http`.
    pub async fn with_http(http: HttpConfig) -> Self {
        Self::build(Setup {
            http,
            ..Setup::default()
        })
        .await
    }

    /// The app on a memory-store broker configured by `broker`, its HTTP side by `http`.
    pub async fn with(broker: BrokerConfig, http: HttpConfig) -> Self {
        Self::build(Setup {
            broker,
            http,
            ..Setup::default()
        })
        .await
    }

    /// The app with sends limited as [`send_limit`] says.
    pub async fn with_send_limit(burst: u32) -> Self {
        Self::build(Setup {
            chat: send_limit(burst),
            ..Setup::default()
        })
        .await
    }

    /// The app on a server without guests (`--guests off`).
    pub async fn without_guests() -> Self {
        Self::build(Setup {
            identity: IdentityConfig {
                guests: false,
                ..IdentityConfig::default()
            },
            ..Setup::default()
        })
        .await
    }

    /// The app on memory stores, configured by `setup`.
    pub async fn build(setup: Setup) -> Self {
        let store = StoreConfig::Memory;
        let broker = Broker::open(setup.broker, &store).await.unwrap();
        let (identity, room_changes) = Identity::open(setup.identity, &store).await.unwrap();
        let mut options = setup.chat;
        if let Some(push) = setup.push {
            let push = Push::open(push, &store, broker.clone(), identity.clone());
            options.push = Some(push.await.unwrap());
        }
        let chat = Chat::new(broker.clone(), identity.clone(), options, room_changes);
        let options = (setup.leptos).unwrap_or_else(|| {
            LeptosOptions::builder()
                .output_name("longpoll-chat")
                .build()
        });
        let router = {
            let _generating = ROUTE_GENERATION.write().await;
            site::app(chat, options, &setup.http)
        };
        Self {
            router,
            broker,
            identity,
        }
    }

    /// Sends `request` and reads the JSON answer.
    pub async fn call(&self, request: Request<Body>) -> Answer {
        call(&self.router, request).await
    }

    /// GETs `uri` and reads the JSON answer.
    pub async fn get(&self, uri: &str) -> Answer {
        self.call(get(uri)).await
    }

    /// POSTs `body` to `/api/send` as JSON and reads the answer.
    pub async fn send(&self, body: Value) -> Answer {
        self.call(send_request(body)).await
    }

    /// Sends `text` from "alice" to `room`, checks it was accepted, and returns its id.
    pub async fn send_ok(&self, room: &str, text: &str) -> String {
        let answer = self.send(message(room, "alice", text)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
        answer.json["message_id"].as_str().unwrap().to_owned()
    }

    /// Sends `request` and reads the whole answer, whatever it is (a page, say).
    pub async fn call_raw(&self, request: Request<Body>) -> Reply {
        call_raw(&self.router, request).await
    }

    /// Sends `request` from a task of its own, without waiting for it to be held.
    pub fn spawn(&self, request: Request<Body>) -> JoinHandle<Answer> {
        let router = self.router.clone();
        tokio::spawn(async move { call(&router, request).await })
    }

    /// Starts `GET /api/poll?{query}` and returns once the broker holds it (once its count of
    /// held polls changed), failing after [`WAIT_BOUND`].
    pub async fn spawn_poll(&self, query: &str) -> JoinHandle<Answer> {
        let held = self.broker.held_polls();
        let poll = self.spawn(get(&format!("/api/poll?{query}")));
        wait_for(&format!("the poll {query:?} is held"), || {
            self.broker.held_polls() != held
        })
        .await;
        poll
    }

    /// Waits until the broker holds exactly `count` polls, failing after [`WAIT_BOUND`].
    pub async fn until_held(&self, count: usize) {
        wait_for(&format!("{count} polls are held"), || {
            self.broker.held_polls() == count
        })
        .await;
    }
}

/// Chat options that limit sends to one a second after a burst of `burst`, as
/// `--send-rate 1 --send-burst {burst}` does.
pub fn send_limit(burst: u32) -> ChatOptions {
    let one = NonZeroU32::new(1).unwrap();
    let burst = NonZeroU32::new(burst).expect("a burst of one or more");
    ChatOptions {
        send_limiter: Some(SendLimiter::new(one, burst)),
        ..ChatOptions::default()
    }
}

/// Lets the runtime's other tasks run until `condition` holds, failing after [`WAIT_BOUND`] of
/// real time, so it works on a paused clock too (yielding keeps a paused clock from jumping
/// ahead, as sleeping would).
pub async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT_BOUND;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "not within {WAIT_BOUND:?}: {what}"
        );
        tokio::task::yield_now().await;
    }
}

/// A JSON answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The `Content-Type` header, empty when absent.
    pub content_type: String,
    pub json: Value,
}

impl Answer {
    /// The header `name`, if present.
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        header_text(&self.headers, name)
    }
}

/// Any answer, its body read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The header `name`, if present.
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        header_text(&self.headers, name)
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).map(|value| value.to_str().unwrap())
}

/// Sends `request` through `router` and reads the answer, which must be JSON (as every answer
/// of the REST API is).
pub async fn call(router: &Router, request: Request<Body>) -> Answer {
    let reply = read(router, request).await;
    let content_type = reply
        .header(header::CONTENT_TYPE)
        .unwrap_or_default()
        .to_owned();
    let json = serde_json::from_slice(&reply.body).unwrap_or_else(|_| {
        panic!(
            "not JSON ({}): {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        )
    });
    Answer {
        status: reply.status,
        headers: reply.headers,
        content_type,
        json,
    }
}

/// Sends `request` through `router` and reads the whole answer, whatever it is: pages too,
/// which is why it never runs while a test builds an app (see [`ROUTE_GENERATION`]). So a
/// test must not build an app while a request of its own sent this way is under way.
pub async fn call_raw(router: &Router, request: Request<Body>) -> Reply {
    let _rendering = ROUTE_GENERATION.read().await;
    read(router, request).await
}

/// Sends `request` through `router` and reads the whole answer. [`call`] takes no lock: a held
/// poll would keep other tests from building their apps for as long as it is held.
async fn read(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

/// `GET uri`.
pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// `POST uri` with `body`, and `Content-Type: content_type` unless `None`.
pub fn post(uri: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post(uri);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    request.body(body.into()).unwrap()
}

/// `POST /api/send` with `body` as JSON (any JSON, to test what it rejects too).
pub fn send_request(body: Value) -> Request<Body> {
    post("/api/send", Some("application/json"), body.to_string())
}

/// `POST /api/stream` with `body` as JSON.
pub fn stream_request(body: Value) -> Request<Body> {
    post("/api/stream", Some("application/json"), body.to_string())
}

/// The body of a send of `text` from `sender` to `room`.
pub fn message(room: &str, sender: &str, text: &str) -> Value {
    json!({"sender": sender, "text": text, "room": room})
}
