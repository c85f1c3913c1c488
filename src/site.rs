//! The composition root: the REST API, the server functions and the pages, with their
//! static assets, assembled under one layer stack into the application `main` serves.
//!
//! It sits above `server` (REST, chat service, limits) and `app` (pages) so that neither
//! imports the other: server functions and pages reach the chat service through Leptos context
//! provided here.

use axum::{
    http::{header, request::Parts, HeaderValue, Method},
    response::IntoResponse,
    routing::get,
    Router,
};
use leptos::{nonce::Nonce, prelude::*};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    trace::TraceLayer,
};

use crate::{
    app::{shell, App},
    error::ChatError,
    server::{
        chat::Chat,
        http::{
            caller::ClientAddressLayer,
            page_headers::{PageNonce, SecurityHeadersLayer},
            rest,
            same_origin::SameOriginLayer,
        },
        HttpConfig,
    },
};

/// The whole application: REST API, server functions, and the server-rendered pages with
/// their static assets.
pub fn app(chat: Chat, leptos_options: LeptosOptions, http: &HttpConfig) -> Router {
    let routes = generate_route_list(App);
    let pages = Router::new()
        .leptos_routes_with_context(
            &leptos_options,
            routes,
            {
                let chat = chat.clone();
                move || provide_context(chat.clone())
            },
            {
                let leptos_options = leptos_options.clone();
                move || {
                    provide_page_nonce();
                    shell(leptos_options.clone())
                }
            },
        )
        .fallback(leptos_axum::file_and_error_handler(|options| {
            provide_page_nonce();
            shell(options)
        }))
        .with_state(leptos_options)
        // Pages and static assets only: held polls' small answers gain nothing from it.
        .layer(CompressionLayer::new());
    let mut api = rest::routes(chat);
    if let Some(metrics) = http.metrics.clone() {
        api = api.route(
            "/metrics",
            get(move || std::future::ready(metrics.render())),
        );
    }
    // One `layer` call for the whole stack, the REST adapter's layers included: each
    // `Router::layer` call wraps every route once more, so each request clones one more boxed
    // service and boxes its future once more, and a held poll keeps every box. The REST layers
    // sit outside the panic and cross-site answers, so those are never cached either, and CORS
    // outside those answers too, so cross-origin clients can read them.
    api.merge(pages).layer(
        ServiceBuilder::new()
            .layer(TraceLayer::new_for_http())
            .layer(ClientAddressLayer::new(http.trusted_proxies.clone()))
            .layer(SecurityHeadersLayer)
            .layer(rest::layers(http.limits))
            .option_layer(cors_layer(&http.cors_origins))
            .layer(CatchPanicLayer::custom(|_| {
                ChatError::Internal.into_response()
            }))
            // The listed origins may change state from their pages; `*` lets any site read,
            // never change (`SameOriginLayer::new` leaves it out).
            .layer(SameOriginLayer::new(
                http.cors_origins.iter().chain(&http.public_origin),
            )),
    )
}

/// Gives the page being rendered the nonce its answer's policy names.
///
/// Call it where the page is rendered (the app function of `leptos_routes_with_context` and of
/// the 404 handler), inside the render's reactive owner: Leptos reads the nonce from context
/// for every script it writes. Without [`SecurityHeadersLayer`] in front (a router under test
/// on its own) the page gets no nonce, and no policy either.
fn provide_page_nonce() {
    let nonce =
        use_context::<Parts>().and_then(|parts| parts.extensions.get::<PageNonce>().cloned());
    if let Some(PageNonce(nonce)) = nonce {
        // Replaces the nonce leptos_axum provides itself, so the header's value is the one used.
        provide_context(Nonce::from_value(nonce));
    }
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
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]),
    )
}
