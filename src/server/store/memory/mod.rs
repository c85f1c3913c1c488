//! The throw-away store: the log and the identity store in memory, gone with the process.

mod identity;
mod log;

pub use identity::MemoryIdentityStore;
pub use log::MemoryStore;
