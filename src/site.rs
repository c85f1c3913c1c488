//! The composition root: the REST API, the server functions and the pages, with their
//! static assets, assembled under one layer stack into the application `main` serves.
//!
//! It sits above `server` (REST, chat service, limits) and `app` (pages) so that neither
//! imports the other: server functions and pages reach the chat service through Leptos context
//! provided here.

use std::path::Path;

use axum::{
    extract::State,
    http::{header, request::Parts, HeaderValue, Method, StatusCode, Uri},
    middleware,
    response::{IntoResponse, Response},
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
    app::{search_shell, shell, App, Assets},
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
    let (assets, hashed) = site_assets(&leptos_options);
    // The search results page is rendered by the server alone (it loads no code), beside the
    // app's routes.
    let search_page = leptos_axum::render_app_async_with_context(
        {
            let (chat, leptos_options) = (chat.clone(), leptos_options.clone());
            move || {
                provide_context(chat.clone());
                provide_context(leptos_options.clone());
            }
        },
        {
            let assets = assets.clone();
            move || {
                provide_page_nonce();
                search_shell(&assets)
            }
        },
    );
    let pages = Router::new()
        .route("/search", get(search_page))
        .leptos_routes_with_context(
            &leptos_options,
            routes,
            {
                let chat = chat.clone();
                move || provide_context(chat.clone())
            },
            {
                let (leptos_options, assets) = (leptos_options.clone(), assets.clone());
                move || {
                    provide_page_nonce();
                    shell(leptos_options.clone(), &assets)
                }
            },
        )
        .fallback(leptos_axum::file_and_error_handler(move |options| {
            provide_page_nonce();
            shell(options, &assets)
        }))
        .layer(middleware::map_response_with_state(
            StaticCaching { hashed },
            StaticCaching::apply,
        ))
        .with_state(leptos_options)
        // Pages only: the static files are compressed at build time (served as they are, the
        // layer leaves an encoded answer alone), and held polls' small answers gain nothing.
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

/// The page's assets in the built site: content-hashed names when `make site` left their
/// hashes in the site root's `hash.txt` (`cargo leptos build` with `hash-files`), the plain
/// names otherwise (`cargo leptos watch`). Read once: the page names them on every render.
fn site_assets(options: &LeptosOptions) -> (Assets, bool) {
    let hash_file = Path::new(&*options.site_root).join(HASH_FILE);
    let hashes = std::fs::read_to_string(&hash_file).unwrap_or_default();
    let hash_of = |kind: &str| {
        hashes.lines().find_map(|line| {
            let (file, hash) = line.split_once(':')?;
            (file.trim() == kind).then(|| hash.trim().to_owned())
        })
    };
    let path = |kind: &str| {
        let (pkg, name) = (&options.site_pkg_dir, &options.output_name);
        match hash_of(kind) {
            Some(hash) => format!("/{pkg}/{name}.{hash}.{kind}"),
            None => format!("/{pkg}/{name}.{kind}"),
        }
    };
    let assets = Assets {
        css: path("css"),
        js: path("js"),
        wasm: path("wasm"),
    };
    let hashed = ["css", "js", "wasm"]
        .iter()
        .all(|kind| hash_of(kind).is_some());
    (assets, hashed)
}

/// Where the site's asset hashes are, in its root.
const HASH_FILE: &str = "hash.txt";

/// How long browsers and proxies may keep the static files.
///
/// Files under `/pkg/` with hashed names change name when their content does: kept a year and
/// never revalidated. Without hashes they are revalidated on every use (a dev build changes
/// them under the same name). Other static files (the favicon, ReDoc's bundle) are kept a day.
/// Only successful answers are marked: a 404 is not kept.
#[derive(Clone, Copy)]
struct StaticCaching {
    hashed: bool,
}

impl StaticCaching {
    const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
    const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");
    const A_DAY: HeaderValue = HeaderValue::from_static("public, max-age=86400");

    async fn apply(State(caching): State<Self>, uri: Uri, mut response: Response) -> Response {
        // A file of the site, as the file server dates it; never a page (it names a fresh
        // nonce), a server function's answer or an error.
        let served_file = matches!(
            response.status(),
            StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
        ) && response.headers().contains_key(header::LAST_MODIFIED);
        if !served_file || response.headers().contains_key(header::CACHE_CONTROL) {
            return response;
        }
        let policy = match (uri.path().starts_with("/pkg/"), caching.hashed) {
            (true, true) => Self::IMMUTABLE,
            (true, false) => Self::REVALIDATE,
            (false, _) => Self::A_DAY,
        };
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, policy);
        // Each file is stored compressed too, and sent so when the client accepts it: a cache
        // must not hand the brotli copy to a client that asked for none.
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        response
    }
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
