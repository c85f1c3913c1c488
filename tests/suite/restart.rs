//! Real server processes on a SQLite file: killed with SIGKILL right after acknowledging
//! messages, then started again. Nothing acknowledged may be lost, duplicated or reordered,
//! and clients polling with cursors carry on across the restart.

use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::common::process::{client, get_json, ids, send, sqlite, Server};

#[tokio::test]
async fn acknowledged_messages_survive_sigkill_with_their_ids_order_and_cursors() {
    let dir = TempDir::new().unwrap();
    let client = client();
    let server = Server::start(&sqlite(&dir), "127.0.0.1:0");
    let base = server.url("");
    let mut acked = Vec::new();
    for i in 0..60 {
        acked.push(send(&client, &base, "durable", &format!("m{i}")).await);
    }
    // Killed right after the last acknowledgement: no chance to flush anything more.
    let addr = server.kill();

    let server = Server::start(&sqlite(&dir), &addr.to_string());
    let history = get_json(&client, &server.url("/api/history?room=durable&limit=100")).await;
    assert_eq!(ids(&history["messages"]), acked);

    // A client that had received up to m19 continues exactly after it.
    let poll = get_json(
        &client,
        &server.url(&format!(
            "/api/poll?client_id=c1&room=durable&last_message_id={}",
            acked[19]
        )),
    )
    .await;
    assert_eq!(poll["status"], "success");
    assert!(poll.get("reset").is_none());
    assert_eq!(ids(&poll["messages"]), acked[20..]);

    let stats = get_json(&client, &server.url("/api/stats")).await;
    assert_eq!(stats["total_messages"], 60);
    let after = send(&client, &server.url(""), "durable", "after restart").await;
    let poll = get_json(
        &client,
        &server.url(&format!(
            "/api/poll?client_id=c1&room=durable&last_message_id={}",
            acked[59]
        )),
    )
    .await;
    assert_eq!(ids(&poll["messages"]), [after]);
}

/// Polls `room` in a loop with its cursor, retrying while the server is away, until it has
/// seen `expected` messages; returns their ids in the order received.
async fn poll_loop(base: String, client_id: String, start: String, expected: usize) -> Vec<String> {
    let client = client();
    let mut cursor = start;
    let mut seen = Vec::new();
    let mut retry_delay = Duration::from_millis(20);
    while seen.len() < expected {
        let url = format!(
            "{base}/api/poll?client_id={client_id}&room=restart&timeout=5&last_message_id={cursor}"
        );
        let answer = match client.get(url).send().await {
            Ok(response) => response.json::<Value>().await,
            Err(error) => Err(error),
        };
        let Ok(answer) = answer else {
            // The server is restarting: back off a little, as a real client would.
            tokio::time::sleep(retry_delay).await;
            retry_delay = (retry_delay * 2).min(Duration::from_millis(200));
            continue;
        };
        retry_delay = Duration::from_millis(20);
        assert!(answer.get("reset").is_none(), "cursor lost: {answer}");
        for id in ids(&answer["messages"]) {
            cursor.clone_from(&id);
            seen.push(id);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_polling_through_a_restart_reconnect_and_lose_nothing() {
    let dir = TempDir::new().unwrap();
    let client = client();
    let server = Server::start(&sqlite(&dir), "127.0.0.1:0");
    let base = server.url("");
    let start = send(&client, &base, "restart", "start").await;

    let pollers: Vec<_> = (0..3)
        .map(|i| tokio::spawn(poll_loop(base.clone(), format!("p{i}"), start.clone(), 200)))
        .collect();
    let mut acked = Vec::new();
    for i in 0..100 {
        acked.push(send(&client, &base, "restart", &format!("before {i}")).await);
    }
    let addr = server.kill();
    let server = Server::start(&sqlite(&dir), &addr.to_string());
    for i in 0..100 {
        acked.push(send(&client, &server.url(""), "restart", &format!("after {i}")).await);
    }
    for poller in pollers {
        let seen = tokio::time::timeout(Duration::from_secs(60), poller)
            .await
            .expect("a poller stalled")
            .unwrap();
        assert_eq!(seen, acked);
    }
}
