//! Everything that runs only on the server: the broker, its stores, the REST adapter, the
//! configuration, and the assembly of the whole HTTP application.

pub mod broker;
pub mod config;
pub mod rest;
pub mod store;

use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

pub use broker::{Broker, BrokerConfig};

use crate::app::{shell, App};

/// The whole application: REST API, server functions, and the server-rendered pages with
/// their static assets. Server functions and pages reach the broker through Leptos context.
pub fn app(broker: Broker, leptos_options: LeptosOptions, limits: rest::Limits) -> Router {
    let routes = generate_route_list(App);
    let pages = Router::new()
        .leptos_routes_with_context(
            &leptos_options,
            routes,
            {
                let broker = broker.clone();
                move || provide_context(broker.clone())
            },
            {
                let leptos_options = leptos_options.clone();
                move || shell(leptos_options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(leptos_options);
    rest::router(broker, limits).merge(pages)
}
