//! Everything that runs only on the server: the broker, its stores, the REST adapter, the
//! configuration, and the assembly of the whole HTTP application.

pub mod broker;
pub mod config;
pub mod metrics;
pub mod rest;
pub mod send_limit;
pub mod serve;
pub mod store;

use axum::{
    http::{header, HeaderValue, Method},
    middleware,
    routing::get,
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::{
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    trace::TraceLayer,
};

pub use broker::{Broker, BrokerConfig};
use send_limit::{limit_sends, SendLimiter};

use crate::app::{shell, App};

/// How the HTTP application treats requests, beyond the broker's own limits.
#[derive(Clone, Default)]
pub struct HttpConfig {
    pub limits: rest::Limits,
    /// Rate limit on sending messages, per remote address; `None` sends freely.
    pub send_limiter: Option<SendLimiter>,
    /// Origins allowed to call the REST API from other sites (`*` for any); empty: CORS off.
    pub cors_origins: Vec<String>,
    /// Serves `GET /metrics` in Prometheus text format when set.
    pub metrics: Option<PrometheusHandle>,
}

/// The whole application: REST API, server functions, and the server-rendered pages with
/// their static assets. Server functions and pages reach the broker through Leptos context.
pub fn app(broker: Broker, leptos_options: LeptosOptions, http: &HttpConfig) -> Router {
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
        .with_state(leptos_options)
        // Pages and static assets only: held polls' small answers gain nothing from it.
        .layer(CompressionLayer::new());
    let mut api = rest::router(broker, http.limits);
    if let Some(cors) = cors_layer(&http.cors_origins) {
        api = api.layer(cors);
    }
    if let Some(metrics) = http.metrics.clone() {
        api = api.route(
            "/metrics",
            get(move || std::future::ready(metrics.render())),
        );
    }
    api.merge(pages)
        .layer(middleware::from_fn_with_state(
            http.send_limiter.clone(),
            limit_sends,
        ))
        .layer(TraceLayer::new_for_http())
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::CONTENT_TYPE]),
    )
}
