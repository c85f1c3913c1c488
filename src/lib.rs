//! longpoll-chat: a real-time chat server that pushes messages to browsers and curl over plain
//! HTTP long polling, as one Leptos full-stack crate.
//!
//! # Layout
//! One name per feature in every layer: sending a message is `model::delivery`'s `SendBody`,
//! `server::chat`'s `messages`, `server::http::rest`'s `messages` and `api`'s `messages`.
//! - [`model`]: the wire shapes and validated newtypes, one file per concept (both targets).
//! - [`error`]: [`error::ChatError`], the one error type of REST, server functions and UI.
//! - [`api`]: Leptos server functions, one file per feature, each a few lines over `Chat`.
//! - [`app`]: the Leptos UI (server-rendered, hydrated in the browser); `app::stream` is the
//!   browser's one live stream.
//! - `server` (ssr only): `chat`, the one service both adapters call, over `broker`
//!   (delivery) and `identity` (who may do what), their `store`s; `http`, what the adapters
//!   share (the caller, security layers, the server loop) and the REST adapter; metrics,
//!   configuration, the operator's commands.
//! - `site` (ssr only): the composition root, REST routes + server functions + pages + layers
//!   -> one `axum::Router`.
//!
//! Dependencies point one way: `site` -> `server::http::rest`, `api`, `app` -> `server::chat`
//! -> `server::broker`, `server::identity` -> `server::store` -> `model`, `error`. Adapters
//! call `Chat`, never what is below it; nothing under `server` imports Leptos, and only
//! `server::http` imports axum.

#![recursion_limit = "256"]
// The docs are for the people who change the server (`make lint` builds them with private
// items): a module's header links to the private parts it is made of.
#![allow(rustdoc::private_intra_doc_links)]

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
