//! What a poll answer delivers, read in one pass without collecting its messages (`delivered`),
//! and the text of the bench's messages: `SEQ SENT_US`, on the clock of `now_us`, so a receiver
//! knows which message it got and how long it took.

use std::{sync::OnceLock, time::Instant};

use anyhow::{bail, Result};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::{
    connection::{Cursor, Response},
    Kind,
};

/// Microseconds since the first call: the clock messages carry their send time on.
pub(crate) fn now_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// Reads a poll answer in one pass, without collecting its messages: `each` gets every
/// message's text, `last_id` the last message's id. Returns whether the answer is a reset; the
/// server writes `reset` after `messages`, so `each` has seen a reset answer's messages by then.
struct PollAnswerSeed<'c, F> {
    last_id: &'c mut String,
    each: F,
}

impl<'de, F: FnMut(&str)> DeserializeSeed<'de> for PollAnswerSeed<'_, F> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(&str)> Visitor<'de> for PollAnswerSeed<'_, F> {
    type Value = bool;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a poll answer")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<bool, A::Error> {
        let (mut messages, mut reset) = (false, false);
        while let Some(key) = map.next_key::<PollAnswerKey>()? {
            match key {
                PollAnswerKey::Messages => {
                    map.next_value_seed(MessagesSeed(&mut self))?;
                    messages = true;
                }
                PollAnswerKey::Reset => reset = map.next_value()?,
                PollAnswerKey::Other => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        if !messages {
            return Err(serde::de::Error::missing_field("messages"));
        }
        Ok(reset)
    }
}

/// The keys of a poll answer that matter here, matched without copying them.
#[derive(serde::Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum PollAnswerKey {
    Messages,
    Reset,
    #[serde(other)]
    Other,
}

/// The `messages` array of a poll answer, read one message at a time.
struct MessagesSeed<'s, 'c, F>(&'s mut PollAnswerSeed<'c, F>);

impl<'de, F: FnMut(&str)> DeserializeSeed<'de> for MessagesSeed<'_, '_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(&str)> Visitor<'de> for MessagesSeed<'_, '_, F> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a list of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let answer = self.0;
        while let Some(message) = seq.next_element::<PolledMessage>()? {
            (answer.each)(&message.text);
            answer.last_id.clear();
            answer.last_id.push_str(&message.id);
        }
        Ok(())
    }
}

/// A message of a poll or stream answer, borrowed unless the JSON escapes something (then
/// owned: a borrowed `&str` would fail).
#[derive(serde::Deserialize)]
pub(crate) struct PolledMessage<'a> {
    #[serde(borrow)]
    pub(crate) id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) text: std::borrow::Cow<'a, str>,
}

/// Calls `each` with the text of every message a poll answer delivered; advances the cursor.
pub(crate) fn delivered(
    kind: Kind,
    response: &Response,
    cursor: &mut Cursor,
    mut each: impl FnMut(&str),
) -> Result<()> {
    match kind {
        Kind::Ours => {
            if response.status != 200 {
                bail!("poll answered {}", response.status);
            }
            let answer = PollAnswerSeed {
                last_id: &mut cursor.last_id,
                each,
            };
            let mut json = serde_json::Deserializer::from_slice(response.body);
            let reset = answer.deserialize(&mut json)?;
            json.end()?;
            if reset {
                bail!("cursor reset: messages were lost");
            }
            Ok(())
        }
        Kind::Nchan => match response.status {
            200 => {
                for (kept, value) in [
                    (&mut cursor.etag, response.etag),
                    (&mut cursor.last_modified, response.last_modified),
                ] {
                    kept.clear();
                    kept.push_str(std::str::from_utf8(value.unwrap_or_default())?);
                }
                each(std::str::from_utf8(response.body)?);
                Ok(())
            }
            // 304/408: nothing new before nchan's own timeout.
            304 | 408 => Ok(()),
            status => bail!("poll answered {status}"),
        },
    }
}

/// A message as the bench sends it: `SEQ SENT_US`.
pub(crate) fn message_text(seq: u64) -> String {
    format!("{seq} {}", now_us())
}

/// The sequence number and send time in a message `message_text` wrote; `None` for other text.
pub(crate) fn parse_message(text: &str) -> Option<(u64, u64)> {
    let (seq, sent) = text.split_once(' ')?;
    Some((seq.parse().ok()?, sent.parse().ok()?))
}
