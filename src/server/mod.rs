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
    response::IntoResponse,
    routing::get,
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    trace::TraceLayer,
};

pub use broker::{Broker, BrokerConfig};
use send_limit::{SendLimitLayer, SendLimiter};

use crate::{
    app::{shell, App},
    error::ChatError,
};

/// How the HTTP application treats requests, beyond the broker's own limits.
#[derive(Clone, Default)]
pub struct HttpConfig {
    pub limits: rest::Limits,
    /// Rate limit on sending messages, per remote address; `None` sends freely.
    pub send_limiter: Option<SendLimiter>,
    /// Origins allowed to call the app (the REST API above all) from other sites (`*` for any);
    /// empty: CORS off.
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
    let mut api = rest::routes(broker);
    if let Some(metrics) = http.metrics.clone() {
        api = api.route(
            "/metrics",
            get(move || std::future::ready(metrics.render())),
        );
    }
    // One `layer` call for the whole stack, the REST adapter's layers included: each
    // `Router::layer` call wraps every route once more, so each request clones one more boxed
    // service and boxes its future once more, and a held poll keeps every box (five calls here
    // were 1.8 KiB of the 9 KiB per held poll in `make bench`). The REST layers sit outside
    // the panic and rate-limit answers, so those are never cached either, and CORS outside
    // those answers too, so cross-origin clients can read them.
    api.merge(pages).layer(
        ServiceBuilder::new()
            .layer(TraceLayer::new_for_http())
            .layer(rest::layers(http.limits))
            .option_layer(cors_layer(&http.cors_origins))
            .layer(CatchPanicLayer::custom(|_| {
                ChatError::Internal.into_response()
            }))
            .layer(SendLimitLayer(http.send_limiter.clone())),
    )
}

/// CORS when origins are configured (`*` for any).
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
