//! What a multi-room stream answer (`POST /api/stream`) delivers, read in one pass like a poll
//! answer (`answer.rs`): each room entry's messages, its cursor moved to its last message, the
//! rooms that were reset or are unavailable, and who is online and typing (`live`, counted, not
//! collected) for a stream that asks for it, whose `live_version` moves to the one answered.
//!
//! An entry's messages are only reported once the whole entry is read, because `reset` may come
//! after them: a reset entry holds the room's recent messages, not the ones after the cursor,
//! so its messages are not deliveries (they would show as duplicates or hide losses); the
//! reset is counted and the cursor starts over from them. The messages are held meanwhile in a
//! `StreamScratch` the poller reuses, so nothing is allocated per answer once it has grown.

use std::borrow::Cow;

use anyhow::{bail, Result};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::{
    answer::{parse_message, PolledMessage},
    connection::{FollowedRoom, Response},
};

/// A stream answer's `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StreamStatus {
    Success,
    Timeout,
    Superseded,
    Disconnected,
}

/// What a stream answer said besides its messages.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StreamAnswer {
    pub(crate) status: StreamStatus,
    /// Rooms answered `"reset": true` (their cursors were unknown): their cursors start over
    /// from the messages sent with the reset, which are not reported.
    pub(crate) resets: u32,
    /// Rooms answered `"unavailable": true`: removed from the followed rooms.
    pub(crate) unavailable: u32,
    /// Messages in the answer's room entries, of any text (a reset entry's included).
    pub(crate) messages: u32,
    /// The last `live` of the answer's room entries, if any carried one.
    pub(crate) live: Option<LiveSeen>,
}

/// A room entry's `live` (who is online and typing there), as counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct LiveSeen {
    /// The version the next stream asks with (`live_version`).
    pub(crate) version: u64,
    /// Signed-in people online in the room.
    #[serde(default)]
    pub(crate) online: Count,
    /// Guests' streams following the room.
    #[serde(default)]
    pub(crate) guests: u64,
    /// People typing there.
    #[serde(default)]
    pub(crate) typing: Count,
}

/// The length of a JSON array, read without collecting it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Count(pub(crate) u64);

impl<'de> serde::Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl<'de> Visitor<'de> for CountVisitor {
            type Value = Count;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a list")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut count = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    count += 1;
                }
                Ok(Count(count))
            }
        }
        deserializer.deserialize_seq(CountVisitor)
    }
}

/// What a room entry's messages left while the rest of the entry is read. Reused from answer to
/// answer.
#[derive(Default)]
pub(crate) struct StreamScratch {
    /// `(seq, sent_us)` of the entry's bench messages, oldest first.
    messages: Vec<(u64, u64)>,
    /// The id of the entry's last message (of any text); meaningful only if `any`.
    last_id: String,
    /// Whether the entry had any message at all.
    any: bool,
    /// The entry's messages, of any text.
    count: u32,
}

/// Reads a stream answer: for every bench message (`answer::message_text`) of a room that was
/// neither reset nor unavailable, calls `each(room's index, seq, sent_us)`; moves each answered
/// room's cursor to its last message and its `live_version` to the `live` answered; drops
/// unavailable rooms from `rooms`. An answer that is not a 200, or names a room not in `rooms`,
/// is an error.
pub(crate) fn stream_delivered(
    response: &Response,
    rooms: &mut Vec<FollowedRoom>,
    scratch: &mut StreamScratch,
    each: impl FnMut(u32, u64, u64),
) -> Result<StreamAnswer> {
    if response.status != 200 {
        bail!("stream answered {}", response.status);
    }
    let seed = StreamAnswerSeed {
        rooms,
        scratch,
        each,
        resets: 0,
        unavailable: 0,
        messages: 0,
        live: None,
    };
    let mut json = serde_json::Deserializer::from_slice(response.body);
    let answer = seed.deserialize(&mut json)?;
    json.end()?;
    Ok(answer)
}

struct StreamAnswerSeed<'r, F> {
    rooms: &'r mut Vec<FollowedRoom>,
    scratch: &'r mut StreamScratch,
    each: F,
    resets: u32,
    unavailable: u32,
    messages: u32,
    live: Option<LiveSeen>,
}

/// The keys of a stream answer and of its room entries that matter here.
#[derive(serde::Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum StreamKey {
    Status,
    Rooms,
    Room,
    Messages,
    Reset,
    Unavailable,
    Live,
    #[serde(other)]
    Other,
}

impl<'de, F: FnMut(u32, u64, u64)> DeserializeSeed<'de> for StreamAnswerSeed<'_, F> {
    type Value = StreamAnswer;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<StreamAnswer, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(u32, u64, u64)> Visitor<'de> for StreamAnswerSeed<'_, F> {
    type Value = StreamAnswer;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a stream answer")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<StreamAnswer, A::Error> {
        let mut status = None;
        while let Some(key) = map.next_key::<StreamKey>()? {
            match key {
                StreamKey::Status => status = Some(map.next_value()?),
                StreamKey::Rooms => map.next_value_seed(RoomsSeed(&mut self))?,
                _ => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(StreamAnswer {
            status: status.ok_or_else(|| serde::de::Error::missing_field("status"))?,
            resets: self.resets,
            unavailable: self.unavailable,
            messages: self.messages,
            live: self.live,
        })
    }
}

/// The `rooms` array, one entry at a time.
struct RoomsSeed<'s, 'r, F>(&'s mut StreamAnswerSeed<'r, F>);

impl<'de, F: FnMut(u32, u64, u64)> DeserializeSeed<'de> for RoomsSeed<'_, '_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(u32, u64, u64)> Visitor<'de> for RoomsSeed<'_, '_, F> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a list of room entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(RoomNewsSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// A room name, borrowed unless the JSON escapes something.
#[derive(serde::Deserialize)]
struct Name<'a>(#[serde(borrow)] Cow<'a, str>);

/// One room entry: `{"room", "messages", "reset"?, "unavailable"?, "live"?}`, in any order.
struct RoomNewsSeed<'s, 'r, F>(&'s mut StreamAnswerSeed<'r, F>);

impl<'de, F: FnMut(u32, u64, u64)> DeserializeSeed<'de> for RoomNewsSeed<'_, '_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(u32, u64, u64)> Visitor<'de> for RoomNewsSeed<'_, '_, F> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a room entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let answer = self.0;
        let scratch = &mut *answer.scratch;
        scratch.messages.clear();
        scratch.any = false;
        scratch.count = 0;
        let (mut room, mut reset, mut unavailable) = (None::<Name>, false, false);
        let mut live = None;
        while let Some(key) = map.next_key::<StreamKey>()? {
            match key {
                StreamKey::Room => room = Some(map.next_value()?),
                StreamKey::Messages => map.next_value_seed(NewsMessagesSeed(scratch))?,
                StreamKey::Reset => reset = map.next_value()?,
                StreamKey::Unavailable => unavailable = map.next_value()?,
                StreamKey::Live => live = Some(map.next_value::<LiveSeen>()?),
                _ => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        let Name(name) = room.ok_or_else(|| serde::de::Error::missing_field("room"))?;
        let Some(position) = answer.rooms.iter().position(|r| r.name == name) else {
            return Err(serde::de::Error::custom(format!(
                "answered room {name}, which it does not follow"
            )));
        };
        answer.messages += scratch.count;
        if unavailable {
            answer.unavailable += 1;
            answer.rooms.remove(position);
            return Ok(());
        }
        let followed = &mut answer.rooms[position];
        if let Some(live) = live {
            followed.live_version = Some(live.version);
            answer.live = Some(live);
        }
        if reset {
            // Start over from what the reset sent (nothing: wait for the next new message).
            answer.resets += 1;
            followed.last_id.clear();
            if scratch.any {
                followed.last_id.push_str(&scratch.last_id);
            }
            return Ok(());
        }
        if scratch.any {
            followed.last_id.clear();
            followed.last_id.push_str(&scratch.last_id);
        }
        for &(seq, sent_us) in &scratch.messages {
            (answer.each)(followed.index, seq, sent_us);
        }
        Ok(())
    }
}

/// A room entry's `messages`, read one at a time into the scratch.
struct NewsMessagesSeed<'s>(&'s mut StreamScratch);

impl<'de> DeserializeSeed<'de> for NewsMessagesSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for NewsMessagesSeed<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a list of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let scratch = self.0;
        while let Some(message) = seq.next_element::<PolledMessage>()? {
            if let Some(parsed) = parse_message(&message.text) {
                scratch.messages.push(parsed);
            }
            scratch.last_id.clear();
            scratch.last_id.push_str(&message.id);
            scratch.any = true;
            scratch.count += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn followed(name: &str, index: u32, last_id: &str) -> FollowedRoom {
        FollowedRoom {
            name: name.into(),
            index,
            last_id: last_id.into(),
            live_version: None,
        }
    }

    fn message(id: &str, text: &str) -> String {
        format!(
            r#"{{"id":"{id}","sender":"bench","text":"{text}","timestamp":1.5,"room":"x","verified":false}}"#
        )
    }

    /// `(room index, seq, sent_us)` of each message reported.
    type Reported = Vec<(u32, u64, u64)>;

    /// Reads `body` as a 200 answer: the answer and every message reported.
    fn read(body: &str, rooms: &mut Vec<FollowedRoom>) -> Result<(StreamAnswer, Reported)> {
        let response = Response {
            status: 200,
            body: body.as_bytes(),
            etag: None,
            last_modified: None,
        };
        let mut got = Vec::new();
        let answer = stream_delivered(
            &response,
            rooms,
            &mut StreamScratch::default(),
            |room, seq, sent| got.push((room, seq, sent)),
        )?;
        Ok((answer, got))
    }

    #[test]
    fn messages_are_reported_per_room_and_cursors_move_to_the_last() {
        let mut rooms = vec![
            followed("a", 7, ""),
            followed("b", 9, "b0"),
            followed("c", 3, "c0"),
        ];
        let body = format!(
            r#"{{"status":"success","rooms":[{{"room":"a","messages":[{},{}]}},{{"room":"b","messages":[{},{}],"reset":false}}],"timestamp":1764590000.1}}"#,
            message("a1", "1 100"),
            message("a2", "4 400"),
            message("b1", "2 200"),
            // Not a bench message: not reported, but the cursor still moves past it.
            message("b2", "hello"),
        );
        let (answer, got) = read(&body, &mut rooms).unwrap();
        assert_eq!(
            answer,
            StreamAnswer {
                status: StreamStatus::Success,
                resets: 0,
                unavailable: 0,
                messages: 4,
                live: None,
            }
        );
        assert_eq!(got, vec![(7, 1, 100), (7, 4, 400), (9, 2, 200)]);
        assert_eq!(
            rooms,
            vec![
                followed("a", 7, "a2"),
                followed("b", 9, "b2"),
                followed("c", 3, "c0")
            ]
        );
    }

    #[test]
    fn the_room_name_may_come_after_the_messages() {
        let mut rooms = vec![followed("a", 1, "")];
        let body = format!(
            r#"{{"rooms":[{{"messages":[{}],"room":"a"}}],"status":"success"}}"#,
            message("a1", "5 500")
        );
        let (_, got) = read(&body, &mut rooms).unwrap();
        assert_eq!(got, vec![(1, 5, 500)]);
        assert_eq!(rooms[0].last_id, "a1");
    }

    #[test]
    fn a_reset_is_counted_its_messages_are_not_reported_and_the_cursor_starts_over() {
        let mut rooms = vec![followed("a", 1, "gone"), followed("b", 2, "gone")];
        let body = format!(
            r#"{{"status":"success","rooms":[{{"room":"a","messages":[{},{}],"reset":true}},{{"room":"b","messages":[],"reset":true}}]}}"#,
            message("a8", "8 800"),
            message("a9", "9 900"),
        );
        let (answer, got) = read(&body, &mut rooms).unwrap();
        assert_eq!(answer.resets, 2);
        assert!(got.is_empty());
        // From the reset's last message; with none, from the next new message.
        assert_eq!(rooms, vec![followed("a", 1, "a9"), followed("b", 2, "")]);
    }

    #[test]
    fn live_is_counted_and_moves_the_version_the_next_stream_asks_with() {
        let mut rooms = vec![
            FollowedRoom {
                live_version: Some(0),
                ..followed("a", 1, "a1")
            },
            followed("b", 2, "b1"),
        ];
        // Only who is online and typing changed in a: no messages, the cursor stays.
        let body = r#"{"status":"success","rooms":[{"room":"a","messages":[],"live":{"version":12,"online":["ann","bo"],"guests":900,"typing":["bo"]}}]}"#;
        let (answer, got) = read(body, &mut rooms).unwrap();
        assert!(got.is_empty());
        assert_eq!(answer.messages, 0);
        assert_eq!(
            answer.live,
            Some(LiveSeen {
                version: 12,
                online: Count(2),
                guests: 900,
                typing: Count(1),
            })
        );
        assert_eq!(rooms[0].live_version, Some(12));
        assert_eq!(rooms[0].last_id, "a1");
        // With a message, `live` before the messages, and a room that did not ask.
        let body = format!(
            r#"{{"status":"success","rooms":[{{"room":"a","live":{{"version":13,"online":[],"guests":0,"typing":[]}},"messages":[{}],"last_id":"a2"}},{{"room":"b","messages":[{}]}}]}}"#,
            message("a2", "6 600"),
            message("b2", "7 700"),
        );
        let (answer, got) = read(&body, &mut rooms).unwrap();
        assert_eq!(got, vec![(1, 6, 600), (2, 7, 700)]);
        assert_eq!(answer.messages, 2);
        assert_eq!(answer.live.map(|live| live.version), Some(13));
        assert_eq!(rooms[0].live_version, Some(13));
        assert_eq!(rooms[1].live_version, None);
        assert_eq!(rooms[0].last_id, "a2");
    }

    #[test]
    fn an_unavailable_room_is_dropped() {
        let mut rooms = vec![followed("a", 1, ""), followed("secret", 2, "s1")];
        let body =
            r#"{"status":"success","rooms":[{"room":"secret","messages":[],"unavailable":true}]}"#;
        let (answer, got) = read(body, &mut rooms).unwrap();
        assert_eq!(answer.unavailable, 1);
        assert!(got.is_empty());
        assert_eq!(rooms, vec![followed("a", 1, "")]);
    }

    #[test]
    fn timeouts_and_other_statuses_are_read() {
        for (status, expected) in [
            ("timeout", StreamStatus::Timeout),
            ("superseded", StreamStatus::Superseded),
            ("disconnected", StreamStatus::Disconnected),
        ] {
            let mut rooms = vec![followed("a", 1, "a1")];
            let body = format!(r#"{{"status":"{status}","rooms":[],"timestamp":1.0}}"#);
            let (answer, got) = read(&body, &mut rooms).unwrap();
            assert_eq!(answer.status, expected);
            assert!(got.is_empty());
            assert_eq!(rooms[0].last_id, "a1");
        }
    }

    #[test]
    fn errors_and_rooms_not_followed_are_refused() {
        let mut rooms = vec![followed("a", 1, "")];
        let body = r#"{"status":"success","rooms":[{"room":"z","messages":[]}]}"#;
        assert!(read(body, &mut rooms).is_err());
        assert!(read(r#"{"rooms":[]}"#, &mut rooms).is_err());
        let response = Response {
            status: 503,
            body: br#"{"error":"too many polls"}"#,
            etag: None,
            last_modified: None,
        };
        let outcome = stream_delivered(
            &response,
            &mut rooms,
            &mut StreamScratch::default(),
            |_, _, _| {},
        );
        assert!(outcome.is_err());
    }
}
