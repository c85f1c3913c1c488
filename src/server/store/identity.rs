//! Who people are and what they may join: accounts, sessions, private rooms with their
//! members, and the rooms each account has joined with how far it has read them, as the
//! configured store keeps them. The identity service (`server::identity`) keeps
//! what it checks on every request in memory and learns of other instances' changes through
//! the [`IdentitySink`].
//!
//! Contract, checked for every store by the shared suite (`tests/suite/store_contract.rs`):
//! - account names are keyed by their ASCII-lowercase form: a second account whose name
//!   differs only in letter case is refused (`Ok(false)`), never stored;
//! - a session is found by its token's hash only, never by its token; it is gone once
//!   `expires_at` has passed, once deleted, and once its account's sessions are deleted;
//! - a private room's name is taken once; its owner is not listed among its members;
//! - an account's read position in a room only moves forward (message ids are UUIDv7, ordered
//!   by time: two devices marking different messages keep the newer); joining a private room
//!   needs its owner or a member; deleting a private room drops it from every account's
//!   joined rooms, removing a member drops it from theirs, in the same atomic change;
//! - joined rooms and read positions are read from the store on every request, cached
//!   nowhere, so changing them tells no sink;
//! - a store shared by several instances tells every *other* instance's sink of each change it
//!   makes (the instance that made a change updates itself); the others tell nobody.

use std::collections::BTreeSet;

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreError;
use crate::model::NotifyLevel;

/// An account as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRecord {
    /// The name as its owner typed it when signing up; [`AccountRecord::key`] identifies it.
    pub name: String,
    /// Argon2id in PHC string format (`$argon2id$v=19$...`): the salt and parameters with it.
    pub password_hash: String,
    /// A disabled account cannot sign in, and its sessions are gone.
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: f64,
}

impl AccountRecord {
    /// The name whatever its letter case (ASCII lowercase): what stores key accounts by.
    pub fn key(&self) -> String {
        self.name.to_ascii_lowercase()
    }
}

/// SHA-256 of a session token. Tokens carry at least 128 random bits, so a fast hash is enough:
/// what the store leaks cannot be replayed.
pub type TokenHash = [u8; 32];

/// A signed-in session as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub token_hash: TokenHash,
    /// The account's key ([`AccountRecord::key`]).
    pub account: String,
    /// Unix seconds; the session is gone after.
    pub expires_at: f64,
}

/// A private room: only its owner and members may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateRoomRecord {
    pub name: String,
    /// The owner's account key.
    pub owner: String,
    /// Account keys of the members besides the owner.
    pub members: BTreeSet<String>,
}

/// A room an account has joined, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedRoomRecord {
    pub room: String,
    /// The newest message the account has read there; `None` until it reads one.
    pub last_read: Option<Uuid>,
    /// What the account chose to hear of there; `None` until it chooses.
    pub notify: Option<NotifyLevel>,
}

/// What a shared store tells each instance of changes made on another one.
pub trait IdentitySink: Send + Sync + 'static {
    /// The session is gone (signed out).
    fn session_revoked(&self, token_hash: &TokenHash);
    /// The account's password, state or sessions changed: forget what is cached of it.
    fn account_changed(&self, account: &str);
    /// The private room was created, deleted, or its members changed: read it again.
    fn room_changed(&self, room: &str);
    /// The store may have missed telling some changes (its subscription was lost): read again
    /// whatever is cached. Told once the store hears changes again, so nothing read from then
    /// on is missed.
    fn interrupted(&self);
}

/// Accounts, sessions and private rooms. Every method is one atomic change or read.
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Keeps a new account; `false` (and nothing kept) if its key is taken.
    async fn create_account(&self, account: &AccountRecord) -> Result<bool, StoreError>;

    /// The account with this key.
    async fn account(&self, key: &str) -> Result<Option<AccountRecord>, StoreError>;

    /// Every account, ordered by key.
    async fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError>;

    /// Replaces the account's password hash; `false` if there is no such account.
    async fn set_password(&self, key: &str, password_hash: &str) -> Result<bool, StoreError>;

    /// Disables or enables the account; disabling also deletes its sessions. `false` if there
    /// is no such account.
    async fn set_disabled(&self, key: &str, disabled: bool) -> Result<bool, StoreError>;

    /// Keeps a new session (its account exists).
    async fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError>;

    /// The session with this token hash, unless it has expired.
    async fn session(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError>;

    /// Deletes the session; `false` if there was none.
    async fn delete_session(&self, token_hash: &TokenHash) -> Result<bool, StoreError>;

    /// Deletes every session of the account; returns how many there were.
    async fn delete_sessions_of(&self, account: &str) -> Result<usize, StoreError>;

    /// Keeps a new private room; `false` (and nothing kept) if its name is taken.
    async fn create_private_room(&self, room: &PrivateRoomRecord) -> Result<bool, StoreError>;

    /// The private room of this name.
    async fn private_room(&self, name: &str) -> Result<Option<PrivateRoomRecord>, StoreError>;

    /// Every private room.
    async fn private_rooms(&self) -> Result<Vec<PrivateRoomRecord>, StoreError>;

    /// Deletes the private room, and drops it from every account's joined rooms; `false` if
    /// there was none.
    async fn delete_private_room(&self, name: &str) -> Result<bool, StoreError>;

    /// Adds a member (an account key) to the private room; `false` if there is no such room.
    async fn add_member(&self, room: &str, account: &str) -> Result<bool, StoreError>;

    /// Removes a member from the private room, and the room from the member's joined rooms;
    /// `false` (and nothing changed) if the room has no such member.
    async fn remove_member(&self, room: &str, account: &str) -> Result<bool, StoreError>;

    /// The rooms the account has joined, ordered by name.
    async fn joined_rooms(&self, account: &str) -> Result<Vec<JoinedRoomRecord>, StoreError>;

    /// Whether any account has joined the room.
    async fn room_joined(&self, room: &str) -> Result<bool, StoreError>;

    /// Joins the room if the account has not, moves its read position to `last_read` if
    /// that is newer than the kept one (`None` keeps it), and keeps `notify` if given (`None`
    /// keeps the kept one). Answers the room as kept now, or `None` (and nothing changed) for
    /// a private room the account is neither owner nor member of.
    async fn set_read(
        &self,
        account: &str,
        room: &str,
        last_read: Option<Uuid>,
        notify: Option<NotifyLevel>,
    ) -> Result<Option<JoinedRoomRecord>, StoreError>;

    /// The accounts that joined the room and chose a level there, with it.
    async fn levels_in(&self, room: &str) -> Result<Vec<(String, NotifyLevel)>, StoreError>;

    /// Leaves the room; `false` if the account had not joined it.
    async fn leave_room(&self, account: &str, room: &str) -> Result<bool, StoreError>;
}
