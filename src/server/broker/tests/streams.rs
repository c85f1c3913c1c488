//! `Broker::stream`: many rooms in one wait, each from its own cursor.

use super::*;

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

#[tokio::test(start_paused = true)]
async fn streams_woken_by_one_send_share_the_rooms_news_serialized_once() {
    let broker = broker(100).await;
    send(&broker, "other", "before").await;
    let alone = spawn_stream(&broker, stream_request("c1", &[("shared", None)])).await;
    // Another room listed first, with nothing new: the same news of the shared room.
    let behind_another = [("other", None), ("shared", None)];
    let second = spawn_stream(&broker, stream_request("c2", &behind_another)).await;
    send(&broker, "shared", "once").await;
    let (alone, second) = (alone.await.unwrap(), second.await.unwrap());
    assert_eq!(news(&alone), [("shared", vec!["once"])]);
    assert!(alone.rooms[0].is_shared_with(&second.rooms[0]));
    let json = |answer: &StreamAnswer| answer.rooms[0].to_json().unwrap();
    assert_eq!(
        json(&alone).as_ptr(),
        json(&second).as_ptr(),
        "one JSON for both"
    );
    assert_eq!(
        second.to_json().unwrap(),
        serde_json::to_vec(&second.to_response()).unwrap()
    );
}
