//! Abuse: what strangers with free accounts could do to a room, a client or the server.

use super::*;

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
        around: None,
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
        around: None,
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
    let json = answer.to_json().unwrap();
    assert!(json.len() <= bound, "{} bytes", json.len());
    assert!(!answer.rooms.is_empty());
    // What did not fit comes next, from where the client got to.
    let first = &answer.rooms[0];
    let oldest_read = first.messages[0].id.to_string();
    let history = broker.history(&HistoryRequest {
        room: RoomName::parse(&first.room).unwrap(),
        limit: 100,
        around: None,
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
