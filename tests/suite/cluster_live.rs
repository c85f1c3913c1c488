//! Presence and typing across real instances sharing one private Redis: who streams through
//! one instance is online on the other, typing there reaches the other's streams and ends with
//! the message, and the people of a killed instance are gone from the other's `online` soon
//! after its grace period.

use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{
    cluster::Cluster,
    process::{call, client, sign_up_and_in, until_held, Server},
};

/// A short grace period, so that a leave is final within the test's patience.
const GRACE_SECS: u64 = 2;
const ROOM: &str = "lobby";

/// Two instances on one Redis, with a short presence grace period.
fn start_cluster() -> Cluster {
    Cluster::start_with(&["--presence-grace-secs", &GRACE_SECS.to_string()])
}

/// Holds a stream of [`ROOM`] on `server` as `token`'s person, knowing live version `known`;
/// the room's `live` in the answer (`Null` when only the timeout answered).
async fn stream_live(
    client: &Client,
    server: &Server,
    token: &str,
    client_id: &str,
    known: u64,
) -> Value {
    let body = json!({
        "client_id": client_id,
        "timeout": 5,
        "rooms": [{"room": ROOM, "live_version": known}],
    });
    let url = server.url("/api/stream");
    let (status, answer) = call(client, Method::POST, url, Some(token), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["rooms"][0]["live"].clone()
}

/// Streams [`ROOM`] on `server` until its live state satisfies `shows`, each stream held until
/// the state changes; fails after 20 seconds.
async fn until_live(
    client: &Client,
    server: &Server,
    token: &str,
    what: &str,
    shows: impl Fn(&Value) -> bool,
) -> Value {
    let watch = async {
        let mut known = 0;
        loop {
            let live = stream_live(client, server, token, "watcher", known).await;
            if live.is_null() {
                continue;
            }
            if shows(&live) {
                return live;
            }
            known = live["version"].as_u64().unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(20), watch)
        .await
        .unwrap_or_else(|_| panic!("the room never showed {what}"))
}

fn names(live: &Value, field: &str) -> Vec<String> {
    (live[field].as_array().unwrap().iter())
        .map(|name| name.as_str().unwrap().to_owned())
        .collect()
}

/// Holds a stream of [`ROOM`] for `token`'s person on `server` (no live state asked: being
/// there is enough to be online) until `timeout`.
fn attend(
    client: &Client,
    server: &Server,
    token: &str,
    timeout: u32,
) -> tokio::task::JoinHandle<()> {
    let (client, url, token) = (client.clone(), server.url("/api/stream"), token.to_owned());
    tokio::spawn(async move {
        let body = json!({"client_id": "present", "timeout": timeout, "rooms": [{"room": ROOM}]});
        // The server may be killed under it.
        let _ = client.post(url).bearer_auth(token).json(&body).send().await;
    })
}

/// Alice holds a stream on A; Bob, on B, waits until his streams show her online. Their
/// tokens, the live state B showed, and Alice's stream.
async fn alice_streams_on_a_seen_by_bob_on_b(
    cluster: &Cluster,
    client: &Client,
) -> (String, String, Value, tokio::task::JoinHandle<()>) {
    let alice = sign_up_and_in(client, &cluster.a, "alice").await;
    let bob = sign_up_and_in(client, &cluster.a, "bob").await;
    let present = attend(client, &cluster.a, &alice, 60);
    until_held(client, &cluster.a, 1).await;
    let live = until_live(client, &cluster.b, &bob, "alice online", |live| {
        names(live, "online").contains(&"alice".to_owned())
    })
    .await;
    (alice, bob, live, present)
}

#[tokio::test]
async fn someone_streaming_through_one_instance_is_online_and_typing_on_the_other() {
    let cluster = start_cluster();
    let client = client();
    let (alice, bob, live, _present) = alice_streams_on_a_seen_by_bob_on_b(&cluster, &client).await;
    assert_eq!(names(&live, "online"), ["alice", "bob"]);

    // The same through `GET /online` on B.
    let url = cluster.b.url(&format!("/api/rooms/{ROOM}/online"));
    let (status, online) = call(&client, Method::GET, url, Some(&bob), None).await;
    assert_eq!(status, StatusCode::OK, "{online}");
    assert_eq!(names(&online, "online"), ["alice", "bob"]);

    // Alice types on A: B's streams show it.
    let url = cluster.a.url(&format!("/api/rooms/{ROOM}/typing"));
    let (status, answer) = call(&client, Method::POST, url, Some(&alice), None).await;
    assert!(status.is_success(), "{status} {answer}");
    until_live(&client, &cluster.b, &bob, "alice typing", |live| {
        names(live, "typing") == ["alice"]
    })
    .await;

    // Her message, sent through A, ends it on B at once (long before the signal would run out).
    let url = cluster.a.url("/api/send");
    let body = json!({"room": ROOM, "text": "hello"});
    let (status, answer) = call(&client, Method::POST, url, Some(&alice), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let shown = tokio::time::timeout(
        Duration::from_secs(2),
        until_live(&client, &cluster.b, &bob, "nobody typing", |live| {
            names(live, "typing").is_empty()
        }),
    )
    .await;
    assert!(shown.is_ok(), "typing did not end with the message");
}

#[tokio::test]
async fn the_people_of_an_instance_that_dies_are_gone_from_the_other_after_a_while() {
    let cluster = start_cluster();
    let client = client();
    let (_, bob, _, _present) = alice_streams_on_a_seen_by_bob_on_b(&cluster, &client).await;

    // A dies without a word: B forgets alice once what A said runs out.
    cluster.a.kill();
    let live = until_live(&client, &cluster.b, &bob, "alice gone", |live| {
        !names(live, "online").contains(&"alice".to_owned())
    })
    .await;
    assert_eq!(names(&live, "online"), ["bob"]);
}
