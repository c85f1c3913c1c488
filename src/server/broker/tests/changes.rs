//! Changes to messages (edits, deletions, reactions) in the log, history, polls and streams.

use super::*;

#[tokio::test(start_paused = true)]
async fn changes_leave_history_showing_messages_as_they_are_now() {
    let broker = broker(100).await;
    let typo = send_as(&broker, "now", "tpyo", "alice").await;
    let gone = send_as(&broker, "now", "oops", "alice").await;
    let edit = ChangeKind::Edit {
        text: "typo".into(),
        mentions: Vec::new(),
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
        mentions: Vec::new(),
    };
    let tombstone = change(&broker, &gone, "alice", late).await;
    assert!(tombstone.deleted && tombstone.text.is_empty() && tombstone.reactions.is_empty());

    let history = broker.history(&HistoryRequest {
        room: RoomName::parse("now").unwrap(),
        limit: 10,
        around: None,
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
        mentions: Vec::new(),
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
                text: "second".into(),
                mentions: Vec::new()
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
