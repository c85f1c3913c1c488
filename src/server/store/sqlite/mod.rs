//! The embedded default: the log and the identity store in one SQLite file.

mod identity;
mod log;

pub use identity::SqliteIdentityStore;
pub use log::SqliteStore;
