//! The cursor book: how far the browser has each room it follows, which tab shows which room,
//! and the rooms the next stream follows; and, for one view of a room, what it takes of the
//! stream's news (the gap and rewind rules). Plain Rust, no signals and no browser handles, so
//! its rules are tested natively.
//!
//! Invariants:
//! - A room's cursor is the stream's `last_id`: the last message OR change (edit, deletion,
//!   reaction) read, so no change comes twice. A view keeps its own position the same way.
//! - Rewind: a tab that shows a room from before the stream's cursor moves the cursor back to
//!   it (that tab is missing what came after); a cursor further on never moves it forward.
//! - Gap: a view takes a room's news only when the stream read it from the view's position or
//!   from before it (what the view has already is dropped); from further on, the view takes
//!   nothing and must announce its position, which rewinds the stream.
//! - A reset replaces the view's messages; otherwise messages are added and then the changes
//!   after the view's position applied in order (see [`crate::app::changes`]).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    app::changes,
    model::{Change, Message, RoomNews, MAX_STREAM_ROOMS},
};

/// Messages kept on screen; older ones scroll away for good.
const MAX_ON_SCREEN: usize = 500;

/// How far the browser has a room: where the stream reads it from.
///
/// There is no "from now": a room shown empty is followed from its start, so a message sent
/// to it between two streams is still new to the next one (a stream without a cursor would wait
/// for the message after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) enum Cursor {
    /// Nothing of the room yet: every message it has is new. Orders before any message.
    Start,
    /// Up to this position of the room's log: a message, or a change to one (ids of both are
    /// UUIDv7s of one space, in log order).
    After(Uuid),
}

impl Cursor {
    /// Up to the last of `messages`.
    pub(super) fn of(messages: &[Arc<Message>]) -> Self {
        messages
            .last()
            .map_or(Cursor::Start, |message| Cursor::After(message.id))
    }
}

/// The rooms the browser follows: the stream's cursor of each, and which rooms each tab shows.
/// Every tab keeps the same book from the notes it hears, so a new leader resumes from it.
#[derive(Debug, Default)]
pub(super) struct CursorBook {
    /// The rooms each tab shows (this one's included).
    shows: HashMap<String, Vec<String>>,
    /// The stream's cursor per followed room.
    cursors: HashMap<String, Cursor>,
}

impl CursorBook {
    /// `tab` shows `rooms`, each up to its cursor (and no other room). A room not followed yet
    /// is followed from that cursor; an older cursor rewinds the room. Returns whether the
    /// held stream no longer follows what it should (a new room, or a rewind).
    pub(super) fn shows(&mut self, tab: String, rooms: Vec<(String, Cursor)>) -> bool {
        let mut changed = false;
        for (room, cursor) in &rooms {
            match self.cursors.get_mut(room) {
                None => {
                    self.cursors.insert(room.clone(), *cursor);
                    changed = true;
                }
                // That tab is missing what came after its cursor.
                Some(held) if cursor < held => {
                    *held = *cursor;
                    changed = true;
                }
                Some(_) => {}
            }
        }
        self.shows
            .insert(tab, rooms.into_iter().map(|(room, _)| room).collect());
        changed
    }

    /// `tab` went away: it shows nothing.
    pub(super) fn gone(&mut self, tab: &str) {
        self.shows.remove(tab);
    }

    /// Whether some tab shows `room`.
    pub(super) fn is_shown(&self, room: &str) -> bool {
        self.shows.values().flatten().any(|shown| shown == room)
    }

    /// Whether the book follows `room`.
    pub(super) fn follows(&self, room: &str) -> bool {
        self.cursors.contains_key(room)
    }

    /// Follows `room` from `cursor`, unless it follows it already. Returns whether it is new.
    pub(super) fn follow(&mut self, room: &str, cursor: Cursor) -> bool {
        if self.follows(room) {
            return false;
        }
        self.cursors.insert(room.to_owned(), cursor);
        true
    }

    /// The stream read `news`: the room is followed from where the stream stopped (from its
    /// start after a reset that brought nothing).
    pub(super) fn advance(&mut self, news: &RoomNews) {
        if let Some(upto) = news.last_id {
            self.cursors.insert(news.room.clone(), Cursor::After(upto));
        } else if news.reset {
            self.cursors.insert(news.room.clone(), Cursor::Start);
        }
    }

    /// `room` is not this browser's to read (or no longer exists): nobody follows or shows it.
    pub(super) fn drop_room(&mut self, room: &str) {
        self.cursors.remove(room);
        for rooms in self.shows.values_mut() {
            rooms.retain(|shown| shown != room);
        }
    }

    /// Stops following the rooms no tab shows that are not `joined`. Returns whether it
    /// dropped any.
    pub(super) fn retain(&mut self, joined: impl Fn(&str) -> bool) -> bool {
        let shown: HashSet<String> = self.shows.values().flatten().cloned().collect();
        let before = self.cursors.len();
        self.cursors
            .retain(|room, _| shown.contains(room) || joined(room));
        self.cursors.len() != before
    }

    /// The rooms the next stream follows, each from its cursor, with whether a tab shows it:
    /// shown ones first should there be more than a stream takes, then by name.
    pub(super) fn next_stream(&self) -> Vec<(String, Cursor, bool)> {
        let shown: HashSet<&String> = self.shows.values().flatten().collect();
        let mut rooms: Vec<(String, Cursor, bool)> = (self.cursors.iter())
            .map(|(room, cursor)| (room.clone(), *cursor, shown.contains(room)))
            .collect();
        rooms
            .sort_unstable_by(|(a, _, a_shown), (b, _, b_shown)| (!a_shown, a).cmp(&(!b_shown, b)));
        rooms.truncate(MAX_STREAM_ROOMS);
        rooms
    }
}

/// What a view takes of a room's news (see [`take`]).
#[derive(Debug)]
pub(super) enum Take {
    /// The room's log was reset: the view shows these messages instead (changes applied).
    Replace(Vec<Arc<Message>>),
    /// What the view did not have: messages to add, then changes to apply in order.
    Add {
        messages: Vec<Arc<Message>>,
        changes: Vec<Arc<Change>>,
    },
}

impl Take {
    /// Whether taking it changes nothing (the view had all of it).
    pub(super) fn is_empty(&self) -> bool {
        match self {
            Take::Replace(_) => false,
            Take::Add { messages, changes } => messages.is_empty() && changes.is_empty(),
        }
    }

    /// Applies it to the view's messages, keeping at most [`MAX_ON_SCREEN`] of them.
    pub(super) fn apply(self, list: &mut Vec<Arc<Message>>) {
        match self {
            Take::Replace(messages) => *list = messages,
            Take::Add { messages, changes } => {
                list.extend(messages);
                changes::apply_all(list, &changes);
                let excess = list.len().saturating_sub(MAX_ON_SCREEN);
                list.drain(..excess);
            }
        }
    }
}

/// What a view that has its room up to `position` takes of the room's `news`, read by a stream
/// that held `held` for the room, and moves `position` on. `None` when there is a gap: the
/// stream read the room from further on than the view has it (`position` stays).
pub(super) fn take(position: &mut Cursor, news: &RoomNews, held: Option<Cursor>) -> Option<Take> {
    let upto = news.last_id.map(Cursor::After);
    if news.reset {
        let mut list = news.messages.clone();
        changes::apply_all(&mut list, &news.changes);
        *position = upto.unwrap_or(Cursor::of(&news.messages));
        return Some(Take::Replace(list));
    }
    let at = *position;
    match held {
        // From where the view is, or from before it (another tab's rewind): what the view has
        // already is dropped below.
        Some(held) if held <= at => {}
        None if at == Cursor::Start => {}
        _ => return None,
    }
    let is_new = |id: Uuid| Cursor::After(id) > at;
    let messages = (news.messages.iter())
        .filter(|message| is_new(message.id))
        .cloned()
        .collect();
    let changes = (news.changes.iter())
        .filter(|change| is_new(change.id))
        .cloned()
        .collect();
    if let Some(upto) = upto {
        *position = at.max(upto);
    }
    Some(Take::Add { messages, changes })
}

#[cfg(test)]
mod tests {
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
            kind: ChangeKind::Edit { text: text.into() },
        })
    }

    fn news(messages: &[Arc<Message>], changes: &[Arc<Change>], last_id: Option<Uuid>) -> RoomNews {
        RoomNews {
            room: "r".into(),
            messages: messages.to_vec(),
            reset: false,
            unavailable: false,
            changes: changes.to_vec(),
            last_id,
            live: None,
        }
    }

    fn after(message: &Message) -> Cursor {
        Cursor::After(message.id)
    }

    fn ids(list: &[Arc<Message>]) -> Vec<Uuid> {
        list.iter().map(|message| message.id).collect()
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
        book.advance(&news(&[one.clone()], &[], Some(one.id)));
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
            &news(&[two.clone()], &[], Some(two.id)),
            Some(after(&one)),
        );
        take.unwrap().apply(&mut list);
        assert_eq!(ids(&list), ids(&[one, two.clone()]));
        assert_eq!(position, after(&two));
    }

    #[test]
    fn a_view_finds_a_gap_when_the_stream_read_from_further_on() {
        let (one, two, three) = (message("r"), message("r"), message("r"));
        let mut position = after(&one);
        let further = news(&[three.clone()], &[], Some(three.id));
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
        let again = news(
            &[one.clone(), two.clone(), three.clone()],
            &[changed.clone()],
            Some(three.id),
        );
        let taken = take(&mut position, &again, Some(Cursor::Start)).unwrap();
        match &taken {
            Take::Add { messages, changes } => {
                assert_eq!(ids(messages), ids(&[three.clone()]));
                assert!(changes.is_empty(), "the edit was applied already");
            }
            Take::Replace(_) => panic!("not a reset"),
        }
        taken.apply(&mut list);
        assert_eq!(ids(&list), ids(&[one, two, three.clone()]));
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
            &news(&[two.clone()], &[edited.clone()], Some(edited.id)),
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
            ..news(&[one.clone(), two.clone()], &[edited], None)
        };
        // Whatever the stream held.
        take(&mut position, &reset, Some(Cursor::After(Uuid::now_v7())))
            .unwrap()
            .apply(&mut list);
        assert_eq!(ids(&list), ids(&[one, two.clone()]));
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
            &news(&newer, &[], Some(newer[2].id)),
            Some(held),
        )
        .unwrap()
        .apply(&mut list);
        assert_eq!(list.len(), MAX_ON_SCREEN);
        assert_eq!(list.last().map(|m| m.id), Some(newer[2].id));
    }
}
