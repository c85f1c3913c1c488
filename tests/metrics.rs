//! `/metrics` after a scripted sequence: every poll outcome, sends, deliveries, gauges.
//! Alone in its test binary, since the Prometheus recorder is process-wide.
#![cfg(feature = "ssr")]

mod common;

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
    Router,
};
use common::in_process_app;
use http_body_util::BodyExt;
use longpoll_chat::server::{self, Broker, HttpConfig};
use serde_json::json;
use tower::ServiceExt;

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

async fn wait_held(broker: &Broker, count: usize) {
    while broker.held_polls() != count {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn metrics_count_sends_deliveries_and_every_poll_outcome() {
    let (router, broker) = in_process_app(HttpConfig {
        metrics: Some(server::metrics::install()),
        ..HttpConfig::default()
    })
    .await;

    // A poll woken by a send.
    let woken = tokio::spawn({
        let router = router.clone();
        async move { call(&router, get("/api/poll?client_id=a&room=m")).await }
    });
    wait_held(&broker, 1).await;
    let send = Request::post("/api/send")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"sender": "s", "text": "hi", "room": "m"}).to_string(),
        ))
        .unwrap();
    assert_eq!(call(&router, send).await.0, StatusCode::OK);
    assert!(woken.await.unwrap().1.contains("\"hi\""));
    // A reset, a timeout, a superseded and a disconnected poll.
    call(
        &router,
        get("/api/poll?client_id=a&room=m&last_message_id=x"),
    )
    .await;
    call(&router, get("/api/poll?client_id=a&room=quiet&timeout=5")).await;
    let first = tokio::spawn({
        let router = router.clone();
        async move { call(&router, get("/api/poll?client_id=b&room=m")).await }
    });
    wait_held(&broker, 1).await;
    let second = tokio::spawn({
        let router = router.clone();
        async move { call(&router, get("/api/poll?client_id=b&room=m")).await }
    });
    assert!(first.await.unwrap().1.contains("superseded"));
    wait_held(&broker, 1).await;
    let delete = Request::delete("/api/client/b")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&router, delete).await.0, StatusCode::OK);
    assert!(second.await.unwrap().1.contains("disconnected"));

    let (status, text) = call(&router, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        r#"chat_messages_sent_total{outcome="sent"} 1"#,
        r#"chat_polls_total{outcome="message"} 1"#,
        r#"chat_polls_total{outcome="reset"} 1"#,
        r#"chat_polls_total{outcome="timeout"} 1"#,
        r#"chat_polls_total{outcome="superseded"} 1"#,
        r#"chat_polls_total{outcome="disconnected"} 1"#,
        "chat_deliveries_total 2",
        "chat_held_polls 0",
        "chat_clients 1",
        "chat_send_duration_seconds_count 1",
        "chat_wakeup_seconds_count 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}
