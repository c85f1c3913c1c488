//! Everything that runs only on the server and knows nothing of the pages: the chat service
//! (`chat`) over the broker and identity, their stores, what both adapters share over HTTP and
//! the REST adapter (`http`), the send rate limit, metrics, the configuration and the
//! operator's commands. `crate::site` assembles them with the pages into one application.

pub mod broker;
pub mod chat;
pub mod clock;
pub mod config;
pub mod files;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod operator;
pub mod push;
pub mod search;
pub mod send_limit;
pub mod store;

pub use broker::{Broker, BrokerConfig};
pub use config::HttpConfig;
