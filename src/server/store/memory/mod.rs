//! The throw-away store: the log, the identity and push stores in memory, gone with the process.

mod identity;
mod log;
mod push;

pub use identity::MemoryIdentityStore;
pub use log::MemoryStore;
pub use push::MemoryPushStore;
