//! The room log on its own: offsets, eviction, changes applied, budgets, shared reads.

use super::*;
use crate::{
    model::{LiveState, MAX_MESSAGES_PER_POLL},
    server::broker::{PollAnswer, RoomAnswer},
};

fn message(text: &str) -> Arc<Message> {
    Arc::new(Message {
        id: Uuid::now_v7(),
        sender: "log".into(),
        text: text.into(),
        room: "log".into(),
        author: Some("log".into()),
        ..Message::default()
    })
}

/// A log holding `count` messages `m0`, `m1`... at offsets 0, 1...
fn log_of(capacity: usize, count: u64) -> (RoomLog, Vec<Arc<Message>>) {
    let mut log = RoomLog::new(capacity, usize::MAX);
    let messages: Vec<_> = (0..count).map(|i| message(&format!("m{i}"))).collect();
    for (offset, message) in (0..).zip(&messages) {
        assert!(log
            .insert(offset, Entry::Message(message.clone()))
            .is_some());
    }
    (log, messages)
}

fn texts(read: Read) -> Vec<String> {
    match read {
        Read::Messages(answer) => answer.messages.iter().map(|m| m.text.clone()).collect(),
        Read::Nothing => panic!("read nothing"),
        Read::Evicted => panic!("read evicted"),
    }
}

#[test]
fn a_cursor_starts_just_after_its_message_and_no_cursor_at_the_end() {
    let (log, messages) = log_of(10, 3);
    assert_eq!(log.start_after(None), Some(3));
    assert_eq!(log.start_after(Some(&messages[0].id.to_string())), Some(1));
    assert_eq!(log.start_after(Some(&messages[2].id.to_string())), Some(3));
    assert_eq!(log.start_after(Some("garbage")), None);
    assert_eq!(log.start_after(Some(&Uuid::now_v7().to_string())), None);
}

#[test]
fn reads_return_what_follows_the_position_at_most_a_page() {
    let (mut log, _) = log_of(1_000, 150);
    assert!(matches!(log.read_from(150), Read::Nothing));
    assert_eq!(texts(log.read_from(148)), ["m148", "m149"]);
    let page = texts(log.read_from(0));
    assert_eq!(page.len(), MAX_MESSAGES_PER_POLL);
    assert_eq!(page[0], "m0");
}

#[test]
fn evicted_offsets_keep_counting_and_read_as_evicted() {
    let (mut log, messages) = log_of(3, 5);
    assert_eq!(log.total(), 5);
    assert_eq!(log.recent(10).len(), 3);
    assert_eq!(log.start_after(Some(&messages[0].id.to_string())), None);
    assert!(matches!(log.read_from(1), Read::Evicted));
    assert_eq!(texts(log.read_from(2)), ["m2", "m3", "m4"]);
    let reset = log.reset();
    assert!(reset.reset);
    assert_eq!(reset.messages.len(), 3);
}

#[test]
fn a_known_offset_is_ignored_and_a_jump_restarts_the_log() {
    let (mut log, _) = log_of(10, 2);
    assert!(log.insert(1, Entry::Message(message("again"))).is_none());
    assert_eq!(log.total(), 2);
    assert!(log.insert(5, Entry::Message(message("m5"))).is_some());
    assert_eq!(log.total(), 6);
    assert_eq!(log.recent(10).len(), 1);
    assert!(matches!(log.read_from(2), Read::Evicted));
    assert_eq!(texts(log.read_from(5)), ["m5"]);
}

#[test]
fn an_answer_is_shared_until_the_log_changes() {
    let (mut log, _) = log_of(10, 2);
    let (Read::Messages(first), Read::Messages(second)) = (log.read_from(1), log.read_from(1))
    else {
        panic!("no messages");
    };
    let json = |answer: &PollAnswer| answer.to_json().unwrap().as_ptr();
    assert_eq!(json(&first), json(&second), "one shared answer");
    log.insert(2, Entry::Message(message("m2")));
    assert_eq!(texts(log.read_from(1)), ["m1", "m2"]);
}

#[test]
fn unread_counts_what_follows_the_read_position_and_says_when_it_may_be_more() {
    let unread = |count, at_least| Unread { count, at_least };
    let older = message("before all").id;
    let (mut log, messages) = log_of(3, 3);
    let id = |i: usize| Some(messages[i].id);
    assert_eq!(log.unread_after(None), unread(3, false));
    assert_eq!(log.unread_after(id(0)), unread(2, false));
    assert_eq!(log.unread_after(id(2)), unread(0, false));
    // Ids the log lacks count by time: this one is between m2 and m3.
    let between = message("between").id;
    assert!(log.insert(3, Entry::Message(message("m3"))).is_some());
    assert_eq!(log.unread_after(Some(between)), unread(1, false));
    assert_eq!(log.unread_after(id(0)), unread(3, true), "m0 was evicted");
    assert_eq!(log.unread_after(Some(older)), unread(3, true));
    assert_eq!(log.unread_after(None), unread(3, true));
    assert_eq!(
        RoomLog::new(3, usize::MAX).unread_after(Some(older)),
        unread(0, false)
    );
}

#[test]
fn a_forgotten_log_reads_old_positions_as_evicted_and_starts_over() {
    let (mut log, _) = log_of(10, 4);
    log.forget();
    assert!(matches!(log.read_from(4), Read::Evicted));
    assert!(log.insert(2, Entry::Message(message("again"))).is_some());
    assert_eq!(log.total(), 3);
    assert_eq!(texts(log.read_from(2)), ["again"]);
}

/// `news`'s answer's texts.
fn news_texts(answer: &RoomAnswer) -> Vec<&str> {
    answer.messages.iter().map(|m| m.text.as_str()).collect()
}

#[test]
fn streams_reading_the_same_share_one_answer_while_the_log_is_unchanged() {
    let (mut log, _) = log_of(100, 3);
    let (first, taken) = log.news("log", Some(1), None, usize::MAX).unwrap();
    assert_eq!(news_texts(&first), ["m1", "m2"]);
    // Less left in its answer, but enough for the same entries: the same answer.
    let (again, taken_again) = log.news("log", Some(1), None, taken).unwrap();
    assert!(again.is_shared_with(&first));
    assert_eq!(taken_again, taken);

    // Too little left for both entries: a read of its own.
    let (less, _) = log.news("log", Some(1), None, taken - 1).unwrap();
    assert_eq!(news_texts(&less), ["m1"]);
    // With the room's live state: one answer for the streams that have the same.
    let live = Arc::new(LiveState::default());
    let (with_live, _) = log.news("log", Some(1), Some(live.clone()), taken).unwrap();
    assert!(!with_live.is_shared_with(&first));
    let (same_live, _) = log.news("log", Some(1), Some(live), taken).unwrap();
    assert!(same_live.is_shared_with(&with_live));
    // Another position.
    let (later, _) = log.news("log", Some(2), None, usize::MAX).unwrap();
    assert_eq!(news_texts(&later), ["m2"]);

    // The log changed: read again.
    let (again, _) = log.news("log", Some(2), None, usize::MAX).unwrap();
    assert!(again.is_shared_with(&later));
    log.insert(3, Entry::Message(message("m3"))).unwrap();
    let (after, _) = log.news("log", Some(2), None, usize::MAX).unwrap();
    assert_eq!(news_texts(&after), ["m2", "m3"]);
    // Nothing new and no live state to give: nothing.
    assert!(log.news("log", Some(4), None, usize::MAX).is_none());
}

#[test]
fn a_shared_stream_read_is_what_a_read_of_its_own_would_have_been_whatever_is_left() {
    // Messages of different sizes, so that budgets cut reads at different places.
    let entries: Vec<_> = [300, 10, 900, 0, 450, 2_000, 30]
        .into_iter()
        .map(|len| Entry::Message(message(&"x".repeat(len))))
        .collect();
    let log_of_entries = || {
        let mut log = RoomLog::new(100, usize::MAX);
        for (offset, entry) in (0..).zip(&entries) {
            log.insert(offset, entry.clone()).unwrap();
        }
        log
    };
    let total: usize = entries.iter().map(super::log::json_len).sum();
    let mut shared = log_of_entries();
    let lefts: Vec<usize> = (0..=total + 100).step_by(7).collect();
    let mut reused = 0;
    for start in [Some(0), Some(3), None] {
        let mut previous: Option<RoomAnswer> = None;
        // Down then up: each read finds the one kept by the read before.
        for &left in lefts.iter().rev().chain(&lefts) {
            let (answer, taken) = shared.news("log", start, None, left).unwrap();
            let (alone, taken_alone) = log_of_entries().news("log", start, None, left).unwrap();
            assert_eq!(*answer, *alone, "from {start:?} with {left} left");
            assert_eq!(taken, taken_alone);
            reused +=
                usize::from(previous.is_some_and(|previous| previous.is_shared_with(&answer)));
            previous = Some(answer);
        }
    }
    assert!(reused > lefts.len(), "most reads were shared");
}
