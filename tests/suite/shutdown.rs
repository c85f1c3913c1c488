//! Graceful shutdown of the real binary: on SIGTERM with 1,000 polls held it answers every one
//! of them timeout-shaped, finishes in-flight work and exits 0 within 2 seconds.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::{
    eventually,
    process::{held_polls, Server},
};

const HELD: u64 = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_1000_held_polls_and_exits_0_within_2_seconds() {
    // A thousand guests on one address: past the default cap of one address.
    let mut server = Server::start_with(
        "memory",
        "127.0.0.1:0",
        &["--max-polls-per-address", "2000"],
    );
    // One connection per poll, as browsers and curl would hold them.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let polls: Vec<_> = (0..HELD)
        .map(|i| {
            let request = client.get(server.url(&format!(
                "/api/poll?client_id=c{i}&room=shutdown&timeout=60"
            )));
            tokio::spawn(async move { request.send().await?.json::<Value>().await })
        })
        .collect();
    let all_held = || async { held_polls(&client, &server).await == HELD };
    eventually(Duration::from_secs(30), "all polls are held", all_held).await;

    let stopping = Instant::now();
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::task::spawn_blocking(move || {
        let status = server.child.wait().unwrap();
        (status, server)
    })
    .await
    .unwrap()
    .0;
    let took = stopping.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    for poll in polls {
        let answer = poll.await.unwrap().expect("every held poll is answered");
        assert_eq!(answer["status"], "timeout", "{answer}");
        assert_eq!(answer["timeout"], true);
    }
}
