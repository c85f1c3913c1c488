//! `Broker::poll`: wake-ups, timeouts, cursors, offsets from the store, supersession, caps,
//! shutdown.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_send_wakes_every_poll_held_on_the_room_at_once() {
    let broker = broker(100).await;
    let first = spawn_poll(&broker, poll_request("c1", "wake", None)).await;
    let second = spawn_poll(&broker, poll_request("c2", "wake", None)).await;
    let started = Instant::now();
    let receipt = send(&broker, "wake", "hello").await;
    for task in [first, second] {
        let response = task.await.unwrap();
        assert_eq!(response.status, PollStatus::Success);
        assert_eq!(texts(&response), ["hello"]);
        assert_eq!(response.messages[0].id, receipt.message_id);
    }
    assert_eq!(started.elapsed(), Duration::ZERO, "no timer was involved");
}

#[tokio::test(start_paused = true)]
async fn polls_woken_by_one_send_share_one_answer_serialized_once() {
    let broker = broker(100).await;
    let first = spawn_poll(&broker, poll_request("c1", "shared", None)).await;
    let second = spawn_poll(&broker, poll_request("c2", "shared", None)).await;
    send(&broker, "shared", "hello").await;
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    let (first_json, second_json) = (first.to_json().unwrap(), second.to_json().unwrap());
    assert_eq!(
        first_json.as_ptr(),
        second_json.as_ptr(),
        "one serialization"
    );
    let parsed: PollResponse = serde_json::from_slice(&first_json).unwrap();
    assert_eq!(texts(&parsed), ["hello"]);
    assert_eq!(parsed.messages[0].id, first.messages[0].id);
    assert_eq!(parsed.status, PollStatus::Success);
}

#[tokio::test(start_paused = true)]
async fn a_shared_answer_is_not_reused_once_the_room_has_more() {
    let broker = broker(100).await;
    let cursor = send(&broker, "grows", "m0").await.message_id.to_string();
    send(&broker, "grows", "m1").await;
    let read = |client| broker.poll(poll_request(client, "grows", Some(&cursor)));
    assert_eq!(texts(&read("c1").await.unwrap()), ["m1"]);
    assert_eq!(texts(&read("c2").await.unwrap()), ["m1"]);
    send(&broker, "grows", "m2").await;
    assert_eq!(texts(&read("c3").await.unwrap()), ["m1", "m2"]);
}

#[tokio::test(start_paused = true)]
async fn a_poll_times_out_after_its_timeout_and_not_before() {
    let broker = broker(100).await;
    let started = Instant::now();
    let mut request = poll_request("c1", "quiet", None);
    request.timeout = Duration::from_secs(7);
    let response = broker.poll(request).await.unwrap();
    assert_eq!(response, PollResponse::empty(PollStatus::Timeout));
    assert_eq!(started.elapsed(), Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn a_cursor_behind_the_room_gets_the_missed_messages_at_once() {
    let broker = broker(1_000).await;
    let first = send(&broker, "catchup", "m0").await;
    for i in 1..=150 {
        send(&broker, "catchup", &format!("m{i}")).await;
    }
    let cursor = first.message_id.to_string();
    let response = broker
        .poll(poll_request("c1", "catchup", Some(&cursor)))
        .await
        .unwrap();
    assert_eq!(response.messages.len(), MAX_MESSAGES_PER_POLL);
    assert_eq!(response.messages[0].text, "m1");
    let cursor = response.messages.last().unwrap().id.to_string();
    let rest = broker
        .poll(poll_request("c1", "catchup", Some(&cursor)))
        .await
        .unwrap();
    assert_eq!(rest.messages.len(), 50);
    assert_eq!(rest.messages.last().unwrap().text, "m150");
    assert!(!rest.reset);
}

#[tokio::test(start_paused = true)]
async fn a_poll_without_cursor_waits_for_the_next_message() {
    let broker = broker(100).await;
    send(&broker, "next", "old").await;
    let task = spawn_poll(&broker, poll_request("c1", "next", None)).await;
    send(&broker, "next", "new").await;
    assert_eq!(texts(&task.await.unwrap()), ["new"]);
}

#[tokio::test(start_paused = true)]
async fn an_offset_the_room_already_has_is_ignored() {
    let broker = broker(100).await;
    let rooms = sink(&broker);
    let first = stored("twice", "first");
    rooms.committed(first.clone().into(), 0);
    let task = spawn_poll(
        &broker,
        poll_request("c1", "twice", Some(&first.id.to_string())),
    )
    .await;
    rooms.committed(stored("twice", "first again").into(), 0);
    rooms.committed(stored("twice", "second").into(), 1);
    assert_eq!(texts(&task.await.unwrap()), ["second"]);
    assert_eq!(history_texts(&broker, "twice"), ["first", "second"]);
}

#[tokio::test(start_paused = true)]
async fn a_jump_in_offsets_answers_polls_waiting_before_it_with_a_reset() {
    let broker = broker(100).await;
    let rooms = sink(&broker);
    let first = stored("gap", "m0");
    rooms.committed(first.clone().into(), 0);
    let task = spawn_poll(
        &broker,
        poll_request("c1", "gap", Some(&first.id.to_string())),
    )
    .await;
    // Offsets 1..=4 are gone from the store: the poll cannot get them.
    rooms.committed(stored("gap", "m5").into(), 5);
    let response = task.await.unwrap();
    assert!(response.reset);
    assert_eq!(texts(&response), ["m5"]);
}

#[tokio::test(start_paused = true)]
async fn a_rewound_room_resets_waiting_polls_and_starts_over() {
    let broker = broker(100).await;
    let sink = sink(&broker);
    let mut last = None;
    for offset in 0..5 {
        let message = stored("rewind", &format!("m{offset}"));
        sink.committed(message.clone().into(), offset);
        last = Some(message.id.to_string());
    }
    let waiting = spawn_poll(&broker, poll_request("c1", "rewind", last.as_deref())).await;
    sink.rewound("rewind");
    sink.committed(stored("rewind", "again").into(), 2);
    let response = waiting.await.unwrap();
    assert!(response.reset, "{response:?}");
    assert_eq!(history_texts(&broker, "rewind"), ["again"]);
    let next = spawn_poll(&broker, poll_request("c2", "rewind", None)).await;
    sink.committed(stored("rewind", "then").into(), 3);
    assert_eq!(texts(&next.await.unwrap()), ["then"]);
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_store_answers_held_polls_timeout_shaped_at_once() {
    let broker = broker(100).await;
    let started = Instant::now();
    let task = spawn_poll(&broker, poll_request("c1", "cut", None)).await;
    sink(&broker).interrupted();
    assert_eq!(
        task.await.unwrap(),
        PollResponse::empty(PollStatus::Timeout)
    );
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_cursor_is_answered_with_a_reset_and_the_recent_messages() {
    let broker = broker(100).await;
    send(&broker, "reset", "a").await;
    send(&broker, "reset", "b").await;
    for cursor in ["garbage", "0190e4a2-0000-7000-8000-000000000000"] {
        let response = broker
            .poll(poll_request("c1", "reset", Some(cursor)))
            .await
            .unwrap();
        assert!(response.reset);
        assert_eq!(response.status, PollStatus::Success);
        assert_eq!(texts(&response), ["a", "b"]);
    }
    // A cursor from another room is unknown here too.
    let other = send(&broker, "elsewhere", "x").await.message_id.to_string();
    let response = broker
        .poll(poll_request("c1", "reset", Some(&other)))
        .await
        .unwrap();
    assert!(response.reset);
}

#[tokio::test(start_paused = true)]
async fn logs_are_bounded_and_an_evicted_cursor_resets() {
    let broker = broker(10).await;
    let first = send(&broker, "bounded", "m0").await;
    for i in 1..15 {
        send(&broker, "bounded", &format!("m{i}")).await;
    }
    let room = RoomName::parse("bounded").unwrap();
    let history = broker.history(&HistoryRequest {
        room,
        limit: 100,
        around: None,
    });
    assert_eq!(history.messages.len(), 10);
    assert_eq!(history.messages[0].text, "m5");
    assert_eq!(broker.stats(|_| true).await.total_messages, 15);
    let cursor = first.message_id.to_string();
    let response = broker
        .poll(poll_request("c1", "bounded", Some(&cursor)))
        .await
        .unwrap();
    assert!(response.reset);
    assert_eq!(response.messages.len(), 10);
}

#[tokio::test(start_paused = true)]
async fn a_second_poll_of_a_client_on_a_room_supersedes_the_first() {
    let broker = broker(100).await;
    let older = spawn_poll(&broker, poll_request("c1", "dup", None)).await;
    let other_room = spawn_poll(&broker, poll_request("c1", "dup2", None)).await;
    // The older poll can only end once the newer one has registered.
    let newer = tokio::spawn({
        let broker = broker.clone();
        async move { broker.poll(poll_request("c1", "dup", None)).await.unwrap() }
    });
    assert_eq!(
        older.await.unwrap(),
        PollResponse::empty(PollStatus::Superseded)
    );
    assert_eq!(broker.held_polls(), 2);
    send(&broker, "dup", "hi").await;
    assert_eq!(texts(&newer.await.unwrap()), ["hi"]);
    assert!(!other_room.is_finished());
    other_room.abort();
}

#[tokio::test(start_paused = true)]
async fn disconnect_answers_every_poll_of_the_client_and_forgets_it() {
    let broker = broker(100).await;
    let a = spawn_poll(&broker, poll_request("gone", "r1", None)).await;
    let b = spawn_poll(&broker, poll_request("gone", "r2", None)).await;
    let client = ClientId::parse("gone").unwrap();
    assert_eq!(
        broker.disconnect(&client, &ClientOwner::default()).await,
        Ok(2)
    );
    for task in [a, b] {
        assert_eq!(
            task.await.unwrap(),
            PollResponse::empty(PollStatus::Disconnected)
        );
    }
    assert_eq!(
        broker.disconnect(&client, &ClientOwner::default()).await,
        Err(ChatError::UnknownClient)
    );
    assert_eq!(broker.stats(|_| true).await.active_clients, 0);
}

#[tokio::test(start_paused = true)]
async fn idle_clients_stay_active_for_the_window_then_are_forgotten() {
    let broker = broker(100).await;
    let mut request = poll_request("idle", "idle", None);
    request.timeout = Duration::from_secs(5);
    broker.poll(request).await.unwrap();
    assert_eq!(broker.stats(|_| true).await.active_clients, 1);
    tokio::time::advance(Duration::from_secs(60)).await;
    broker.forget_idle();
    assert_eq!(broker.stats(|_| true).await.active_clients, 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(broker.stats(|_| true).await.active_clients, 0);
    broker.forget_idle();
    let client = ClientId::parse("idle").unwrap();
    assert_eq!(
        broker.disconnect(&client, &ClientOwner::default()).await,
        Err(ChatError::UnknownClient)
    );
    assert!(
        broker.stats(|_| true).await.rooms.is_empty(),
        "the empty room is forgotten too"
    );
}

#[tokio::test(start_paused = true)]
async fn stats_list_rooms_with_messages_or_waiters() {
    let broker = broker(100).await;
    send(&broker, "b-room", "x").await;
    let waiting = spawn_poll(&broker, poll_request("c1", "a-room", None)).await;
    let stats = broker.stats(|_| true).await;
    assert_eq!(stats.rooms, ["a-room", "b-room"]);
    assert_eq!(stats.total_messages, 1);
    assert_eq!(stats.held_polls, 1);
    assert_eq!(stats.active_clients, 1);
    waiting.abort();
    let _ = waiting.await;
    assert_eq!(broker.held_polls(), 0, "a dropped poll unregisters");
}

#[tokio::test(start_paused = true)]
async fn polls_past_the_caps_are_refused_at_once_and_held_ones_keep_working() {
    let config = BrokerConfig {
        max_held_polls: 3,
        max_polls_per_client: 2,
        ..BrokerConfig::default()
    };
    let broker = Broker::open(config, &StoreConfig::Memory).await.unwrap();
    let a1 = spawn_poll(&broker, poll_request("a", "cap-1", None)).await;
    let a2 = spawn_poll(&broker, poll_request("a", "cap-2", None)).await;
    let third_room = broker.poll(poll_request("a", "cap-3", None)).await;
    assert_eq!(third_room, Err(ChatError::TooManyPolls), "per-client cap");
    let rooms = || broker.shared.rooms.count();
    assert_eq!(rooms(), 2, "a refused poll leaves no room behind");
    let b1 = spawn_poll(&broker, poll_request("b", "cap-1", None)).await;
    let over_server_cap = broker.poll(poll_request("c", "cap-1", None)).await;
    assert_eq!(
        over_server_cap,
        Err(ChatError::TooManyPolls),
        "server-wide cap"
    );
    assert_eq!(rooms(), 2, "nor removes the room others wait on");
    assert_eq!(broker.held_polls(), 3);
    // Superseding replaces a held poll, so it is accepted even at the cap.
    let a2_again = tokio::spawn({
        let broker = broker.clone();
        async move { broker.poll(poll_request("a", "cap-2", None)).await.unwrap() }
    });
    assert_eq!(
        a2.await.unwrap(),
        PollResponse::empty(PollStatus::Superseded)
    );
    send(&broker, "cap-1", "still works").await;
    assert_eq!(texts(&a1.await.unwrap()), ["still works"]);
    assert_eq!(texts(&b1.await.unwrap()), ["still works"]);
    send(&broker, "cap-2", "and here").await;
    assert_eq!(texts(&a2_again.await.unwrap()), ["and here"]);
}

#[tokio::test(start_paused = true)]
async fn a_lower_text_limit_rejects_longer_texts_and_stores_nothing() {
    let config = BrokerConfig {
        max_text_chars: 5,
        ..BrokerConfig::default()
    };
    let broker = Broker::open(config, &StoreConfig::Memory).await.unwrap();
    let request = |text: &str| SendRequest {
        room: RoomName::parse("short").unwrap(),
        sender: SenderName::parse("a").unwrap(),
        author: None,
        text: MessageText::parse(text).unwrap(),
        mentions: Vec::new(),
        attachment: None,
    };
    assert!(broker.send(request("ünï5c")).await.is_ok());
    assert_eq!(
        broker.send(request("toolong")).await,
        Err(ChatError::invalid("text must be at most 5 characters"))
    );
    assert_eq!(broker.stats(|_| true).await.total_messages, 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_answers_held_polls_timeout_shaped() {
    let broker = broker(100).await;
    let task = spawn_poll(&broker, poll_request("c1", "bye", None)).await;
    broker.shutdown();
    assert_eq!(
        task.await.unwrap(),
        PollResponse::empty(PollStatus::Timeout)
    );
    // A poll arriving once shutdown began is answered at once, not after its timeout.
    let started = Instant::now();
    let late = broker.poll(poll_request("c2", "bye", None)).await.unwrap();
    assert_eq!(late, PollResponse::empty(PollStatus::Timeout));
    assert_eq!(started.elapsed(), Duration::ZERO);
}

/// Races sends against polls starting on many threads: a lost wake-up would leave a poll
/// waiting for its full timeout although its message is in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_wake_up_is_lost_when_a_send_races_a_poll_start() {
    let broker = broker(10_000).await;
    let mut cursor = send(&broker, "race", "start").await.message_id.to_string();
    for round in 0..500 {
        let mut request = poll_request("racer", "race", Some(&cursor));
        request.timeout = Duration::from_secs(30);
        let poll = tokio::spawn({
            let broker = broker.clone();
            async move { broker.poll(request).await.unwrap() }
        });
        let sent = send(&broker, "race", &format!("m{round}")).await;
        let response = tokio::time::timeout(Duration::from_secs(10), poll)
            .await
            .expect("a poll missed its wake-up")
            .unwrap();
        assert_eq!(response.messages.last().unwrap().id, sent.message_id);
        cursor = sent.message_id.to_string();
    }
}

/// A client polling in a loop with its cursor sees every message of a burst exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_client_sees_a_burst_exactly_once_in_order() {
    let broker = broker(1_000).await;
    let poller = tokio::spawn({
        let broker = broker.clone();
        async move {
            let mut cursor: Option<String> = None;
            let mut seen = Vec::new();
            // Start from the beginning: wait for the first message without a cursor.
            while seen.len() < 500 {
                let response = broker
                    .poll(poll_request("looper", "burst", cursor.as_deref()))
                    .await
                    .unwrap();
                assert!(!response.reset);
                for message in &response.messages {
                    seen.push(message.text.clone());
                }
                if let Some(last) = response.messages.last() {
                    cursor = Some(last.id.to_string());
                }
            }
            seen
        }
    });
    while broker.held_polls() == 0 {
        tokio::task::yield_now().await;
    }
    for i in 0..500 {
        send(&broker, "burst", &format!("m{i}")).await;
    }
    let seen = poller.await.unwrap();
    let expected: Vec<String> = (0..500).map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 500);
}
