//! The index itself: SQLite tables any connection can hold, in the message store's own file
//! (the SQLite store writes them in the transaction that appends, see `store::sqlite::log`) or
//! in memory (see `indexer`). Both apply the same entries with [`apply`] and answer with
//! [`find`] and [`around`], so every store finds the same messages in the same order.
//!
//! `search_messages` keeps each message as it is now (its text after the last edit; a deleted
//! one as a tombstone, still counted by retention, never found); `search` (FTS5, contentless)
//! indexes its words twice, by stem and as typed (for prefixes), under the same rowid (`seq`,
//! which orders a room's messages as its log does).

use rusqlite::{params, Connection, OptionalExtension, Row};
use uuid::Uuid;

use super::{query::Query, terms};
use crate::model::{ChangeKind, Entry, Message};

/// The tables, for a fresh database (the in-memory index) and as a migration of the SQLite
/// store. The `ascii` tokenizer only splits at ASCII spaces and punctuation: the words reach
/// it already cut and normalised (see `terms`), and every character beyond ASCII is part of a
/// word, so ideographs and emoji are kept.
pub const SCHEMA: &str = "
    CREATE TABLE search_messages (
        seq       INTEGER PRIMARY KEY,
        id        TEXT NOT NULL UNIQUE,
        room      TEXT NOT NULL,
        sender    TEXT NOT NULL,
        author    TEXT,
        verified  INTEGER NOT NULL,
        text      TEXT NOT NULL,
        timestamp REAL NOT NULL,
        edited_at REAL,
        deleted   INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX search_messages_by_room ON search_messages (room);
    CREATE INDEX search_messages_by_time ON search_messages (timestamp);
    CREATE VIRTUAL TABLE search USING fts5(
        stems, plains, tokenize = 'ascii', content = '', contentless_delete = 1
    );
    CREATE TRIGGER search_messages_gone AFTER DELETE ON search_messages BEGIN
        DELETE FROM search WHERE rowid = old.seq;
    END;";

/// Whom each message mentions, for a person's mentions and unread counts (a later migration
/// than [`SCHEMA`] for the SQLite store; both for an index in memory). A deleted message
/// mentions nobody.
pub const MENTIONS_SCHEMA: &str = "
    ALTER TABLE search_messages ADD COLUMN mentions TEXT NOT NULL DEFAULT '';
    CREATE TABLE search_mentions (
        account TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        PRIMARY KEY (account, seq)
    ) WITHOUT ROWID;
    CREATE INDEX search_mentions_by_seq ON search_mentions (seq);
    CREATE TRIGGER search_mentions_gone AFTER DELETE ON search_messages BEGIN
        DELETE FROM search_mentions WHERE seq = old.seq;
    END;";

/// The file each message carries (its id, and the attachment as JSON), so that a file no
/// kept message carries any more (retention, a crash between a deletion's two steps) is found
/// and removed (`server::files`), and a message read from the index shows its file.
pub const FILES_SCHEMA: &str = "
    ALTER TABLE search_messages ADD COLUMN file_id TEXT;
    ALTER TABLE search_messages ADD COLUMN attachment TEXT;
    CREATE INDEX search_messages_by_file ON search_messages (file_id) WHERE file_id IS NOT NULL;";

/// Keeps `entry` in the index: a message is added; an edit replaces its text and a deletion
/// leaves a tombstone, when [`Message::changed_by`] would apply them; reactions change nothing
/// the index keeps. Returns whether it added a message.
pub fn apply(connection: &Connection, entry: &Entry) -> rusqlite::Result<bool> {
    match entry {
        Entry::Message(message) => {
            connection
                .prepare_cached(
                    "INSERT INTO search_messages
                         (id, room, sender, author, verified, text, timestamp, mentions,
                          file_id, attachment)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    message.id.to_string(),
                    message.room,
                    message.sender,
                    message.author,
                    message.verified,
                    message.text,
                    message.timestamp,
                    message.mentions.join(" "),
                    (message.attachment.as_ref()).map(|file| file.id.to_string()),
                    (message.attachment.as_ref()).and_then(|file| serde_json::to_string(file).ok()),
                ])?;
            let seq = connection.last_insert_rowid();
            index_text(connection, seq, &message.text)?;
            index_mentions(connection, seq, &message.mentions)?;
            Ok(true)
        }
        Entry::Change(change) => {
            let kept: Option<(i64, Option<String>)> = connection
                .prepare_cached(
                    "SELECT seq, author FROM search_messages WHERE id = ?1 AND NOT deleted",
                )?
                .query_row([change.message_id.to_string()], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            let Some((seq, author)) = kept else {
                return Ok(false);
            };
            match &change.kind {
                ChangeKind::Edit { text, mentions }
                    if author.as_deref() == Some(change.author.as_str()) =>
                {
                    connection
                        .prepare_cached(
                            "UPDATE search_messages SET text = ?2, edited_at = ?3, mentions = ?4
                             WHERE seq = ?1",
                        )?
                        .execute(params![seq, text, change.timestamp, mentions.join(" ")])?;
                    unindex(connection, seq)?;
                    index_text(connection, seq, text)?;
                    index_mentions(connection, seq, mentions)?;
                }
                ChangeKind::Delete => {
                    connection
                        .prepare_cached(
                            "UPDATE search_messages
                             SET text = '', deleted = 1, mentions = '', attachment = NULL
                             WHERE seq = ?1",
                        )?
                        .execute([seq])?;
                    unindex(connection, seq)?;
                }
                _ => {}
            }
            Ok(false)
        }
    }
}

fn index_text(connection: &Connection, seq: i64, text: &str) -> rusqlite::Result<()> {
    let (stems, plains) = terms::indexed(text);
    connection
        .prepare_cached("INSERT INTO search (rowid, stems, plains) VALUES (?1, ?2, ?3)")?
        .execute(params![seq, stems, plains])?;
    Ok(())
}

/// Takes the message's words and mentions out of the index (its row stays).
fn unindex(connection: &Connection, seq: i64) -> rusqlite::Result<()> {
    connection
        .prepare_cached("DELETE FROM search WHERE rowid = ?1")?
        .execute([seq])?;
    connection
        .prepare_cached("DELETE FROM search_mentions WHERE seq = ?1")?
        .execute([seq])?;
    Ok(())
}

fn index_mentions(connection: &Connection, seq: i64, mentions: &[String]) -> rusqlite::Result<()> {
    let mut insert = connection
        .prepare_cached("INSERT OR IGNORE INTO search_mentions (account, seq) VALUES (?1, ?2)")?;
    for account in mentions {
        insert.execute(params![account, seq])?;
    }
    Ok(())
}

/// What a search may return, besides matching the query.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only this room.
    pub room: Option<String>,
    /// Only messages by this author (see [`Message::author`]).
    pub author: Option<String>,
    /// Never these rooms (the private rooms the caller may not read).
    pub hidden: Vec<String>,
}

/// A page of results, best first; `more` when another page follows the last of them.
#[derive(Debug, Default)]
pub struct Found {
    pub messages: Vec<Message>,
    pub more: bool,
}

/// How many of a query's newest matches are ranked (and paged through).
pub const RANKED_MATCHES: usize = 5_000;

/// The messages matching `query` within `scope`, best matches first (BM25, as FTS5 ranks
/// them) among the newest `ranked` ([`RANKED_MATCHES`]), the newest first among equals; after
/// `before`, a result of an earlier page. `None` when `before` is not a result of this query
/// (any more).
pub fn find(
    connection: &Connection,
    query: &Query,
    scope: &Scope,
    before: Option<Uuid>,
    limit: usize,
    ranked: usize,
) -> rusqlite::Result<Option<Found>> {
    let expression = query.fts_expression();
    // Where the previous page ended, in this query's order.
    let cursor: Option<(f64, i64)> = match before {
        None => None,
        Some(id) => {
            let cursor = connection
                .prepare_cached(
                    "SELECT bm25(search), m.seq FROM search_messages m
                     JOIN search ON search.rowid = m.seq
                     WHERE m.id = ?1 AND search MATCH ?2",
                )?
                .query_row(params![id.to_string(), expression], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            match cursor {
                Some(cursor) => Some(cursor),
                None => return Ok(None),
            }
        }
    };
    let hidden = serde_json::to_string(&scope.hidden).expect("names serialize");
    // Ranked are the newest matches only: ranking every match of a word in every tenth
    // message costs a whole scan of them per page; reading the newest ones stops early.
    let mut statement = connection.prepare_cached(
        "WITH newest AS (
             SELECT search.rowid AS seq, bm25(search) AS score
             FROM search JOIN search_messages m ON m.seq = search.rowid
             WHERE search MATCH ?1
               AND (?2 IS NULL OR m.room = ?2)
               AND (?3 IS NULL OR m.author = ?3)
               AND m.room NOT IN (SELECT value FROM json_each(?4))
             ORDER BY search.rowid DESC
             LIMIT ?8
         )
         SELECT m.id, m.room, m.sender, m.author, m.verified, m.text, m.timestamp, m.edited_at,
                m.deleted, m.mentions, m.attachment
         FROM newest JOIN search_messages m ON m.seq = newest.seq
         WHERE ?5 IS NULL OR newest.score > ?5 OR (newest.score = ?5 AND newest.seq < ?6)
         ORDER BY newest.score, newest.seq DESC
         LIMIT ?7",
    )?;
    let mut messages = statement
        .query_map(
            params![
                expression,
                scope.room,
                scope.author,
                hidden,
                cursor.map(|(score, _)| score),
                cursor.map(|(_, seq)| seq),
                (limit + 1) as i64,
                ranked as i64,
            ],
            message,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let more = messages.len() > limit;
    messages.truncate(limit);
    Ok(Some(Found { messages, more }))
}

/// The room's messages around `id` (about half before, half after, `limit` in all, oldest
/// first); `None` when the room does not keep it.
pub fn around(
    connection: &Connection,
    room: &str,
    id: Uuid,
    limit: usize,
) -> rusqlite::Result<Option<Vec<Message>>> {
    let seq: Option<i64> = connection
        .prepare_cached("SELECT seq FROM search_messages WHERE id = ?1 AND room = ?2")?
        .query_row(params![id.to_string(), room], |row| row.get(0))
        .optional()?;
    let Some(seq) = seq else {
        return Ok(None);
    };
    const COLUMNS: &str =
        "id, room, sender, author, verified, text, timestamp, edited_at, deleted, mentions, attachment";
    let before_count = (limit.saturating_sub(1)) / 2;
    let mut before = connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM search_messages WHERE room = ?1 AND seq < ?2
             ORDER BY seq DESC LIMIT ?3"
        ))?
        .query_map(params![room, seq, before_count as i64], message)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    before.reverse();
    let after_count = limit.max(1) - before.len();
    let after = connection
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM search_messages WHERE room = ?1 AND seq >= ?2
             ORDER BY seq LIMIT ?3"
        ))?
        .query_map(params![room, seq, after_count as i64], message)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    before.extend(after);
    Ok(Some(before))
}

/// The newest messages mentioning `account`, outside `hidden` rooms, newest first.
pub fn mentions_of(
    connection: &Connection,
    account: &str,
    hidden: &[String],
    limit: usize,
) -> rusqlite::Result<Vec<Message>> {
    let hidden = serde_json::to_string(hidden).expect("names serialize");
    connection
        .prepare_cached(
            "SELECT m.id, m.room, m.sender, m.author, m.verified, m.text, m.timestamp,
                    m.edited_at, m.deleted, m.mentions, m.attachment
             FROM search_mentions x JOIN search_messages m ON m.seq = x.seq
             WHERE x.account = ?1 AND m.room NOT IN (SELECT value FROM json_each(?2))
             ORDER BY x.seq DESC LIMIT ?3",
        )?
        .query_map(params![account, hidden, limit as i64], message)?
        .collect()
}

/// How many messages of `room` after `read` (all, for `None`) mention `account`.
pub fn unread_mentions(
    connection: &Connection,
    account: &str,
    room: &str,
    read: Option<Uuid>,
) -> rusqlite::Result<usize> {
    // Message ids are UUIDv7 in canonical text: text order is time order.
    connection
        .prepare_cached(
            "SELECT count(*) FROM search_mentions x JOIN search_messages m ON m.seq = x.seq
             WHERE x.account = ?1 AND m.room = ?2 AND (?3 IS NULL OR m.id > ?3)",
        )?
        .query_row(
            params![account, room, read.map(|id| id.to_string())],
            |row| row.get::<_, i64>(0),
        )
        .map(|count| count as usize)
}

/// A message as the index keeps it (its reactions are the broker's, for the recent ones).
fn message(row: &Row) -> rusqlite::Result<Message> {
    let id: String = row.get(0)?;
    Ok(Message {
        id: Uuid::parse_str(&id).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, error.into())
        })?,
        room: row.get(1)?,
        sender: row.get(2)?,
        author: row.get(3)?,
        verified: row.get(4)?,
        text: row.get(5)?,
        timestamp: row.get(6)?,
        edited_at: row.get(7)?,
        deleted: row.get(8)?,
        reactions: Vec::new(),
        mentions: (row.get::<_, String>(9)?)
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        attachment: (row.get::<_, Option<String>>(10)?)
            .and_then(|json| serde_json::from_str(&json).ok()),
    })
}

/// Whether a kept message that is not deleted carries the file.
pub fn carries_file(connection: &Connection, file_id: Uuid) -> rusqlite::Result<bool> {
    connection
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM search_messages WHERE file_id = ?1 AND NOT deleted)",
        )?
        .query_row([file_id.to_string()], |row| row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Connection {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(SCHEMA).unwrap();
        connection.execute_batch(MENTIONS_SCHEMA).unwrap();
        connection.execute_batch(FILES_SCHEMA).unwrap();
        connection
    }

    fn add(connection: &Connection, text: &str) {
        let message = Message {
            id: Uuid::now_v7(),
            text: text.into(),
            room: "r".into(),
            ..Message::default()
        };
        apply(connection, &Entry::from(message)).unwrap();
    }

    #[test]
    fn only_the_newest_matches_are_ranked_and_the_best_of_them_come_first() {
        let connection = index();
        add(&connection, "word word word");
        for i in 0..5 {
            add(
                &connection,
                &format!("word in a longer message number {i} of five"),
            );
        }
        add(&connection, "word word");
        let query = Query::parse("word").unwrap();
        let texts = |ranked| -> Vec<String> {
            let found = find(&connection, &query, &Scope::default(), None, 10, ranked);
            found
                .unwrap()
                .unwrap()
                .messages
                .into_iter()
                .map(|m| m.text)
                .collect()
        };
        let all = texts(RANKED_MATCHES);
        assert_eq!(all.len(), 7);
        assert_eq!(
            all[0], "word word word",
            "the best match, though the oldest"
        );
        let newest = texts(3);
        assert_eq!(
            newest,
            [
                "word word",
                "word in a longer message number 4 of five",
                "word in a longer message number 3 of five",
            ]
        );
    }
}
