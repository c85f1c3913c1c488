//! Several real server processes sharing rooms through one private Redis: polls answered by sends
//! on another instance, cursors that work on every instance, cluster-wide stats, a Redis outage
//! and an instance killed while clients poll it.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::common::{
    cluster::Cluster,
    eventually,
    process::{client, get_json, ids, poll, send, until_held},
};

#[tokio::test]
async fn a_poll_held_on_one_instance_is_answered_by_a_send_on_the_other() {
    let cluster = Cluster::start();
    let client = client();
    let base_a = cluster.a.url("");
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { poll(&client, &base_a, "client_id=c1&room=across&timeout=30").await }
    });
    until_held(&client, &cluster.a, 1).await;
    let id = send(&client, &cluster.b.url(""), "across", "from b").await;
    let answer = waiting.await.unwrap().unwrap();
    assert_eq!(answer["status"], "success");
    assert_eq!(ids(&answer["messages"]), [id]);
    assert_eq!(answer["messages"][0]["text"], "from b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_alternating_instances_sees_a_burst_of_1000_once_each_in_order() {
    let cluster = Cluster::start();
    let client = client();
    let bases = [cluster.a.url(""), cluster.b.url("")];

    // The first poll (no cursor) is held on A before the burst starts.
    let first = tokio::spawn({
        let (client, base) = (client.clone(), bases[0].clone());
        async move { poll(&client, &base, "client_id=hopper&room=burst&timeout=30").await }
    });
    until_held(&client, &cluster.a, 1).await;

    // Two senders, one per instance, 500 messages each, as fast as they are acknowledged.
    let senders: Vec<_> = bases
        .iter()
        .enumerate()
        .map(|(instance, base)| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                let mut sent = Vec::new();
                for i in 0..500 {
                    sent.push(send(&client, &base, "burst", &format!("{instance}:{i}")).await);
                }
                sent
            })
        })
        .collect();

    let mut received: Vec<Value> = Vec::new();
    let answer = first.await.unwrap().unwrap();
    received.extend(answer["messages"].as_array().unwrap().iter().cloned());
    let mut polls = 1;
    while received.len() < 1_000 {
        let cursor = received.last().unwrap()["id"].as_str().unwrap().to_owned();
        let base = &bases[polls % 2];
        polls += 1;
        let query = format!("client_id=hopper&room=burst&timeout=10&last_message_id={cursor}");
        let answer = poll(&client, base, &query).await.unwrap();
        assert!(
            answer.get("reset").is_none(),
            "cursor lost on {base}: {answer}"
        );
        assert_eq!(answer["status"], "success", "{answer}");
        received.extend(answer["messages"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(received.len(), 1_000);
    let received_ids: Vec<String> = ids(&Value::Array(received.clone()));
    assert_eq!(
        received_ids.iter().collect::<HashSet<_>>().len(),
        1_000,
        "no duplicates"
    );
    for (instance, sender) in senders.into_iter().enumerate() {
        let sent = sender.await.unwrap();
        let prefix = format!("{instance}:");
        let from_this_sender: Vec<String> = received
            .iter()
            .filter(|m| m["text"].as_str().unwrap().starts_with(&prefix))
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            from_this_sender, sent,
            "each sender's messages, in its order"
        );
    }
    // Both instances keep the room in the same order, the order the client saw.
    for base in &bases {
        let history = get_json(&client, &format!("{base}/api/history?room=burst&limit=100")).await;
        assert_eq!(ids(&history["messages"]), received_ids[900..]);
    }
}

#[tokio::test]
async fn stats_count_messages_rooms_and_clients_of_every_instance() {
    let cluster = Cluster::start();
    let client = client();
    let mut first_ids = Vec::new();
    for (server, room, count) in [(&cluster.a, "on-a", 3), (&cluster.b, "on-b", 2)] {
        let ids: Vec<String> = {
            let mut ids = Vec::new();
            for i in 0..count {
                ids.push(send(&client, &server.url(""), room, &format!("m{i}")).await);
            }
            ids
        };
        first_ids.push((server, room, ids[0].clone()));
    }
    // One client polls each instance (answered at once: their cursors are behind).
    for (index, (server, room, cursor)) in first_ids.iter().enumerate() {
        let query = format!("client_id=reader{index}&room={room}&last_message_id={cursor}");
        let answer = poll(&client, &server.url(""), &query).await.unwrap();
        assert_eq!(answer["status"], "success");
    }
    for server in [&cluster.a, &cluster.b] {
        eventually(
            Duration::from_secs(10),
            "stats cover both instances",
            || async {
                let stats = get_json(&client, &server.url("/api/stats")).await;
                stats["total_messages"] == 5
                    && stats["rooms"] == json!(["on-a", "on-b"])
                    && stats["active_clients"] == 2
            },
        )
        .await;
    }
}

#[tokio::test]
async fn a_client_disconnected_on_one_instance_has_its_polls_answered_on_the_other() {
    let cluster = Cluster::start();
    let client = client();
    let held = tokio::spawn({
        let (client, base) = (client.clone(), cluster.a.url(""));
        async move { poll(&client, &base, "client_id=leaver&room=bye&timeout=30").await }
    });
    until_held(&client, &cluster.a, 1).await;
    // Instances share which clients are active once a second.
    eventually(Duration::from_secs(10), "B knows the client", || async {
        get_json(&client, &cluster.b.url("/api/stats")).await["active_clients"] == 1
    })
    .await;

    let delete = || async {
        let response = client
            .delete(cluster.b.url("/api/client/leaver"))
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    let (status, body) = delete().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "disconnected");
    let answer = held.await.unwrap().unwrap();
    assert_eq!(answer["status"], "disconnected", "{answer}");
    let (status, body) = delete().await;
    assert_eq!(status, 404, "now unknown everywhere: {body}");
}

#[tokio::test]
async fn a_redis_outage_fails_sends_answers_polls_and_recovers_without_loss() {
    let mut cluster = Cluster::start();
    let client = client();
    let (base_a, base_b) = (cluster.a.url(""), cluster.b.url(""));
    let before = send(&client, &base_b, "outage", "before").await;

    let held = tokio::spawn({
        let (client, base) = (client.clone(), base_a.clone());
        let query = format!("client_id=c1&room=outage&timeout=60&last_message_id={before}");
        async move { poll(&client, &base, &query).await }
    });
    until_held(&client, &cluster.a, 1).await;
    let started = Instant::now();
    cluster.redis.kill();

    // The held poll is answered (timeout-shaped) long before its 60 s.
    let answer = held.await.unwrap().unwrap();
    assert_eq!(
        answer,
        json!({"messages": [], "status": "timeout", "timeout": true})
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    let refused = client
        .post(format!("{base_a}/api/send"))
        .json(&json!({"sender": "tester", "text": "during", "room": "outage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["status"], "error");
    for base in [&base_a, &base_b] {
        let ready = client.get(format!("{base}/health/ready")).send().await;
        assert_eq!(ready.unwrap().status(), 503, "{base} is not ready");
    }

    cluster.redis.restart();
    for base in [&base_a, &base_b] {
        eventually(Duration::from_secs(20), "ready again", || async {
            let ready = client.get(format!("{base}/health/ready")).send().await;
            ready.is_ok_and(|ready| ready.status() == 200)
        })
        .await;
    }
    let after = send(&client, &base_a, "outage", "after").await;
    let query = format!("client_id=c1&room=outage&last_message_id={before}");
    let answer = poll(&client, &base_b, &query).await.unwrap();
    assert_eq!(ids(&answer["messages"]), std::slice::from_ref(&after));
    for base in [&base_a, &base_b] {
        let history = get_json(&client, &format!("{base}/api/history?room=outage")).await;
        assert_eq!(ids(&history["messages"]), [before.clone(), after.clone()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_of_a_killed_instance_carry_on_on_the_other_without_loss() {
    let cluster = Cluster::start();
    let client = client();
    let (base_a, base_b) = (cluster.a.url(""), cluster.b.url(""));
    let start = send(&client, &base_b, "failover", "start").await;

    // A reader polls A (falling back to B once A is gone) while a writer sends to B.
    let reader = tokio::spawn({
        let (client, bases) = (client.clone(), [base_a.clone(), base_b.clone()]);
        async move {
            let mut cursor = start;
            let mut received = Vec::new();
            let mut instance = 0;
            while received.len() < 300 {
                let query =
                    format!("client_id=reader&room=failover&timeout=10&last_message_id={cursor}");
                match poll(&client, &bases[instance], &query).await {
                    Ok(answer) => {
                        assert!(answer.get("reset").is_none(), "{answer}");
                        let got = ids(&answer["messages"]);
                        if let Some(last) = got.last() {
                            cursor = last.clone();
                        }
                        received.extend(got);
                    }
                    // The instance died under the poll: retry on the other one.
                    Err(_) => instance = 1,
                }
            }
            received
        }
    });
    until_held(&client, &cluster.a, 1).await;
    let mut sent = Vec::new();
    for i in 0..100 {
        sent.push(send(&client, &base_b, "failover", &format!("m{i}")).await);
    }
    cluster.a.kill();
    for i in 100..300 {
        sent.push(send(&client, &base_b, "failover", &format!("m{i}")).await);
    }
    let received = reader.await.unwrap();
    assert_eq!(received, sent);
}

#[tokio::test]
async fn a_disconnect_answered_unknown_ends_nothing_on_any_instance() {
    let cluster = Cluster::start();
    let client = client();
    let held = tokio::spawn({
        let (client, base) = (client.clone(), cluster.a.url(""));
        async move { poll(&client, &base, "client_id=early&room=early&timeout=30").await }
    });
    until_held(&client, &cluster.a, 1).await;
    // At once, before A has told Redis of the client: B does not know it, says so, and tells
    // nobody to end it.
    let response = client
        .delete(cluster.b.url("/api/client/early"))
        .send()
        .await
        .unwrap();
    if response.status() == 200 {
        // A shared its clients in between (once a second): nothing to show here this time.
        return;
    }
    assert_eq!(response.status(), 404);
    // A disconnection told through Redis would reach A before this message does.
    send(&client, &cluster.b.url(""), "early", "still held").await;
    let answer = held.await.unwrap().unwrap();
    assert_eq!(answer["status"], "success", "{answer}");
    assert_eq!(answer["messages"][0]["text"], "still held");
}
