//! Everything that runs only on the server and knows nothing of the pages: the chat service
//! (`chat`) over the broker and identity, their stores, the REST adapter, the send rate limit,
//! the client's address behind proxies (`client_addr`), cross-site refusals (`same_origin`),
//! the security headers of every answer (`page_headers`, which knows only that pages take a
//! script nonce), metrics, the HTTP server loop, the configuration and the operator's
//! commands. `crate::site` assembles them with the pages into one application.

pub mod broker;
pub mod chat;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod identity;
pub mod metrics;
pub mod operator;
pub mod page_headers;
pub mod rest;
pub mod same_origin;
pub mod send_limit;
pub mod serve;
pub mod store;

pub use broker::{Broker, BrokerConfig};
pub use config::HttpConfig;
