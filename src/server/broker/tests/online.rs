//! Who is online and typing, as streams show it.

use super::*;

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
