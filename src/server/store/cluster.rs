//! What instances sharing a store tell each other, apart from the log: which clients are active
//! where, which were disconnected, and who is online and typing ([`LiveNews`]). Only a store
//! several instances share has a [`Cluster`]; with any other, each instance knows all there is.
//!
//! Contract (checked on Redis by `tests/suite/store_contract.rs`): nothing told is heard by the
//! instance that told it, nor by another deployment on the same server; nothing of it is kept
//! but the active clients, and those only for as long as they stay active.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::model::Person;

/// What instances sharing a store tell each other of who is online and typing: passed on, never
/// stored, so an instance that stops saying it is forgotten once what it said runs out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveNews {
    /// Who has a stream following the room on the sending instance (or had, within its grace
    /// period), guests counted. It replaces what the instance said of the room before, and
    /// lasts until the instance says it again or a few refresh periods pass.
    Presence {
        room: String,
        people: Vec<Person>,
        guests: usize,
    },
    /// `person` said on the sending instance that they are typing in `room`.
    Typing { room: String, person: Person },
    /// The sending instance joined (or came back): every instance says its presence again.
    Hello,
}

/// What a [`Cluster`] tells the broker of the other instances.
pub trait ClusterSink: Send + Sync + 'static {
    /// Another instance disconnected `owner`'s client (`DELETE /api/client`).
    fn client_disconnected(&self, owner: &str, client_id: &str);

    /// Another instance, `instance`, said this of presence and typing.
    fn live_heard(&self, instance: &str, news: Vec<LiveNews>);
}

/// The instances sharing a store, as this one talks to them.
#[async_trait]
pub trait Cluster: Send + Sync + 'static {
    /// Records that these clients (each `OWNER CLIENT-ID`, see
    /// [`ClientOwner`](crate::model::ClientOwner)'s text) were active on this instance just now.
    async fn record_active_clients(&self, clients: Vec<String>) -> Result<(), StoreError>;

    /// How many clients were active within `idle` on any instance.
    async fn active_clients(&self, idle: Duration) -> Result<usize, StoreError>;

    /// If any instance reported `owner`'s client active, forgets it and tells every other
    /// instance to disconnect it; returns whether one had. Otherwise nothing is told, so an
    /// unknown answer never ends a poll anywhere.
    async fn disconnect_client(&self, owner: &str, client_id: &str) -> Result<bool, StoreError>;

    /// Tells every other instance `news` (see [`ClusterSink::live_heard`]).
    async fn publish_live(&self, news: &[LiveNews]) -> Result<(), StoreError>;
}
