//! `/metrics` after a scripted sequence: every poll outcome, sends, deliveries, gauges, a search.
//!
//! The broker takes its metric handles from the recorder current when it opens. `main`
//! installs a process-wide one (`server::metrics::install`), which every broker opened after
//! it would count into, other tests' too; so this test's broker opens with a recorder of its
//! own, current on the test's thread only, and `/metrics` renders that one.

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use longpoll_chat::server::HttpConfig;
use metrics_exporter_prometheus::PrometheusBuilder;

use crate::common::app::{get, message, send_request, TestApp};

// `start_paused` runs the test on one thread: the one its recorder is current on.
#[tokio::test(start_paused = true)]
async fn metrics_count_sends_deliveries_and_every_poll_outcome() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let _recorder = metrics::set_default_local_recorder(&recorder);
    let app = TestApp::with_http(HttpConfig {
        metrics: Some(recorder.handle()),
        ..HttpConfig::default()
    })
    .await;

    // A poll woken by a send.
    let woken = app.spawn_poll("client_id=a&room=m").await;
    let send = send_request(message("m", "s", "hi"));
    assert_eq!(app.call(send).await.status, StatusCode::OK);
    assert!(woken.await.unwrap().json.to_string().contains("\"hi\""));
    // A reset, a timeout, a superseded and a disconnected poll.
    app.get("/api/poll?client_id=a&room=m&last_message_id=x")
        .await;
    app.get("/api/poll?client_id=a&room=quiet&timeout=5").await;
    let first = app.spawn_poll("client_id=b&room=m").await;
    let second = app.spawn(get("/api/poll?client_id=b&room=m"));
    assert!(first.await.unwrap().json.to_string().contains("superseded"));
    app.until_held(1).await;
    let delete = Request::delete("/api/client/b")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.call(delete).await.status, StatusCode::OK);
    assert!(second
        .await
        .unwrap()
        .json
        .to_string()
        .contains("disconnected"));

    // A search.
    assert_eq!(app.get("/api/search?q=hi").await.status, StatusCode::OK);

    let metrics = app.call_raw(get("/metrics")).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.text();
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
        "chat_search_seconds_count 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}
