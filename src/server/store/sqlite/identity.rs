//! Accounts, sessions, private rooms and joined rooms in the SQLite file of the messages
//! (migrations 3 and 4 of [`super::MIGRATIONS`]). One instance only, so it tells no sink of
//! anything.
//!
//! Tables: `accounts(key, name, password_hash, disabled, created_at)` keyed by the lowercase
//! name; `sessions(token_hash, account, expires_at)`, indexed by account and by expiry;
//! `private_rooms(name, owner)` and `private_room_members(room, account)`, the owner never
//! among the members; `joined_rooms(account, room, last_read)`, indexed by room, `last_read`
//! a message id as canonical (lowercase, hyphenated) text so that comparing texts compares
//! ids.
//!
//! Every method is one transaction on this store's own connection, run on a blocking thread:
//! the message writer thread never waits for it, nor it for the writer beyond SQLite's busy
//! timeout. Expired sessions are never returned, and are deleted whenever a new one is kept, so
//! the table stays as large as the live sessions.

use std::{collections::BTreeSet, path::Path};

use async_trait::async_trait;
use rusqlite::{params, types::Type, Connection, OptionalExtension, Row};
use uuid::Uuid;

use super::Transactions;
use crate::model::NotifyLevel;
use crate::server::{
    clock::unix_seconds,
    store::{
        identity::{
            AccountRecord, IdentityStore, JoinedRoomRecord, PrivateRoomRecord, SessionRecord,
            TokenHash,
        },
        StoreError,
    },
};

pub struct SqliteIdentityStore {
    db: Transactions,
}

impl SqliteIdentityStore {
    /// Opens (creating if needed) the database at `path`, running whatever migrations are
    /// pending, whether or not the message store opened it first.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            db: Transactions::open(path)?,
        })
    }
}

const ACCOUNT_COLUMNS: &str = "name, password_hash, disabled, created_at";

fn account_from(row: &Row<'_>) -> rusqlite::Result<AccountRecord> {
    Ok(AccountRecord {
        name: row.get(0)?,
        password_hash: row.get(1)?,
        disabled: row.get(2)?,
        created_at: row.get(3)?,
    })
}

fn private_room_in(
    connection: &Connection,
    name: &str,
) -> rusqlite::Result<Option<PrivateRoomRecord>> {
    let Some(owner) = connection
        .query_row(
            "SELECT owner FROM private_rooms WHERE name = ?1",
            params![name],
            |row| row.get::<_, String>(0),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let mut members =
        connection.prepare_cached("SELECT account FROM private_room_members WHERE room = ?1")?;
    let members = members
        .query_map(params![name], |row| row.get(0))?
        .collect::<rusqlite::Result<BTreeSet<String>>>()?;
    Ok(Some(PrivateRoomRecord {
        name: name.to_owned(),
        owner,
        members,
    }))
}

/// A joined room from `room, last_read`.
fn joined_from(row: &Row<'_>) -> rusqlite::Result<JoinedRoomRecord> {
    let last_read = row
        .get::<_, Option<String>>(1)?
        .map(|id| {
            Uuid::parse_str(&id).map_err(|error| {
                rusqlite::Error::FromSqlConversionFailure(1, Type::Text, error.into())
            })
        })
        .transpose()?;
    Ok(JoinedRoomRecord {
        room: row.get(0)?,
        last_read,
        notify: (row.get::<_, Option<String>>(2)?)
            .as_deref()
            .and_then(NotifyLevel::from_kept),
    })
}

/// Whether the account may join the room: any public room; a private one as owner or member.
fn may_join(connection: &Connection, account: &str, room: &str) -> rusqlite::Result<bool> {
    connection.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM private_rooms WHERE name = ?2)
             OR EXISTS (SELECT 1 FROM private_rooms WHERE name = ?2 AND owner = ?1)
             OR EXISTS (SELECT 1 FROM private_room_members WHERE room = ?2 AND account = ?1)",
        params![account, room],
        |row| row.get(0),
    )
}

#[async_trait]
impl IdentityStore for SqliteIdentityStore {
    async fn create_account(&self, account: &AccountRecord) -> Result<bool, StoreError> {
        let account = account.clone();
        self.db
            .write(move |connection| {
                let inserted = connection.execute(
                    "INSERT INTO accounts (key, name, password_hash, disabled, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key) DO NOTHING",
                    params![
                        account.key(),
                        account.name,
                        account.password_hash,
                        account.disabled,
                        account.created_at,
                    ],
                )?;
                Ok(inserted > 0)
            })
            .await
    }

    async fn account(&self, key: &str) -> Result<Option<AccountRecord>, StoreError> {
        let key = key.to_owned();
        self.db
            .read(move |connection| {
                connection
                    .query_row(
                        &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE key = ?1"),
                        params![key],
                        account_from,
                    )
                    .optional()
            })
            .await
    }

    async fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        self.db
            .read(|connection| {
                let mut all = connection.prepare(&format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY key"
                ))?;
                let accounts = all.query_map([], account_from)?.collect();
                accounts
            })
            .await
    }

    async fn set_password(&self, key: &str, password_hash: &str) -> Result<bool, StoreError> {
        let (key, password_hash) = (key.to_owned(), password_hash.to_owned());
        self.db
            .write(move |connection| {
                let updated = connection.execute(
                    "UPDATE accounts SET password_hash = ?2 WHERE key = ?1",
                    params![key, password_hash],
                )?;
                Ok(updated > 0)
            })
            .await
    }

    async fn set_disabled(&self, key: &str, disabled: bool) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.db
            .write(move |connection| {
                let updated = connection.execute(
                    "UPDATE accounts SET disabled = ?2 WHERE key = ?1",
                    params![key, disabled],
                )?;
                if updated > 0 && disabled {
                    connection.execute("DELETE FROM sessions WHERE account = ?1", params![key])?;
                }
                Ok(updated > 0)
            })
            .await
    }

    async fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let session = session.clone();
        self.db
            .write(move |connection| {
                connection.execute(
                    "DELETE FROM sessions WHERE expires_at <= ?1",
                    params![unix_seconds()],
                )?;
                connection.execute(
                    "INSERT OR REPLACE INTO sessions (token_hash, account, expires_at)
                 VALUES (?1, ?2, ?3)",
                    params![session.token_hash, session.account, session.expires_at],
                )?;
                Ok(())
            })
            .await
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError> {
        let token_hash = *token_hash;
        self.db
            .read(move |connection| {
                connection
                    .query_row(
                        "SELECT account, expires_at FROM sessions
                     WHERE token_hash = ?1 AND expires_at > ?2",
                        params![token_hash, unix_seconds()],
                        |row| {
                            Ok(SessionRecord {
                                token_hash,
                                account: row.get(0)?,
                                expires_at: row.get(1)?,
                            })
                        },
                    )
                    .optional()
            })
            .await
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> Result<bool, StoreError> {
        let token_hash = *token_hash;
        self.db
            .write(move |connection| {
                let deleted = connection.execute(
                    "DELETE FROM sessions WHERE token_hash = ?1",
                    params![token_hash],
                )?;
                Ok(deleted > 0)
            })
            .await
    }

    async fn delete_sessions_of(&self, account: &str) -> Result<usize, StoreError> {
        let account = account.to_owned();
        self.db
            .write(move |connection| {
                connection.execute("DELETE FROM sessions WHERE account = ?1", params![account])
            })
            .await
    }

    async fn create_private_room(&self, room: &PrivateRoomRecord) -> Result<bool, StoreError> {
        let room = room.clone();
        self.db
            .write(move |connection| {
                let inserted = connection.execute(
                    "INSERT INTO private_rooms (name, owner) VALUES (?1, ?2)
                 ON CONFLICT (name) DO NOTHING",
                    params![room.name, room.owner],
                )?;
                if inserted == 0 {
                    return Ok(false);
                }
                let mut add = connection.prepare_cached(
                    "INSERT OR IGNORE INTO private_room_members (room, account) VALUES (?1, ?2)",
                )?;
                for member in room.members.iter().filter(|member| **member != room.owner) {
                    add.execute(params![room.name, member])?;
                }
                Ok(true)
            })
            .await
    }

    async fn private_room(&self, name: &str) -> Result<Option<PrivateRoomRecord>, StoreError> {
        let name = name.to_owned();
        self.db
            .read(move |connection| private_room_in(connection, &name))
            .await
    }

    async fn private_rooms(&self) -> Result<Vec<PrivateRoomRecord>, StoreError> {
        self.db
            .read(|connection| {
                let mut names =
                    connection.prepare("SELECT name FROM private_rooms ORDER BY name")?;
                let names = names
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let mut rooms = Vec::with_capacity(names.len());
                for name in names {
                    // Within the transaction, so every name read is still there.
                    rooms.extend(private_room_in(connection, &name)?);
                }
                Ok(rooms)
            })
            .await
    }

    async fn delete_private_room(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.db
            .write(move |connection| {
                let deleted = connection
                    .execute("DELETE FROM private_rooms WHERE name = ?1", params![name])?;
                if deleted == 0 {
                    return Ok(false);
                }
                connection.execute(
                    "DELETE FROM private_room_members WHERE room = ?1",
                    params![name],
                )?;
                connection.execute("DELETE FROM joined_rooms WHERE room = ?1", params![name])?;
                Ok(true)
            })
            .await
    }

    async fn add_member(&self, room: &str, account: &str) -> Result<bool, StoreError> {
        let (room, account) = (room.to_owned(), account.to_owned());
        self.db
            .write(move |connection| {
                let owner: Option<String> = connection
                    .query_row(
                        "SELECT owner FROM private_rooms WHERE name = ?1",
                        params![room],
                        |row| row.get(0),
                    )
                    .optional()?;
                match owner {
                    None => Ok(false),
                    Some(owner) if owner == account => Ok(true),
                    Some(_) => {
                        connection.execute(
                            "INSERT OR IGNORE INTO private_room_members (room, account)
                         VALUES (?1, ?2)",
                            params![room, account],
                        )?;
                        Ok(true)
                    }
                }
            })
            .await
    }

    async fn remove_member(&self, room: &str, account: &str) -> Result<bool, StoreError> {
        let (room, account) = (room.to_owned(), account.to_owned());
        self.db
            .write(move |connection| {
                let removed = connection.execute(
                    "DELETE FROM private_room_members WHERE room = ?1 AND account = ?2",
                    params![room, account],
                )?;
                if removed > 0 {
                    connection.execute(
                        "DELETE FROM joined_rooms WHERE account = ?1 AND room = ?2",
                        params![account, room],
                    )?;
                }
                Ok(removed > 0)
            })
            .await
    }

    async fn joined_rooms(&self, account: &str) -> Result<Vec<JoinedRoomRecord>, StoreError> {
        let account = account.to_owned();
        self.db
            .read(move |connection| {
                let mut joined = connection.prepare_cached(
                "SELECT room, last_read, notify FROM joined_rooms WHERE account = ?1 ORDER BY room",
            )?;
                let rooms = joined.query_map(params![account], joined_from)?.collect();
                rooms
            })
            .await
    }

    async fn room_joined(&self, room: &str) -> Result<bool, StoreError> {
        let room = room.to_owned();
        self.db
            .read(move |connection| {
                connection
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM joined_rooms WHERE room = ?1)")?
                    .query_row(params![room], |row| row.get(0))
            })
            .await
    }

    async fn set_read(
        &self,
        account: &str,
        room: &str,
        last_read: Option<Uuid>,
        notify: Option<NotifyLevel>,
    ) -> Result<Option<JoinedRoomRecord>, StoreError> {
        let (account, room) = (account.to_owned(), room.to_owned());
        let last_read = last_read.map(|id| id.to_string());
        let notify = notify.map(NotifyLevel::as_str);
        self.db
            .write(move |connection| {
                if !may_join(connection, &account, &room)? {
                    return Ok(None);
                }
                // Text comparison is id comparison (canonical form); NULL (nothing read) loses to
                // any id and never replaces one.
                connection.execute(
                    "INSERT INTO joined_rooms (account, room, last_read, notify)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account, room) DO UPDATE SET
                     last_read = CASE
                         WHEN excluded.last_read IS NOT NULL
                              AND (last_read IS NULL OR excluded.last_read > last_read)
                         THEN excluded.last_read ELSE last_read END,
                     notify = coalesce(excluded.notify, notify)",
                    params![account, room, last_read, notify],
                )?;
                connection
                    .query_row(
                        "SELECT room, last_read, notify FROM joined_rooms
                     WHERE account = ?1 AND room = ?2",
                        params![account, room],
                        joined_from,
                    )
                    .map(Some)
            })
            .await
    }

    async fn levels_in(&self, room: &str) -> Result<Vec<(String, NotifyLevel)>, StoreError> {
        let room = room.to_owned();
        self.db
            .read(move |connection| {
                let mut query = connection.prepare_cached(
                    "SELECT account, notify FROM joined_rooms
                     WHERE room = ?1 AND notify IS NOT NULL",
                )?;
                let rows = query.query_map([room], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?;
                let mut levels = Vec::new();
                for row in rows {
                    let (account, level) = row?;
                    levels.extend(NotifyLevel::from_kept(&level).map(|level| (account, level)));
                }
                Ok(levels)
            })
            .await
    }

    async fn leave_room(&self, account: &str, room: &str) -> Result<bool, StoreError> {
        let (account, room) = (account.to_owned(), room.to_owned());
        self.db
            .write(move |connection| {
                let left = connection.execute(
                    "DELETE FROM joined_rooms WHERE account = ?1 AND room = ?2",
                    params![account, room],
                )?;
                Ok(left > 0)
            })
            .await
    }
}
