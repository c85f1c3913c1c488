//! The broker with the memory store, on tokio's paused clock.

use std::{collections::HashSet, net::IpAddr};

use super::*;
use crate::model::{
    Follow, MessageText, PollRequest, PollResponse, RoomName, RoomNews, SenderName, StreamFrom,
    StreamRequest, StreamResponse, MAX_MESSAGES_PER_POLL, TYPING_LASTS_SECS,
};

async fn broker(room_capacity: usize) -> Broker {
    let config = BrokerConfig {
        room_capacity,
        ..BrokerConfig::default()
    };
    Broker::open(config, &StoreConfig::Memory).await.unwrap()
}

async fn send(broker: &Broker, room: &str, text: &str) -> SendReceipt {
    let request = SendRequest {
        room: RoomName::parse(room).unwrap(),
        sender: SenderName::parse("alice").unwrap(),
        author: None,
        text: MessageText::parse(text).unwrap(),
    };
    broker.send(request).await.unwrap()
}

fn poll_request(client: &str, room: &str, cursor: Option<&str>) -> PollRequest {
    PollRequest {
        client_id: ClientId::parse(client).unwrap(),
        room: RoomName::parse(room).unwrap(),
        last_message_id: cursor.map(str::to_owned),
        timeout: Duration::from_secs(25),
        holder: None,
        owner: ClientOwner::default(),
    }
}

/// Starts a poll in its own task and returns once it is waiting.
async fn spawn_poll(broker: &Broker, request: PollRequest) -> tokio::task::JoinHandle<PollAnswer> {
    let held_before = broker.held_polls();
    let task = tokio::spawn({
        let broker = broker.clone();
        async move { broker.poll(request).await.unwrap() }
    });
    while broker.held_polls() == held_before {
        tokio::task::yield_now().await;
    }
    task
}

fn texts(response: &PollResponse) -> Vec<&str> {
    response.messages.iter().map(|m| m.text.as_str()).collect()
}

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

/// A message as a store hands it to the rooms.
fn stored(room: &str, text: &str) -> Arc<Message> {
    Arc::new(Message {
        id: Uuid::now_v7(),
        sender: "store".into(),
        text: text.into(),
        timestamp: unix_seconds(),
        room: room.into(),
        ..Message::default()
    })
}

/// The broker's own sink, as the store would call it.
fn sink(broker: &Broker) -> LogFeed {
    LogFeed {
        rooms: broker.shared.rooms.clone(),
        clients: broker.shared.clients.clone(),
        presence: broker.shared.presence.clone(),
    }
}

/// The texts `history` returns for the room (up to 100).
fn history_texts(broker: &Broker, room: &str) -> Vec<String> {
    let request = HistoryRequest {
        room: RoomName::parse(room).unwrap(),
        limit: 100,
    };
    let history = broker.history(&request);
    history.messages.iter().map(|m| m.text.clone()).collect()
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
    let history = broker.history(&HistoryRequest { room, limit: 100 });
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

fn stream_request(client: &str, rooms: &[(&str, Option<&str>)]) -> StreamRequest {
    StreamRequest {
        client_id: ClientId::parse(client).unwrap(),
        rooms: rooms
            .iter()
            .map(|(room, cursor)| {
                let from = match cursor {
                    Some(id) => StreamFrom::After((*id).to_owned()),
                    None => StreamFrom::Now,
                };
                Follow {
                    room: RoomName::parse(room).unwrap(),
                    from,
                    live_version: None,
                    // As the server asks for the default room and private rooms.
                    open: true,
                }
            })
            .collect(),
        timeout: Duration::from_secs(25),
        holder: None,
        owner: ClientOwner::default(),
        person: None,
    }
}

/// Starts a stream in its own task and returns once it is waiting.
async fn spawn_stream(
    broker: &Broker,
    request: StreamRequest,
) -> tokio::task::JoinHandle<StreamResponse> {
    let held_before = broker.held_polls();
    let task = tokio::spawn({
        let broker = broker.clone();
        async move { broker.stream(request).await.unwrap() }
    });
    while broker.held_polls() == held_before {
        tokio::task::yield_now().await;
    }
    task
}

/// Each room of the answer with its texts.
fn news(answer: &StreamResponse) -> Vec<(&str, Vec<&str>)> {
    answer
        .rooms
        .iter()
        .map(|news| {
            let texts = news.messages.iter().map(|m| m.text.as_str()).collect();
            (news.room.as_str(), texts)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_stream_answers_every_room_with_news_each_from_its_own_cursor() {
    let broker = broker(100).await;
    let a1 = send(&broker, "s-a", "a1").await.message_id.to_string();
    let b1 = send(&broker, "s-b", "b1").await.message_id.to_string();
    send(&broker, "s-a", "a2").await;
    send(&broker, "s-b", "b2").await;

    // Behind in both rooms: both are answered at once, in the order asked.
    let rooms = [
        ("s-b", Some(b1.as_str())),
        ("s-c", None),
        ("s-a", Some(a1.as_str())),
    ];
    let answer = broker.stream(stream_request("c1", &rooms)).await.unwrap();
    assert_eq!(answer.status, PollStatus::Success);
    assert_eq!(news(&answer), [("s-b", vec!["b2"]), ("s-a", vec!["a2"])]);

    // Caught up: held until one room has news, and only that room is answered.
    let a2 = answer.rooms[1].messages[0].id.to_string();
    let b2 = answer.rooms[0].messages[0].id.to_string();
    let rooms = [
        ("s-a", Some(a2.as_str())),
        ("s-b", Some(b2.as_str())),
        ("s-c", None),
    ];
    let held = spawn_stream(&broker, stream_request("c1", &rooms)).await;
    assert_eq!(broker.held_polls(), 1, "one held poll for three rooms");
    let started = Instant::now();
    send(&broker, "s-c", "c1").await;
    let answer = held.await.unwrap();
    assert_eq!(news(&answer), [("s-c", vec!["c1"])]);
    assert_eq!(started.elapsed(), Duration::ZERO, "no timer was involved");
}

#[tokio::test(start_paused = true)]
async fn a_send_to_a_room_nobody_streams_wakes_no_stream() {
    let broker = broker(100).await;
    let held = spawn_stream(&broker, stream_request("c1", &[("quiet", None)])).await;
    send(&broker, "elsewhere", "not for you").await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!held.is_finished());
    send(&broker, "quiet", "for you").await;
    assert_eq!(news(&held.await.unwrap()), [("quiet", vec!["for you"])]);
}

#[tokio::test(start_paused = true)]
async fn a_streamed_room_with_an_unknown_cursor_is_reset_and_the_others_wait() {
    let broker = broker(100).await;
    send(&broker, "r-a", "kept").await;
    let garbage = Uuid::now_v7().to_string();
    let rooms = [("r-a", Some(garbage.as_str())), ("r-b", None)];
    let answer = broker.stream(stream_request("c1", &rooms)).await.unwrap();
    assert_eq!(news(&answer), [("r-a", vec!["kept"])]);
    assert!(answer.rooms[0].reset);
}

#[tokio::test(start_paused = true)]
async fn a_stream_far_behind_gets_at_most_a_poll_s_worth_per_room_in_order() {
    let broker = broker(1_000).await;
    let first = send(&broker, "busy", "0").await.message_id.to_string();
    for n in 1..=150 {
        send(&broker, "busy", &n.to_string()).await;
    }
    let answer = broker
        .stream(stream_request("c1", &[("busy", Some(first.as_str()))]))
        .await
        .unwrap();
    let texts: Vec<String> = (1..=MAX_MESSAGES_PER_POLL).map(|n| n.to_string()).collect();
    assert_eq!(news(&answer)[0].1, texts);
    let last = answer.rooms[0].messages.last().unwrap().id.to_string();
    let rest = broker
        .stream(stream_request("c1", &[("busy", Some(last.as_str()))]))
        .await
        .unwrap();
    assert_eq!(rest.rooms[0].messages.len(), 50);
    assert_eq!(rest.rooms[0].messages[0].text, "101");
}

#[tokio::test(start_paused = true)]
async fn a_newer_stream_of_the_client_supersedes_the_older_but_its_polls_stay() {
    let broker = broker(100).await;
    let poll = spawn_poll(&broker, poll_request("c1", "one", None)).await;
    let older = spawn_stream(
        &broker,
        stream_request("c1", &[("one", None), ("two", None)]),
    )
    .await;
    // Not `spawn_stream`: the count of held polls is the same once the older one is gone.
    let newer = tokio::spawn({
        let broker = broker.clone();
        async move {
            broker
                .stream(stream_request("c1", &[("two", None)]))
                .await
                .unwrap()
        }
    });
    let older = older.await.unwrap();
    assert_eq!(older.status, PollStatus::Superseded);
    assert!(older.rooms.is_empty());
    assert_eq!(broker.held_polls(), 2, "the poll and the newer stream");
    send(&broker, "one", "to the poll").await;
    assert_eq!(texts(&poll.await.unwrap()), ["to the poll"]);
    send(&broker, "two", "to the stream").await;
    assert_eq!(
        news(&newer.await.unwrap()),
        [("two", vec!["to the stream"])]
    );
}

#[tokio::test(start_paused = true)]
async fn a_quiet_stream_times_out_and_a_disconnected_one_is_told() {
    let broker = broker(100).await;
    let quiet = spawn_stream(&broker, stream_request("c1", &[("hush", None)])).await;
    let started = Instant::now();
    let answer = quiet.await.unwrap();
    assert_eq!(answer.status, PollStatus::Timeout);
    assert_eq!(started.elapsed(), Duration::from_secs(25));

    let held = spawn_stream(&broker, stream_request("c2", &[("hush", None)])).await;
    assert_eq!(
        broker
            .disconnect(&ClientId::parse("c2").unwrap(), &ClientOwner::default())
            .await,
        Ok(1)
    );
    assert_eq!(held.await.unwrap().status, PollStatus::Disconnected);
    assert_eq!(broker.held_polls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_room_deleted_under_a_stream_is_answered_unavailable_and_the_others_stay_followed() {
    let broker = broker(100).await;
    let held = spawn_stream(
        &broker,
        stream_request("c1", &[("keep", None), ("doomed", None)]),
    )
    .await;
    broker.forget_room("doomed");
    let answer = held.await.unwrap();
    assert_eq!(answer.status, PollStatus::Success);
    assert_eq!(answer.rooms, [RoomNews::unavailable("doomed".to_owned())]);

    // A room that lost a user ends the stream with no news: the caller checks who may see what.
    let mut request = stream_request("c1", &[("keep", None)]);
    request.holder = Some("bob".into());
    let held = spawn_stream(&broker, request).await;
    assert_eq!(
        broker.end_polls("keep", |holder| holder == Some("alice")),
        0
    );
    assert!(!held.is_finished());
    assert_eq!(broker.end_polls("keep", |holder| holder == Some("bob")), 1);
    let answer = held.await.unwrap();
    assert_eq!(
        (answer.status, answer.rooms.len()),
        (PollStatus::Success, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_stream_refused_at_the_cap_leaves_no_room_behind() {
    let config = BrokerConfig {
        max_held_polls: 1,
        ..BrokerConfig::default()
    };
    let broker = Broker::open(config, &StoreConfig::Memory).await.unwrap();
    let _held = spawn_poll(&broker, poll_request("c1", "full", None)).await;
    let refused = broker
        .stream(stream_request(
            "c2",
            &[("ghost-a", None), ("ghost-b", None)],
        ))
        .await;
    assert_eq!(refused, Err(ChatError::TooManyPolls));
    assert!(!broker
        .shared
        .rooms
        .summary(|_| true)
        .1
        .iter()
        .any(|room| room.starts_with("ghost")));
}

#[tokio::test(start_paused = true)]
async fn a_stream_from_the_start_of_an_empty_room_misses_nothing_sent_between_streams() {
    let broker = broker(3).await;
    let mut request = stream_request("c1", &[("fresh", None)]);
    request.rooms[0].from = StreamFrom::Start;
    // The room is empty: the stream waits, and times out.
    let answer = broker.stream(request.clone()).await.unwrap();
    assert_eq!(answer.status, PollStatus::Timeout);
    // Sent while no stream is held: a stream without a cursor would wait past it.
    send(&broker, "fresh", "between").await;
    let answer = broker.stream(request.clone()).await.unwrap();
    assert_eq!(news(&answer), [("fresh", vec!["between"])]);
    assert!(!answer.rooms[0].reset);
    // Once the room has dropped messages, "from the start" cannot be honoured: a reset.
    for text in ["2", "3", "4"] {
        send(&broker, "fresh", text).await;
    }
    let answer = broker.stream(request).await.unwrap();
    assert_eq!(news(&answer), [("fresh", vec!["2", "3", "4"])]);
    assert!(answer.rooms[0].reset);
}

/// Sends as the account `author`, whose messages it may edit.
async fn send_as(broker: &Broker, room: &str, text: &str, author: &str) -> Arc<Message> {
    let request = SendRequest {
        room: RoomName::parse(room).unwrap(),
        sender: SenderName::parse(author).unwrap(),
        author: Some(author.to_owned()),
        text: MessageText::parse(text).unwrap(),
    };
    let receipt = broker.send(request).await.unwrap();
    broker.message(receipt.message_id).unwrap()
}

async fn change(broker: &Broker, message: &Message, author: &str, kind: ChangeKind) -> Message {
    let changed = broker.change(message, author, author, kind).await.unwrap();
    (*changed).clone()
}

fn react(emoji: &str) -> ChangeKind {
    ChangeKind::React {
        emoji: emoji.into(),
    }
}

#[tokio::test(start_paused = true)]
async fn changes_leave_history_showing_messages_as_they_are_now() {
    let broker = broker(100).await;
    let typo = send_as(&broker, "now", "tpyo", "alice").await;
    let gone = send_as(&broker, "now", "oops", "alice").await;
    let edit = ChangeKind::Edit {
        text: "typo".into(),
    };
    let edited = change(&broker, &typo, "alice", edit).await;
    assert_eq!(edited.text, "typo");
    assert!(edited.edited_at.is_some());
    change(&broker, &typo, "bob", react("👍")).await;
    change(&broker, &typo, "carol", react("👍")).await;
    // One of each emoji per person: the second is stored as nothing.
    let total = broker.shared.rooms.get("now").unwrap().lock().total();
    change(&broker, &typo, "bob", react("👍")).await;
    assert_eq!(
        broker.shared.rooms.get("now").unwrap().lock().total(),
        total
    );
    change(&broker, &typo, "carol", react("🎉")).await;
    change(
        &broker,
        &typo,
        "carol",
        ChangeKind::Unreact {
            emoji: "🎉".into()
        },
    )
    .await;
    change(&broker, &gone, "alice", react("👍")).await;
    change(&broker, &gone, "alice", ChangeKind::Delete).await;
    // Deletion is final: a later edit of the tombstone does nothing.
    let late = ChangeKind::Edit {
        text: "back".into(),
    };
    let tombstone = change(&broker, &gone, "alice", late).await;
    assert!(tombstone.deleted && tombstone.text.is_empty() && tombstone.reactions.is_empty());

    let history = broker.history(&HistoryRequest {
        room: RoomName::parse("now").unwrap(),
        limit: 10,
    });
    let [first, second] = &history.messages[..] else {
        panic!("{history:?}");
    };
    assert_eq!(
        (first.text.as_str(), first.edited_at),
        ("typo", edited.edited_at)
    );
    let reactions: Vec<_> = (first.reactions.iter())
        .map(|r| (r.emoji.as_str(), r.count, r.by.clone()))
        .collect();
    assert_eq!(
        reactions,
        [("👍", 2, vec!["bob".to_owned(), "carol".to_owned()])]
    );
    assert!(second.deleted && second.text.is_empty());
    // The counters count messages, not changes.
    assert_eq!(broker.stats(|_| true).await.total_messages, 2);
}

#[tokio::test(start_paused = true)]
async fn a_poll_is_not_answered_by_changes_but_a_stream_is_with_its_new_position() {
    let broker = broker(100).await;
    let message = send_as(&broker, "events", "hello", "alice").await;
    let cursor = message.id.to_string();
    let poll = spawn_poll(&broker, poll_request("p", "events", Some(&cursor))).await;
    let stream = spawn_stream(&broker, stream_request("s", &[("events", Some(&cursor))])).await;
    change(&broker, &message, "bob", react("❤️")).await;

    let answer = stream.await.unwrap();
    let [news] = &answer.rooms[..] else {
        panic!("{answer:?}");
    };
    assert!(news.messages.is_empty());
    let [reaction] = &news.changes[..] else {
        panic!("{news:?}");
    };
    assert_eq!(
        (reaction.message_id, &reaction.by),
        (message.id, &"bob".to_owned())
    );
    assert_eq!(news.last_id, Some(reaction.id));
    // The poll is still held: it waits for a new message, which is all it is answered with.
    assert!(!poll.is_finished());
    send(&broker, "events", "next").await;
    assert_eq!(texts(&poll.await.unwrap()), ["next"]);
}

#[tokio::test(start_paused = true)]
async fn a_stream_resuming_from_any_position_gets_every_change_it_missed_in_order() {
    let broker = broker(100).await;
    let first = send_as(&broker, "gap", "first", "alice").await;
    let before = first.id.to_string();
    let second = send_as(&broker, "gap", "secnod", "alice").await;
    let edit = ChangeKind::Edit {
        text: "second".into(),
    };
    change(&broker, &second, "alice", edit).await;
    change(&broker, &first, "bob", react("👀")).await;
    change(&broker, &first, "alice", ChangeKind::Delete).await;
    send_as(&broker, "gap", "third", "alice").await;

    // From the first message: the messages after it as they are now, and every change.
    let answer = (broker
        .stream(stream_request("s", &[("gap", Some(&before))]))
        .await)
        .unwrap();
    let news = &answer.rooms[0];
    let texts: Vec<_> = news.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["second", "third"]);
    let kinds: Vec<_> = news.changes.iter().map(|c| &c.kind).collect();
    assert_eq!(
        kinds,
        [
            &ChangeKind::Edit {
                text: "second".into()
            },
            &react("👀"),
            &ChangeKind::Delete
        ]
    );
    assert!(news.changes.iter().all(|c| c.room == "gap"));
    // Resuming from a change: only what follows it.
    let after_edit = news.changes[0].id.to_string();
    let answer = broker
        .stream(stream_request("s", &[("gap", Some(&after_edit))]))
        .await;
    let news = &answer.unwrap().rooms[0];
    assert_eq!(news.changes.len(), 2);
    assert_eq!(news.messages.len(), 1);
    // From where the last answer left it: nothing new, the stream waits.
    let last = news.last_id.unwrap().to_string();
    let held = spawn_stream(&broker, stream_request("s", &[("gap", Some(&last))])).await;
    assert!(!held.is_finished());
}

#[tokio::test(start_paused = true)]
async fn a_message_evicted_from_its_room_can_no_longer_be_found_or_changed() {
    let broker = broker(3).await;
    let old = send_as(&broker, "small", "old", "alice").await;
    for i in 0..3 {
        send_as(&broker, "small", &format!("m{i}"), "alice").await;
    }
    assert!(broker.message(old.id).is_none());
    assert!(broker.message(Uuid::now_v7()).is_none());
}

/// A stream of `name` (a guest's for `None`) on `room` that asks for who is there, knowing
/// `version`.
fn live_request(client: &str, name: Option<&str>, room: &str, version: u64) -> StreamRequest {
    let mut request = stream_request(client, &[(room, None)]);
    request.rooms[0].live_version = Some(version);
    request.timeout = Duration::from_secs(60);
    request.person = name.map(|name| Person {
        key: name.to_lowercase(),
        name: name.to_owned(),
    });
    request
}

fn live_of(answer: &StreamResponse) -> &LiveState {
    answer.rooms[0]
        .live
        .as_ref()
        .expect("the room's live state")
}

#[tokio::test(start_paused = true)]
async fn presence_comes_from_streams_and_outlasts_a_gap_by_the_grace_period() {
    let broker = broker(100).await;
    let grace = BrokerConfig::default().presence_grace;
    // Nobody there: a stream knowing version 0 waits.
    assert_eq!(
        broker.live_state(&RoomName::parse("hall").unwrap()),
        LiveState::default()
    );
    // The watcher itself, a guest, arrived: it learns of itself at once.
    let answer = broker
        .stream(live_request("w", None, "hall", 0))
        .await
        .unwrap();
    let guest_only = live_of(&answer).clone();
    assert_eq!((guest_only.online.len(), guest_only.guests), (0, 1));

    let watcher = spawn_stream(&broker, live_request("w", None, "hall", guest_only.version)).await;
    // Alice's stream does not ask who is there: it only makes her there.
    let mut alice = live_request("a", Some("Alice"), "hall", 0);
    alice.rooms[0].live_version = None;
    let alice = spawn_stream(&broker, alice).await;
    let started = Instant::now();
    let answer = watcher.await.unwrap();
    assert!(
        started.elapsed() <= presence::WAKE_EVERY,
        "woken within the coalescing window"
    );
    let with_alice = live_of(&answer).clone();
    assert_eq!(
        (with_alice.online.clone(), with_alice.guests),
        (vec!["Alice".to_owned()], 1)
    );

    // Alice's stream ends and she comes back within the grace period: nobody is told.
    broker
        .disconnect(&ClientId::parse("a").unwrap(), &ClientOwner::default())
        .await
        .unwrap();
    alice.await.unwrap();
    let watcher = spawn_stream(&broker, live_request("w", None, "hall", with_alice.version)).await;
    tokio::time::sleep(grace / 2).await;
    assert!(
        !watcher.is_finished(),
        "a gap within the grace period is no leave"
    );
    let mut back = live_request("a", Some("Alice"), "hall", 0);
    back.rooms[0].live_version = None;
    let back = spawn_stream(&broker, back).await;
    tokio::time::sleep(grace).await;
    assert!(!watcher.is_finished() && !back.is_finished(), "nor a join");

    // Gone for good: after the grace period the others are told once.
    broker
        .disconnect(&ClientId::parse("a").unwrap(), &ClientOwner::default())
        .await
        .unwrap();
    back.await.unwrap();
    let left = Instant::now();
    let answer = watcher.await.unwrap();
    assert!(left.elapsed() >= grace && left.elapsed() <= grace + presence::WAKE_EVERY * 2);
    assert_eq!(live_of(&answer).online, Vec::<String>::new());
    assert_eq!(live_of(&answer).guests, 1);
}

#[tokio::test(start_paused = true)]
async fn typing_shows_at_once_ends_by_itself_or_with_the_message_and_wakes_listeners_coalesced() {
    let broker = broker(100).await;
    let room = RoomName::parse("typing").unwrap();
    let answer = broker.stream(live_request("w", None, "typing", 0)).await;
    let version = live_of(&answer.unwrap()).version;

    // A hundred people typing at once wake the listener once, with all of them.
    let watcher = spawn_stream(&broker, live_request("w", None, "typing", version)).await;
    for i in 0..100 {
        let person = Person {
            key: format!("p{i}"),
            name: format!("p{i}"),
        };
        broker.typing(&room, &person);
    }
    let answer = watcher.await.unwrap();
    assert_eq!(live_of(&answer).typing.len(), 100);
    let version = live_of(&answer).version;
    // Signals repeated soon after change nothing anyone sees: nobody is woken.
    let watcher = spawn_stream(&broker, live_request("w", None, "typing", version)).await;
    let person = |name: &str| Person {
        key: name.into(),
        name: name.into(),
    };
    broker.typing(&room, &person("p1"));
    tokio::time::sleep(presence::WAKE_EVERY * 3).await;
    assert!(!watcher.is_finished());

    // Sending ends the sender's typing: the message comes at once, the typing line with the
    // room's next wake-up; the others' typing ends by itself.
    send_as(&broker, "typing", "done", "p1").await;
    let answer = watcher.await.unwrap();
    assert_eq!(news(&answer), [("typing", vec!["done"])]);
    let started = Instant::now();
    let answer = broker
        .stream(live_request("w", None, "typing", version))
        .await;
    let answer = answer.unwrap();
    assert!(started.elapsed() <= presence::WAKE_EVERY);
    assert_eq!(live_of(&answer).typing.len(), 99);
    assert!(!live_of(&answer).typing.contains(&"p1".to_owned()));
    tokio::time::sleep(Duration::from_secs(TYPING_LASTS_SECS)).await;
    assert_eq!(broker.live_state(&room).typing, Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_does_not_ask_for_presence_is_not_woken_by_it() {
    let broker = broker(100).await;
    let room = RoomName::parse("plain").unwrap();
    let plain = spawn_stream(&broker, stream_request("plain", &[("plain", None)])).await;
    let alice = live_request("a", Some("Alice"), "plain", 0);
    assert!(broker.stream(alice).await.unwrap().rooms[0].live.is_some());
    broker.typing(
        &room,
        &Person {
            key: "bob".into(),
            name: "Bob".into(),
        },
    );
    tokio::time::sleep(presence::WAKE_EVERY * 3).await;
    assert!(!plain.is_finished(), "woken, it found nothing and waits on");
    send(&broker, "plain", "news").await;
    let answer = plain.await.unwrap();
    assert!(answer.rooms[0].live.is_none());
    assert_eq!(news(&answer), [("plain", vec!["news"])]);
}

// Abuse: what strangers with free accounts could do to a room, a client or the server.

async fn toggle(broker: &Broker, id: Uuid, person: &str, add: bool) {
    let message = broker.message(id).expect("the message is kept");
    let emoji = "👍".to_owned();
    let kind = if add {
        ChangeKind::React { emoji }
    } else {
        ChangeKind::Unreact { emoji }
    };
    broker.change(&message, person, person, kind).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn toggling_reactions_never_pushes_a_message_out_and_the_log_stays_bounded() {
    let broker = broker(10).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(send(&broker, "toggled", &format!("m{i}")).await.message_id);
    }
    // 20 people toggling one reaction 11 times each: many times the room's capacity.
    for round in 0..220 {
        let person = format!("p{}", round % 20);
        toggle(&broker, ids[4], &person, (round / 20) % 2 == 0).await;
    }
    let history = broker.history(&HistoryRequest {
        room: RoomName::parse("toggled").unwrap(),
        limit: 100,
    });
    let texts: Vec<_> = history.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4"]);
    assert_eq!(
        history.messages[4].reactions[0].count, 20,
        "every change applied"
    );
    // A poll's cursor is a message: it reads on without a reset.
    let answer = broker
        .poll(poll_request("c", "toggled", Some(&ids[0].to_string())))
        .await
        .unwrap();
    assert!(!answer.reset);
    assert_eq!(answer.messages.len(), 4);
    let room = broker.shared.rooms.get("toggled").unwrap();
    let log = room.lock();
    assert!(log.kept_changes() <= 10, "at most the capacity in changes");
    assert_eq!(log.kept_messages(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_stream_from_before_dropped_changes_starts_over_with_the_messages_as_they_are() {
    let broker = broker(4).await;
    let first = send(&broker, "dropped", "m0").await.message_id;
    for round in 0..10 {
        toggle(&broker, first, "p", round % 2 == 0).await;
    }
    let answer = broker
        .stream(stream_request(
            "s",
            &[("dropped", Some(&first.to_string()))],
        ))
        .await
        .unwrap();
    let news = &answer.rooms[0];
    assert!(news.reset, "the changes after the cursor are gone");
    assert_eq!(news.messages.len(), 1);
    assert!(
        news.messages[0].reactions.is_empty(),
        "ten toggles: none left"
    );
}

/// Texts of control characters, each of which JSON escapes to six bytes.
fn escaped_text() -> String {
    "\u{1}".repeat(TEXT_MAX_CHARS)
}

#[tokio::test(start_paused = true)]
async fn one_answer_never_carries_more_than_the_byte_budget() {
    let config = BrokerConfig {
        max_answer_bytes: 200_000,
        ..BrokerConfig::default()
    };
    let broker = Broker::open(config, &StoreConfig::Memory).await.unwrap();
    let mut rooms = Vec::new();
    for room in 0..30 {
        let name = format!("heavy{room}");
        for _ in 0..10 {
            send(&broker, &name, &escaped_text()).await;
        }
        rooms.push(name);
    }
    let one_entry = 6 * TEXT_MAX_CHARS + 1_000;
    let bound = 200_000 + one_entry;
    // History and a reset poll: the most recent messages that fit.
    let history = broker.history(&HistoryRequest {
        room: RoomName::parse("heavy0").unwrap(),
        limit: 100,
    });
    assert!(serde_json::to_vec(&history).unwrap().len() <= bound);
    assert!(!history.messages.is_empty());
    let reset = broker
        .poll(poll_request(
            "p",
            "heavy0",
            Some(&Uuid::now_v7().to_string()),
        ))
        .await
        .unwrap();
    assert!(reset.reset);
    assert!(reset.to_json().unwrap().len() <= bound);
    // A stream of 30 rooms with unknown cursors: one budget for all of them.
    let unknown = Uuid::now_v7().to_string();
    let follows: Vec<_> = rooms
        .iter()
        .map(|room| (room.as_str(), Some(unknown.as_str())))
        .collect();
    let answer = broker.stream(stream_request("s", &follows)).await.unwrap();
    let json = serde_json::to_vec(&answer).unwrap();
    assert!(json.len() <= bound, "{} bytes", json.len());
    assert!(!answer.rooms.is_empty());
    // What did not fit comes next, from where the client got to.
    let first = &answer.rooms[0];
    let oldest_read = first.messages[0].id.to_string();
    let history = broker.history(&HistoryRequest {
        room: RoomName::parse(&first.room).unwrap(),
        limit: 100,
    });
    assert!(history.messages.len() < 10 || oldest_read != history.messages[0].id.to_string());
}

#[tokio::test(start_paused = true)]
async fn a_poll_reads_every_message_in_pages_that_fit_the_budget() {
    let config = BrokerConfig {
        max_answer_bytes: 100_000,
        ..BrokerConfig::default()
    };
    let broker = Broker::open(config, &StoreConfig::Memory).await.unwrap();
    let first = send(&broker, "paged", "start").await.message_id;
    for _ in 0..20 {
        send(&broker, "paged", &escaped_text()).await;
    }
    let mut cursor = first.to_string();
    let mut read = 0;
    while read < 20 {
        let answer = broker
            .poll(poll_request("p", "paged", Some(&cursor)))
            .await
            .unwrap();
        assert!(!answer.reset);
        assert!(answer.to_json().unwrap().len() <= 100_000 + 6 * TEXT_MAX_CHARS + 1_000);
        read += answer.messages.len();
        cursor = answer.messages.last().unwrap().id.to_string();
    }
    assert_eq!(read, 20, "nothing lost, nothing repeated");
}

#[tokio::test(start_paused = true)]
async fn one_address_or_person_cannot_take_every_held_poll() {
    let config = BrokerConfig {
        max_held_polls: 100,
        max_polls_per_address: 3,
        max_polls_per_person: 2,
        ..BrokerConfig::default()
    };
    let broker = Broker::open(config, &StoreConfig::Memory).await.unwrap();
    let guest = |address: [u8; 4]| ClientOwner::Guest(IpAddr::from(address));
    let owned = |client: &str, owner: ClientOwner| PollRequest {
        owner,
        ..poll_request(client, "capped", None)
    };
    let mut held = Vec::new();
    for client in ["g1", "g2", "g3"] {
        held.push(spawn_poll(&broker, owned(client, guest([10, 0, 0, 1]))).await);
    }
    let refused = broker.poll(owned("g4", guest([10, 0, 0, 1]))).await;
    assert_eq!(refused, Err(ChatError::TooManyPolls));
    // Another address, and a person, still get theirs.
    held.push(spawn_poll(&broker, owned("other", guest([10, 0, 0, 2]))).await);
    let alice = ClientOwner::Person("alice".into());
    held.push(spawn_poll(&broker, owned("a1", alice.clone())).await);
    held.push(spawn_poll(&broker, owned("a2", alice.clone())).await);
    assert_eq!(
        broker.poll(owned("a3", alice)).await,
        Err(ChatError::TooManyPolls)
    );
    // A poll that supersedes its own is always taken, and a released poll frees its place.
    let again = tokio::spawn({
        let (broker, request) = (broker.clone(), owned("g1", guest([10, 0, 0, 1])));
        async move { broker.poll(request).await }
    });
    assert_eq!(held.remove(0).await.unwrap().status, PollStatus::Superseded);
    send(&broker, "capped", "still served").await;
    assert_eq!(texts(&again.await.unwrap().unwrap()), ["still served"]);
}

#[tokio::test(start_paused = true)]
async fn a_client_id_is_its_first_holders_until_it_is_forgotten() {
    let broker = broker(10).await;
    let alice = ClientOwner::Person("alice".into());
    let mallory = ClientOwner::Person("mallory".into());
    let poll = spawn_poll(
        &broker,
        PollRequest {
            owner: alice.clone(),
            ..poll_request("shared-id", "owned", None)
        },
    )
    .await;
    let stolen = PollRequest {
        owner: mallory.clone(),
        ..poll_request("shared-id", "owned", None)
    };
    assert_eq!(broker.poll(stolen).await, Err(ChatError::UnknownClient));
    let client = ClientId::parse("shared-id").unwrap();
    assert_eq!(
        broker.disconnect(&client, &mallory).await,
        Err(ChatError::UnknownClient)
    );
    assert_eq!(broker.held_polls(), 1, "alice's poll is still held");
    assert_eq!(broker.disconnect(&client, &alice).await, Ok(1));
    assert_eq!(poll.await.unwrap().status, PollStatus::Disconnected);
}

#[tokio::test(start_paused = true)]
async fn a_stream_of_unused_room_names_makes_no_rooms_and_still_hears_their_first_message() {
    let broker = broker(10).await;
    let names: Vec<String> = (0..30).map(|i| format!("unused{i}")).collect();
    let follows: Vec<_> = names.iter().map(|name| (name.as_str(), None)).collect();
    let before = broker.shared.rooms.count();
    let mut request = stream_request("s", &follows);
    for follow in &mut request.rooms {
        follow.open = false;
    }
    let stream = spawn_stream(&broker, request).await;
    assert_eq!(broker.shared.rooms.count(), before, "no room made");
    send(&broker, "unused7", "first").await;
    let answer = stream.await.unwrap();
    assert_eq!(answer.rooms.len(), 1);
    assert_eq!(answer.rooms[0].room, "unused7");
    assert_eq!(answer.rooms[0].messages[0].text, "first");
}
