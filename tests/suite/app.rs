//! The assembled application, as `main` serves it: what sits around the REST adapter — the send
//! rate limit shared by REST and server functions, CORS, compression, readiness.

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use longpoll_chat::server::HttpConfig;
use serde_json::json;

use crate::common::app::{get, message, post, send_limit, send_request, Setup, TestApp};

/// A send of `text` to the rate-limited room.
fn limited_send(text: &str) -> Request<Body> {
    send_request(message("limited", "s", text))
}

#[tokio::test]
async fn sends_past_the_rate_limit_get_429_with_retry_after_and_store_nothing() {
    let app = TestApp::with_send_limit(3).await;
    for i in 0..3 {
        let response = app.call(limited_send(&format!("m{i}"))).await;
        assert_eq!(response.status, StatusCode::OK);
    }
    let response = app.call(limited_send("one too many")).await;
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers[header::RETRY_AFTER], "1");
    assert_eq!(
        response.json,
        json!({"status": "error", "detail": "too many messages, slow down"})
    );
    // The page's server function is limited by the same bucket.
    let form = post(
        "/sfn/send",
        Some("application/x-www-form-urlencoded"),
        "room=limited&sender=s&text=via+form",
    );
    let response = app.call_raw(form).await;
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.broker.stats(|_| true).await.total_messages, 3);
    // Reads are never limited.
    let history = app.get("/api/history?room=limited").await;
    assert_eq!(history.status, StatusCode::OK);
}

#[tokio::test]
async fn cors_is_off_by_default_and_answers_configured_origins() {
    let preflight = || {
        Request::options("/api/send")
            .header(header::ORIGIN, "https://chat.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(Body::empty())
            .unwrap()
    };
    let closed = TestApp::new().await;
    let response = closed.call_raw(preflight()).await;
    assert!(response
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());

    let open = TestApp::with_http(HttpConfig {
        cors_origins: vec!["https://chat.example".into()],
        ..HttpConfig::default()
    })
    .await;
    let response = open.call_raw(preflight()).await;
    assert_eq!(
        response.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://chat.example"
    );
}

#[tokio::test]
async fn a_cross_origin_client_can_read_the_rate_limit_answer() {
    let app = TestApp::build(Setup {
        http: HttpConfig {
            cors_origins: vec!["https://chat.example".into()],
            ..HttpConfig::default()
        },
        chat: send_limit(1),
        ..Setup::default()
    })
    .await;
    let from_other_site = |text: &str| {
        let mut request = limited_send(text);
        request
            .headers_mut()
            .insert(header::ORIGIN, "https://chat.example".parse().unwrap());
        request
    };
    let first = app.call(from_other_site("a")).await;
    assert_eq!(first.status, StatusCode::OK);
    let refused = app.call(from_other_site("b")).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    // Without these the browser hides the 429 and its Retry-After from the page's script.
    assert_eq!(
        refused.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://chat.example"
    );
}

#[tokio::test]
async fn pages_are_compressed_and_api_answers_are_not() {
    let app = TestApp::new().await;
    let gzip = |uri: &str| {
        Request::get(uri)
            .header(header::ACCEPT_ENCODING, "gzip")
            .body(Body::empty())
            .unwrap()
    };
    let page = app.call_raw(gzip("/")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers[header::CONTENT_ENCODING], "gzip");
    let api = app.call(gzip("/api/stats")).await;
    assert!(api.headers.get(header::CONTENT_ENCODING).is_none());
}

#[tokio::test]
async fn json_answers_are_never_cached_and_pages_keep_their_own_rules() {
    let app = TestApp::with_send_limit(1).await;
    for uri in ["/api/stats", "/api/nowhere", "/health", "/health/ready"] {
        let response = app.get(uri).await;
        assert_eq!(
            response.header(header::CACHE_CONTROL),
            Some("no-store"),
            "{uri}"
        );
    }
    let page = app.call_raw(get("/")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header(header::CACHE_CONTROL), None);
    // The answers of the app's own layers too, such as the rate limit's 429.
    assert_eq!(app.call(limited_send("a")).await.status, StatusCode::OK);
    let refused = app.call(limited_send("b")).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.header(header::CACHE_CONTROL), Some("no-store"));
    // The app applies the REST adapter's body limit in its own layer stack.
    let unlimited = TestApp::new().await;
    let too_large = unlimited.call(limited_send(&"x".repeat(100 * 1024))).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.header(header::CACHE_CONTROL), Some("no-store"));
}

#[tokio::test]
async fn readiness_checks_the_store_and_fails_once_shutting_down() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/health/ready").await.status, StatusCode::OK);
    app.broker.shutdown();
    let response = app.get("/health/ready").await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
}
