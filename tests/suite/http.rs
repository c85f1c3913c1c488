//! The REST API over HTTP, through the whole app (`tower::ServiceExt::oneshot`): every
//! endpoint, the curl walkthroughs of the original spec, and every class of bad input.

use std::time::Duration;

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use longpoll_chat::server::{BrokerConfig, HttpConfig};
use serde_json::json;

use crate::common::app::{call, get, post, Answer, TestApp};

fn texts(answer: &Answer) -> Vec<&str> {
    answer.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn send_answers_sent_with_an_id_and_a_timestamp() {
    let app = TestApp::new().await;
    let answer = app
        .send(json!({"sender": "alice", "text": "hi", "room": "send-shape"}))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["status"], "sent");
    let id = answer.json["message_id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert!(answer.json["timestamp"].as_f64().unwrap() > 1.7e9);
}

#[tokio::test]
async fn send_without_room_goes_to_general() {
    let app = TestApp::new().await;
    app.send(json!({"sender": "bob", "text": "to general"}))
        .await;
    let history = app.get("/api/history").await;
    assert_eq!(history.json["room"], "general");
    assert_eq!(texts(&history), ["to general"]);
}

#[tokio::test]
async fn one_waiting_client_is_woken_by_a_send() {
    let app = TestApp::new().await;
    let poll = app.spawn_poll("client_id=c1&room=one").await;
    let id = app.send_ok("one", "wake up").await;
    let answer = poll.await.unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["status"], "success");
    assert_eq!(answer.json["timeout"], false);
    let message = &answer.json["messages"][0];
    assert_eq!(message["id"], id.as_str());
    assert_eq!(message["sender"], "alice");
    assert_eq!(message["text"], "wake up");
    assert_eq!(message["room"], "one");
    assert!(message["timestamp"].is_f64());
}

#[tokio::test]
async fn five_concurrent_polls_are_all_woken_by_one_send() {
    let app = TestApp::new().await;
    let mut polls = Vec::new();
    for i in 0..5 {
        polls.push(app.spawn_poll(&format!("client_id=c{i}&room=five")).await);
    }
    app.send_ok("five", "to all").await;
    for poll in polls {
        assert_eq!(texts(&poll.await.unwrap()), ["to all"]);
    }
}

#[tokio::test(start_paused = true)]
async fn rooms_are_isolated() {
    let app = TestApp::new().await;
    let in_a = app.spawn_poll("client_id=c1&room=iso-a&timeout=5").await;
    let in_b = app.spawn_poll("client_id=c2&room=iso-b").await;
    app.send_ok("iso-b", "only b").await;
    assert_eq!(texts(&in_b.await.unwrap()), ["only b"]);
    let answer = in_a.await.unwrap();
    assert_eq!(
        answer.json,
        json!({"messages": [], "status": "timeout", "timeout": true})
    );
}

#[tokio::test(start_paused = true)]
async fn a_poll_times_out_with_exactly_the_documented_body() {
    let app = TestApp::new().await;
    let answer = app
        .get("/api/poll?client_id=c1&room=timeout&timeout=5")
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.json,
        json!({"messages": [], "status": "timeout", "timeout": true})
    );
}

#[tokio::test]
async fn a_cursor_catches_up_and_an_unknown_cursor_resets() {
    let app = TestApp::new().await;
    let first = app.send_ok("cursor", "a").await;
    app.send_ok("cursor", "b").await;
    app.send_ok("cursor", "c").await;
    let answer = app
        .get(&format!(
            "/api/poll?client_id=c1&room=cursor&last_message_id={first}"
        ))
        .await;
    assert_eq!(texts(&answer), ["b", "c"]);
    assert!(answer.json.get("reset").is_none());
    let answer = app
        .get("/api/poll?client_id=c1&room=cursor&last_message_id=nope")
        .await;
    assert_eq!(answer.json["reset"], true);
    assert_eq!(texts(&answer), ["a", "b", "c"]);
}

#[tokio::test]
async fn a_newer_poll_supersedes_the_older_one() {
    let app = TestApp::new().await;
    let older = app.spawn_poll("client_id=twice&room=sup").await;
    // The older poll can only end once the newer one has registered.
    let newer = app.spawn(get("/api/poll?client_id=twice&room=sup"));
    let answer = older.await.unwrap();
    assert_eq!(answer.json["status"], "superseded");
    app.send_ok("sup", "x").await;
    assert_eq!(texts(&newer.await.unwrap()), ["x"]);
}

#[tokio::test]
async fn delete_client_answers_its_polls_and_404s_when_unknown() {
    let app = TestApp::new().await;
    let poll = app.spawn_poll("client_id=leaver&room=del").await;
    let delete = |uri: &str| Request::delete(uri).body(Body::empty()).unwrap();
    let answer = app.call(delete("/api/client/leaver")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["status"], "disconnected");
    assert_eq!(poll.await.unwrap().json["status"], "disconnected");
    let answer = app.call(delete("/api/client/leaver")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(
        answer.json,
        json!({"status": "error", "detail": "unknown client_id"})
    );
}

#[tokio::test]
async fn history_is_oldest_first_and_limited() {
    let app = TestApp::new().await;
    for i in 0..25 {
        app.send_ok("hist", &format!("m{i}")).await;
    }
    let answer = app.get("/api/history?room=hist").await;
    assert_eq!(answer.json["room"], "hist");
    let expected: Vec<String> = (5..25).map(|i| format!("m{i}")).collect();
    assert_eq!(texts(&answer), expected);
    let answer = app.get("/api/history?room=hist&limit=2").await;
    assert_eq!(texts(&answer), ["m23", "m24"]);
    let answer = app.get("/api/history?room=never-used").await;
    assert_eq!(answer.json["messages"], json!([]));
}

#[tokio::test]
async fn stats_and_health_report_the_server() {
    let app = TestApp::new().await;
    app.send_ok("stats-room", "x").await;
    let poll = app.spawn_poll("client_id=s1&room=stats-wait").await;
    let answer = app.get("/api/stats").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["active_clients"], 1);
    assert_eq!(answer.json["total_messages"], 1);
    assert_eq!(answer.json["rooms"], json!(["stats-room", "stats-wait"]));
    assert!(answer.json["timestamp"].is_f64());
    poll.abort();
    let health = app.get("/health").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json["status"], "ok");
}

#[tokio::test(start_paused = true)]
async fn a_poll_past_the_cap_gets_503_with_retry_after_at_once() {
    let config = BrokerConfig {
        max_held_polls: 1,
        ..BrokerConfig::default()
    };
    let app = TestApp::with(config, HttpConfig::default()).await;
    let held = app.spawn_poll("client_id=first&room=cap").await;
    let started = tokio::time::Instant::now();
    let response = app.get("/api/poll?client_id=second&room=cap").await;
    assert_eq!(started.elapsed(), Duration::ZERO, "refused without waiting");
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers[header::RETRY_AFTER], "2");
    let answer = app.get("/api/poll?client_id=second&room=cap").await;
    assert_eq!(answer.json["detail"], "too many held polls, retry later");
    app.send_ok("cap", "the held poll still works").await;
    assert_eq!(texts(&held.await.unwrap()), ["the held poll still works"]);
}

#[tokio::test]
async fn api_answers_are_json_and_never_cached() {
    let app = TestApp::new().await;
    // A poll with a cursor the room does not have is answered at once (with a reset).
    for uri in [
        "/api/stats",
        "/api/poll?client_id=c&last_message_id=unknown",
    ] {
        let response = app.get(uri).await;
        assert_eq!(response.headers[header::CACHE_CONTROL], "no-store", "{uri}");
        let answer = app.get(uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        assert_eq!(answer.content_type, "application/json", "{uri}");
    }
}

async fn assert_rejected(answer: Answer, status: StatusCode, detail_contains: &str) {
    assert_eq!(answer.status, status, "{}", answer.json);
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(answer.json["status"], "error");
    let detail = answer.json["detail"].as_str().unwrap();
    assert!(
        detail.contains(detail_contains),
        "{detail:?} lacks {detail_contains:?}"
    );
}

#[tokio::test]
async fn bad_poll_parameters_are_rejected_with_a_clear_400() {
    let app = TestApp::new().await;
    let bad = StatusCode::BAD_REQUEST;
    let cases = [
        ("/api/poll", "client_id is required"),
        ("/api/poll?room=x", "client_id is required"),
        ("/api/poll?client_id=", "client_id must be"),
        ("/api/poll?client_id=a%20b", "client_id must be"),
        (
            "/api/poll?client_id=c&timeout=4",
            "timeout must be an integer from 5 to 60",
        ),
        (
            "/api/poll?client_id=c&timeout=61",
            "timeout must be an integer from 5 to 60",
        ),
        (
            "/api/poll?client_id=c&timeout=ten",
            "timeout must be an integer from 5 to 60",
        ),
        (
            "/api/poll?client_id=c&timeout=",
            "timeout must be an integer from 5 to 60",
        ),
        (
            "/api/poll?client_id=c&room=bad%20room",
            "room must be 1-64 characters",
        ),
        ("/api/poll?client_id=c&client_id=d", "duplicate field"),
        (
            "/api/history?limit=0",
            "limit must be an integer from 1 to 100",
        ),
        (
            "/api/history?limit=101",
            "limit must be an integer from 1 to 100",
        ),
        (
            "/api/history?limit=x",
            "limit must be an integer from 1 to 100",
        ),
        ("/api/history?room=%2F", "room must be"),
    ];
    for (uri, detail) in cases {
        assert_rejected(app.get(uri).await, bad, detail).await;
    }
    assert_eq!(
        app.broker.stats(|_| true).await.active_clients,
        0,
        "bad polls register nobody"
    );
}

#[tokio::test]
async fn bad_send_bodies_are_rejected_and_store_nothing() {
    let app = TestApp::new().await;
    let bad = StatusCode::BAD_REQUEST;
    let long_text = "x".repeat(4_001);
    let cases = [
        (json!({"text": "hi"}), "missing field `sender`"),
        (json!({"sender": "a"}), "missing field `text`"),
        (
            json!({"sender": "", "text": "hi"}),
            "sender must not be empty",
        ),
        (
            json!({"sender": "a", "text": "  "}),
            "text must not be empty",
        ),
        (json!({"sender": 5, "text": "hi"}), "invalid type"),
        (json!({"sender": "a", "text": null}), "invalid type"),
        (json!({"sender": "a", "text": ["x"]}), "invalid type"),
        (
            json!({"sender": "a", "text": long_text}),
            "at most 4000 characters",
        ),
        (
            json!({"sender": "a", "text": "hi", "room": "no spaces"}),
            "room must be",
        ),
        (
            json!({"sender": "a", "text": "hi", "room": 7}),
            "invalid type",
        ),
        (json!(["sender", "text"]), "invalid type: sequence"),
        (json!("text"), "invalid type: string"),
    ];
    for (body, detail) in cases {
        assert_rejected(app.send(body).await, bad, detail).await;
    }
    let malformed = app
        .call(post("/api/send", Some("application/json"), "{\"sender\":"))
        .await;
    assert_rejected(malformed, bad, "").await;
    let no_type = app
        .call(post("/api/send", None, r#"{"sender":"a","text":"b"}"#))
        .await;
    assert_rejected(
        no_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "application/json",
    )
    .await;
    let wrong_type = app
        .call(post(
            "/api/send",
            Some("text/plain"),
            r#"{"sender":"a","text":"b"}"#,
        ))
        .await;
    assert_rejected(
        wrong_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "application/json",
    )
    .await;
    let huge = json!({"sender": "a", "text": "x".repeat(100_000)}).to_string();
    let too_large = app
        .call(post("/api/send", Some("application/json"), huge))
        .await;
    assert_rejected(too_large, StatusCode::PAYLOAD_TOO_LARGE, "too large").await;
    assert_eq!(
        app.broker.stats(|_| true).await.total_messages,
        0,
        "nothing was stored"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = TestApp::new().await;
    for path in ["/api", "/api/", "/api/nope", "/api/poll/extra"] {
        assert_rejected(app.get(path).await, StatusCode::NOT_FOUND, path).await;
    }
    assert_rejected(
        app.get("/api/send").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method",
    )
    .await;
    let delete_bad = Request::delete("/api/client/bad%20id")
        .body(Body::empty())
        .unwrap();
    assert_rejected(
        app.call(delete_bad).await,
        StatusCode::BAD_REQUEST,
        "client_id",
    )
    .await;
    let no_id = Request::delete("/api/client/").body(Body::empty()).unwrap();
    let answer = app.call(no_id).await;
    assert!(answer.status.is_client_error());
    assert_eq!(answer.json["status"], "error");
}

/// The spec's loop: a client passes the id of the last message it received and sees all of a
/// 500-message burst exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_polling_in_a_loop_sees_a_burst_of_500_once_in_order() {
    let app = TestApp::new().await;
    let router = app.router.clone();
    let poller = tokio::spawn(async move {
        let mut cursor = String::new();
        let mut seen: Vec<String> = Vec::new();
        while seen.len() < 500 {
            let uri = format!("/api/poll?client_id=looper&room=burst500&last_message_id={cursor}");
            let answer = tokio::time::timeout(Duration::from_secs(30), call(&router, get(&uri)))
                .await
                .unwrap();
            assert_eq!(answer.json["status"], "success", "{}", answer.json);
            assert!(answer.json.get("reset").is_none());
            for message in answer.json["messages"].as_array().unwrap() {
                seen.push(message["text"].as_str().unwrap().to_owned());
                cursor = message["id"].as_str().unwrap().to_owned();
            }
        }
        seen
    });
    app.until_held(1).await;
    for i in 0..500 {
        app.send_ok("burst500", &format!("m{i}")).await;
    }
    let seen = poller.await.unwrap();
    let expected: Vec<String> = (0..500).map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected);
}
