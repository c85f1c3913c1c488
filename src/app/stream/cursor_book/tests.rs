//! The cursor book's rules: rewinds, gaps, resets, and which rooms a stream follows.

use super::*;
use crate::model::ChangeKind;

fn message(room: &str) -> Arc<Message> {
    Arc::new(Message {
        id: Uuid::now_v7(),
        sender: "ann".into(),
        text: "hello".into(),
        timestamp: 1.0,
        room: room.into(),
        verified: true,
        author: Some("ann".into()),
        ..Message::default()
    })
}

fn edit(message: &Message, text: &str) -> Arc<Change> {
    Arc::new(Change {
        id: Uuid::now_v7(),
        room: message.room.clone(),
        message_id: message.id,
        by: "ANN".into(),
        author: "ann".into(),
        timestamp: 2.0,
        kind: ChangeKind::Edit {
            text: text.into(),
            mentions: Vec::new(),
        },
    })
}

fn news(messages: &[&Arc<Message>], changes: &[&Arc<Change>], last_id: Option<Uuid>) -> RoomNews {
    RoomNews {
        room: "r".into(),
        messages: messages.iter().copied().cloned().collect(),
        reset: false,
        unavailable: false,
        changes: changes.iter().copied().cloned().collect(),
        last_id,
        live: None,
    }
}

fn after(message: &Message) -> Cursor {
    Cursor::After(message.id)
}

fn ids<'a>(list: impl IntoIterator<Item = &'a Arc<Message>>) -> Vec<Uuid> {
    list.into_iter().map(|message| message.id).collect()
}

fn shows(rooms: &[(&str, Cursor)]) -> Vec<(String, Cursor)> {
    (rooms.iter())
        .map(|(room, cursor)| ((*room).to_owned(), *cursor))
        .collect()
}

#[test]
fn a_cursor_orders_the_start_before_any_position() {
    let (one, two) = (message("r"), message("r"));
    assert!(Cursor::Start < after(&one) && after(&one) < after(&two));
    assert_eq!(Cursor::of(&[]), Cursor::Start);
    assert_eq!(Cursor::of(&[one, two.clone()]), after(&two));
}

#[test]
fn an_older_cursor_rewinds_a_room_and_a_newer_one_does_not() {
    let (one, two) = (message("r"), message("r"));
    let mut book = CursorBook::default();
    assert!(book.shows("tab-a".into(), shows(&[("r", after(&two))])));
    assert!(!book.shows("tab-a".into(), shows(&[("r", after(&two))])));
    // Another tab has less of the room: the stream reads it again from there.
    assert!(book.shows("tab-b".into(), shows(&[("r", after(&one))])));
    assert_eq!(book.next_stream(), [("r".to_owned(), after(&one), true)]);
    // A tab further on leaves the stream where it is.
    assert!(!book.shows("tab-c".into(), shows(&[("r", after(&two))])));
    assert_eq!(book.next_stream()[0].1, after(&one));
    assert!(book.shows("tab-d".into(), shows(&[("r", Cursor::Start)])));
    assert_eq!(book.next_stream()[0].1, Cursor::Start);
}

#[test]
fn the_stream_moves_a_cursor_on_and_a_reset_sends_it_back_to_the_start() {
    let one = message("r");
    let mut book = CursorBook::default();
    book.shows("tab".into(), shows(&[("r", Cursor::Start)]));
    book.advance(&news(&[&one], &[], Some(one.id)));
    assert_eq!(book.next_stream()[0].1, after(&one));
    // Nothing read: the cursor stays.
    book.advance(&news(&[], &[], None));
    assert_eq!(book.next_stream()[0].1, after(&one));
    let reset = RoomNews {
        reset: true,
        ..news(&[], &[], None)
    };
    book.advance(&reset);
    assert_eq!(book.next_stream()[0].1, Cursor::Start);
}

#[test]
fn rooms_nobody_shows_or_joined_are_dropped_and_shown_ones_go_first() {
    let mut book = CursorBook::default();
    book.shows(
        "tab".into(),
        shows(&[("b", Cursor::Start), ("c", Cursor::Start)]),
    );
    assert!(book.follow("a", Cursor::Start));
    assert!(!book.follow("a", Cursor::After(Uuid::now_v7())));
    assert!(book.follow("z", Cursor::Start));
    let order: Vec<_> = (book.next_stream().into_iter())
        .map(|(room, _, shown)| (room, shown))
        .collect();
    assert_eq!(
        order,
        [
            ("b".to_owned(), true),
            ("c".to_owned(), true),
            ("a".to_owned(), false),
            ("z".to_owned(), false),
        ]
    );
    book.shows("tab".into(), shows(&[("b", Cursor::Start)]));
    assert!(book.retain(|room| room == "a"));
    assert!(!book.retain(|room| room == "a"));
    assert!(book.follows("a") && book.follows("b"));
    assert!(!book.follows("c") && !book.follows("z"));
    book.drop_room("b");
    assert!(!book.follows("b") && !book.is_shown("b"));
    book.gone("tab");
    assert!(book.retain(|_| false));
    assert!(book.next_stream().is_empty());
}

#[test]
fn a_stream_takes_at_most_its_worth_of_rooms() {
    let mut book = CursorBook::default();
    for at in 0..MAX_STREAM_ROOMS + 5 {
        book.follow(&format!("joined-{at:03}"), Cursor::Start);
    }
    book.shows("tab".into(), shows(&[("shown", Cursor::Start)]));
    let rooms = book.next_stream();
    assert_eq!(rooms.len(), MAX_STREAM_ROOMS);
    assert_eq!(rooms[0].0, "shown");
}

#[test]
fn a_view_takes_what_continues_its_position() {
    let (one, two) = (message("r"), message("r"));
    let mut list = vec![one.clone()];
    let mut position = after(&one);
    let take = take(
        &mut position,
        &news(&[&two], &[], Some(two.id)),
        Some(after(&one)),
    );
    take.unwrap().apply(&mut list);
    assert_eq!(ids(&list), ids([&one, &two]));
    assert_eq!(position, after(&two));
}

#[test]
fn a_view_finds_a_gap_when_the_stream_read_from_further_on() {
    let (one, two, three) = (message("r"), message("r"), message("r"));
    let mut position = after(&one);
    let further = news(&[&three], &[], Some(three.id));
    assert!(take(&mut position, &further, Some(after(&two))).is_none());
    assert_eq!(position, after(&one), "a gap leaves the position");
    // A stream without a cursor for the room is a gap unless the view has nothing.
    assert!(take(&mut position, &further, None).is_none());
    let mut empty = Cursor::Start;
    assert!(take(&mut empty, &further, None).is_some());
    assert_eq!(empty, after(&three));
}

#[test]
fn after_a_rewind_a_view_drops_what_it_has() {
    // The room's log: one, two, an edit of one, three.
    let (one, two) = (message("r"), message("r"));
    let changed = edit(&one, "changed");
    let three = message("r");
    let mut list = vec![one.clone(), two.clone()];
    let mut position = Cursor::After(changed.id);
    // Another tab rewound the stream to the start: all of it comes again.
    let again = news(&[&one, &two, &three], &[&changed], Some(three.id));
    let taken = take(&mut position, &again, Some(Cursor::Start)).unwrap();
    match &taken {
        Take::Add { messages, changes } => {
            assert_eq!(ids(messages), ids([&three]));
            assert!(changes.is_empty(), "the edit was applied already");
        }
        Take::Replace(_) => panic!("not a reset"),
    }
    taken.apply(&mut list);
    assert_eq!(ids(&list), ids([&one, &two, &three]));
    assert_eq!(position, after(&three));
    // The same news again brings nothing new, and leaves the position.
    let repeat = take(&mut position, &again, Some(Cursor::Start)).unwrap();
    assert!(repeat.is_empty());
    assert_eq!(position, after(&three));
}

#[test]
fn changes_after_the_position_apply_after_the_messages() {
    let one = message("r");
    let two = message("r");
    let edited = edit(&two, "edited");
    let mut list = vec![one.clone()];
    let mut position = after(&one);
    let taken = take(
        &mut position,
        &news(&[&two], &[&edited], Some(edited.id)),
        Some(after(&one)),
    );
    taken.unwrap().apply(&mut list);
    assert_eq!(list[1].text, "edited");
    assert_eq!(position, Cursor::After(edited.id));
}

#[test]
fn a_reset_replaces_the_view() {
    let (old, one, two) = (message("r"), message("r"), message("r"));
    let edited = edit(&one, "edited");
    let mut list = vec![old];
    let mut position = Cursor::After(Uuid::now_v7());
    let reset = RoomNews {
        reset: true,
        ..news(&[&one, &two], &[&edited], None)
    };
    // Whatever the stream held.
    take(&mut position, &reset, Some(Cursor::After(Uuid::now_v7())))
        .unwrap()
        .apply(&mut list);
    assert_eq!(ids(&list), ids([&one, &two]));
    assert_eq!(list[0].text, "edited");
    assert_eq!(position, after(&two), "without last_id: the last message");
}

#[test]
fn a_view_keeps_the_newest_messages_on_screen() {
    let mut list: Vec<_> = (0..MAX_ON_SCREEN).map(|_| message("r")).collect();
    let mut position = Cursor::of(&list);
    let held = position;
    let newer: Vec<_> = (0..3).map(|_| message("r")).collect();
    take(
        &mut position,
        &news(&newer.iter().collect::<Vec<_>>(), &[], Some(newer[2].id)),
        Some(held),
    )
    .unwrap()
    .apply(&mut list);
    assert_eq!(list.len(), MAX_ON_SCREEN);
    assert_eq!(list.last().map(|m| m.id), Some(newer[2].id));
}
