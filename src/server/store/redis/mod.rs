//! The shared store: the log and the identity store in one Redis that several instances share.

mod identity;
mod keys;
mod log;

pub use identity::RedisIdentityStore;
pub use keys::RedisPrefix;
pub use log::RedisStore;
