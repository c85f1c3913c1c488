//! The message log: a [`LogStore`] orders each room's log (its messages and the changes to
//! them, both [`Entry`]s), keeps it (within its [`Retention`]) and hands every committed entry
//! to a [`CommitSink`], the broker's rooms.
//!
//! Contract, checked for every store by one shared test suite (`tests/suite/store_contract.rs`):
//! - when `append` resolves `Ok`, the entry is kept (durably, for a persistent store) and the
//!   sink has already received it;
//! - the sink receives each room's entries in exactly the order the store keeps them, with
//!   their offsets in the room, so a cursor means the same before and after a restart and on
//!   every instance sharing the store;
//! - a failed append reaches no sink and leaves the store as it was;
//! - `load` returns each room's most recent messages and the changes after the oldest of
//!   them, oldest first, and its total ever;
//! - retention counts messages: no number of changes deletes a message.

use std::time::Duration;

use async_trait::async_trait;

use super::StoreError;
use crate::model::Entry;

/// What a log store tells the broker: committed entries, in commit order; and, for a store
/// shared by several instances, when it lost sight of new ones or lost some it had.
pub trait CommitSink: Send + Sync + 'static {
    /// `offset` is the entry's position in its room, counting every entry the room ever had
    /// from 0. Offsets of a room arrive in increasing order; one the sink already has may
    /// arrive again (a store that learns of entries in more than one way), and a jump means the
    /// entries in between are gone from the store.
    fn committed(&self, entry: Entry, offset: u64);

    /// The store lost sight of new entries (a shared store's subscription was lost); whatever
    /// it missed arrives once it is back.
    fn interrupted(&self) {}

    /// The store lost the room's most recent entries (a shared store restarted without them):
    /// what the sink has of the room is gone, and its offsets go on from a lower one.
    fn rewound(&self, _room: &str) {}
}

/// A room as a store hands it back at startup.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRoom {
    pub name: String,
    /// The most recent messages and every change after the oldest of them, oldest first.
    pub recent: Vec<Entry>,
    /// How many entries the room has ever had.
    pub total: u64,
}

/// How much a store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Past this many messages in a room, the oldest goes (with the changes before it) as a new
    /// one arrives. Changes do not count.
    pub max_messages_per_room: usize,
    /// Messages older than this are deleted in the background (persistent stores only).
    pub max_age: Option<Duration>,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_messages_per_room: 10_000,
            max_age: None,
        }
    }
}

/// Each room's log of messages and changes.
#[async_trait]
pub trait LogStore: Send + Sync + 'static {
    /// Keeps `entry` and hands it to the sink; resolves only after both.
    async fn append(&self, entry: Entry) -> Result<(), StoreError>;

    /// Every room's most recent `per_room` messages and the changes after the oldest of them,
    /// for the broker to start from.
    async fn load(&self, per_room: usize) -> Result<Vec<StoredRoom>, StoreError>;

    /// A cheap check that the store can serve, for health endpoints.
    async fn check(&self) -> Result<(), StoreError>;

    /// Hands the sink whatever the store has of `room` that the sink may not have yet. Only a
    /// store shared by several instances has anything to do here: the others hand over every
    /// entry as they commit it.
    async fn catch_up(&self, _room: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Deletes every entry of the room (its owner deleted it): a room of that name made later
    /// starts again from offset 0. The sink hears nothing: the room's deletion reaches each
    /// instance as an identity change.
    async fn delete_room(&self, room: &str) -> Result<(), StoreError>;
}
