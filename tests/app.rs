//! The assembled application (`server::app`): what sits around the REST adapter — the send
//! rate limit shared by REST and server functions, CORS, compression, readiness.
#![cfg(feature = "ssr")]

mod common;

use std::num::NonZeroU32;

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use common::in_process_app;
use http_body_util::BodyExt;
use longpoll_chat::server::{send_limit::SendLimiter, HttpConfig};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tower::ServiceExt;

/// The tests here run one at a time. Run side by side, each building its own Leptos app in the
/// one process, the page render of `pages_are_compressed_and_api_answers_are_not` hung in about
/// one run of 30 (never in 60 runs one at a time); the server builds one app per process.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn send_request(text: &str) -> Request<Body> {
    Request::post("/api/send")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"sender": "s", "text": text, "room": "limited"}).to_string(),
        ))
        .unwrap()
}

#[tokio::test]
async fn sends_past_the_rate_limit_get_429_with_retry_after_and_store_nothing() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let limiter = SendLimiter::new(NonZeroU32::new(1).unwrap(), NonZeroU32::new(3).unwrap());
    let (router, broker) = in_process_app(HttpConfig {
        send_limiter: Some(limiter),
        ..HttpConfig::default()
    })
    .await;
    for i in 0..3 {
        let response = router
            .clone()
            .oneshot(send_request(&format!("m{i}")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = router
        .clone()
        .oneshot(send_request("one too many"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        body,
        json!({"status": "error", "detail": "too many messages, slow down"})
    );
    // The page's server function is limited by the same bucket.
    let form = Request::post("/sfn/send")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("room=limited&sender=s&text=via+form"))
        .unwrap();
    let response = router.clone().oneshot(form).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(broker.stats().await.total_messages, 3);
    // Reads are never limited.
    let history = Request::get("/api/history?room=limited")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        router.oneshot(history).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn cors_is_off_by_default_and_answers_configured_origins() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let preflight = || {
        Request::options("/api/send")
            .header(header::ORIGIN, "https://chat.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(Body::empty())
            .unwrap()
    };
    let (closed, _) = in_process_app(HttpConfig::default()).await;
    let response = closed.oneshot(preflight()).await.unwrap();
    assert!(response
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());

    let (open, _) = in_process_app(HttpConfig {
        cors_origins: vec!["https://chat.example".into()],
        ..HttpConfig::default()
    })
    .await;
    let response = open.oneshot(preflight()).await.unwrap();
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://chat.example"
    );
}

#[tokio::test]
async fn a_cross_origin_client_can_read_the_rate_limit_answer() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let one = NonZeroU32::new(1).unwrap();
    let (router, _) = in_process_app(HttpConfig {
        cors_origins: vec!["https://chat.example".into()],
        send_limiter: Some(SendLimiter::new(one, one)),
        ..HttpConfig::default()
    })
    .await;
    let from_other_site = |text: &str| {
        let mut request = send_request(text);
        request
            .headers_mut()
            .insert(header::ORIGIN, "https://chat.example".parse().unwrap());
        request
    };
    let first = router.clone().oneshot(from_other_site("a")).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let refused = router.oneshot(from_other_site("b")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // Without these the browser hides the 429 and its Retry-After from the page's script.
    assert_eq!(
        refused.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://chat.example"
    );
}

#[tokio::test]
async fn pages_are_compressed_and_api_answers_are_not() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (router, _) = in_process_app(HttpConfig::default()).await;
    let gzip = |uri: &str| {
        Request::get(uri)
            .header(header::ACCEPT_ENCODING, "gzip")
            .body(Body::empty())
            .unwrap()
    };
    let page = router.clone().oneshot(gzip("/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[header::CONTENT_ENCODING], "gzip");
    let api = router.oneshot(gzip("/api/stats")).await.unwrap();
    assert!(api.headers().get(header::CONTENT_ENCODING).is_none());
}

#[tokio::test]
async fn json_answers_are_never_cached_and_pages_keep_their_own_rules() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let one = NonZeroU32::new(1).unwrap();
    let (app, _) = in_process_app(HttpConfig {
        send_limiter: Some(SendLimiter::new(one, one)),
        ..HttpConfig::default()
    })
    .await;
    let cache_control = |response: &axum::response::Response<_>| {
        response
            .headers()
            .get(header::CACHE_CONTROL)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let get = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();
    for uri in ["/api/stats", "/api/nowhere", "/health", "/health/ready"] {
        let response = app.clone().oneshot(get(uri)).await.unwrap();
        assert_eq!(
            cache_control(&response).as_deref(),
            Some("no-store"),
            "{uri}"
        );
    }
    let page = app.clone().oneshot(get("/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(cache_control(&page), None);
    // The answers of the app's own layers too, such as the rate limit's 429.
    assert_eq!(
        app.clone()
            .oneshot(send_request("a"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let refused = app.clone().oneshot(send_request("b")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(cache_control(&refused).as_deref(), Some("no-store"));
    // The app applies the REST adapter's body limit in its own layer stack.
    let (unlimited, _) = in_process_app(HttpConfig::default()).await;
    let too_large = unlimited
        .oneshot(send_request(&"x".repeat(100 * 1024)))
        .await
        .unwrap();
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(cache_control(&too_large).as_deref(), Some("no-store"));
}

#[tokio::test]
async fn readiness_checks_the_store_and_fails_once_shutting_down() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let (router, broker) = in_process_app(HttpConfig::default()).await;
    let ready = || Request::get("/health/ready").body(Body::empty()).unwrap();
    assert_eq!(
        router.clone().oneshot(ready()).await.unwrap().status(),
        StatusCode::OK
    );
    broker.shutdown();
    let response = router.oneshot(ready()).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}
