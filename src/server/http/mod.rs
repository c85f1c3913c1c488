//! What the two adapters share over HTTP, and the REST adapter itself: who the caller is
//! ([`caller`]: credentials, the session cookie, the client's address behind proxies), the
//! layers every answer passes (`same_origin` refusals, `page_headers` security headers), the
//! hyper server loop with its per-connection limits (`serve`), and `rest`, the axum handlers
//! curl calls. The only part of `server` that knows axum; the server functions (`crate::api`)
//! use [`caller`] too.

pub mod caller;
pub mod client_addr;
pub mod page_headers;
pub mod rest;
pub mod same_origin;
pub mod serve;
