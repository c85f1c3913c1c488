//! longpoll-chat: a real-time chat server that pushes messages to browsers and curl over plain
//! HTTP long polling, as one Leptos full-stack crate.
//!
//! # Layout
//! - [`model`]: messages, request/response shapes and validated newtypes (both targets).
//! - [`error`]: [`error::ChatError`], the one error type of REST, server functions and UI.
//! - [`api`]: Leptos server functions, each a few lines over the broker.
//! - [`app`]: the Leptos UI (server-rendered, hydrated in the browser).
//! - `server` (ssr only): the broker, its stores, the REST adapter, the send rate limit,
//!   metrics, the hyper server loop, configuration.
//! - `site` (ssr only): the composition root, REST routes + server functions + pages + layers
//!   -> one `axum::Router`.
//!
//! Dependencies point one way: `site` -> `server::rest`, `api`, `app` -> `server::broker` ->
//! `server::store` -> `model`, `error`. Nothing under `server` imports Leptos.

#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod error;
pub mod model;

#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod site;

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
