//! Everything that runs only on the server and knows nothing of the pages: the broker, its
//! stores, the REST adapter, the send rate limit, metrics, the HTTP server loop and the
//! configuration; tokens from another site (`identity_jwt`), the client's address behind
//! proxies (`client_addr`), and the security headers of every answer (`page_headers`, which
//! knows only that pages take a script nonce). `crate::site` assembles them with the pages
//! into one application.

pub mod broker;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod identity_jwt;
pub mod metrics;
pub mod page_headers;
pub mod rest;
pub mod send_limit;
pub mod serve;
pub mod store;

pub use broker::{Broker, BrokerConfig};
pub use config::HttpConfig;
