//! The security headers of every answer, and the Content-Security-Policy of the pages.
//!
//! A page rendered here runs only the scripts of this app: its policy allows scripts from this
//! origin plus the inline scripts carrying the page's nonce, a fresh random value per answer
//! that Leptos writes on every `<script>` it renders (the hydration loader and the resources'
//! data). [`provide_page_policy`] makes that nonce and puts the same value in the answer's
//! header, so the two cannot disagree.
//!
//! [`SecurityHeadersLayer`] adds to every answer (pages, API, static files) the headers that
//! need no per-answer value, and to HTML answers that set no policy of their own (the vendored
//! Swagger UI at `/docs` and ReDoc at `/redoc`, which are not rendered by Leptos)
//! [`DOCS_POLICY`], which still allows no inline or foreign script.

use std::task::{Context, Poll};

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use futures_util::future::{FutureExt as _, Map};
use leptos::{nonce::Nonce, prelude::*};
use leptos_axum::ResponseOptions;
use tower::{Layer, Service};

/// Not among `http`'s named headers.
pub const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");

/// The policy of a page whose inline scripts carry `nonce`.
///
/// - `script-src`: this origin (the WASM glue module) and the nonce (the inline loader and
///   data scripts); `'wasm-unsafe-eval'` lets the glue compile the WASM, and nothing else.
/// - `style-src 'self'`: the stylesheet is a file and the app sets no inline style.
/// - `connect-src 'self'`: the WASM download, server functions and polls.
/// - `base-uri`, `form-action` and `frame-ancestors` keep injected markup from redirecting
///   links or forms, and other sites from framing the page (clickjacking).
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy of HTML answers that set none: Swagger UI (`/docs`) and ReDoc (`/redoc`).
///
/// Their scripts are all files from this origin, so scripts stay as strict as the pages'
/// (without a nonce: no inline script runs). Both inject `<style>` elements from their bundles
/// (ReDoc through styled-components), hence `'unsafe-inline'` for styles only; ReDoc runs its
/// search index in a worker made from a `blob:` URL; both draw icons from `data:` images.
pub const DOCS_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// A fresh nonce: 128 bits from the operating system's generator, in base64.
pub fn fresh_nonce() -> String {
    let mut bytes = [0; 16];
    // A guessable nonce would defeat the policy, and there is no safe fallback: an OS that
    // cannot give 16 random bytes fails the render (caught as a 500), not the policy.
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    STANDARD.encode(bytes)
}

/// Gives the page being rendered a fresh nonce and its answer the matching policy.
///
/// Call it where the page is rendered (the app function of `leptos_routes_with_context` and of
/// the 404 handler), inside the render's reactive owner: Leptos reads the nonce from context
/// for every script it writes, and applies [`ResponseOptions`] to the answer.
pub fn provide_page_policy() {
    let nonce = fresh_nonce();
    let policy = HeaderValue::try_from(page_policy(&nonce))
        .expect("base64 and the fixed policy text are valid header characters");
    // Replaces the nonce leptos_axum provides itself, so the header's value is the one used.
    provide_context(Nonce::from_value(nonce));
    if let Some(response) = use_context::<ResponseOptions>() {
        response.insert_header(header::CONTENT_SECURITY_POLICY, policy);
    }
}

/// Adds the headers every answer carries, and those of HTML answers.
#[derive(Clone, Copy, Debug, Default)]
pub struct SecurityHeadersLayer;

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> SecurityHeaders<S> {
        SecurityHeaders { inner }
    }
}

/// The service made by [`SecurityHeadersLayer`].
#[derive(Clone, Debug)]
pub struct SecurityHeaders<S> {
    inner: S,
}

type AddHeaders<B, E> = fn(Result<Response<B>, E>) -> Result<Response<B>, E>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SecurityHeaders<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    // A plain function over the inner future: no box per request (held polls keep theirs).
    type Future = Map<S::Future, AddHeaders<ResBody, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        self.inner
            .call(request)
            .map(with_headers as AddHeaders<ResBody, S::Error>)
    }
}

fn with_headers<B, E>(result: Result<Response<B>, E>) -> Result<Response<B>, E> {
    result.map(|mut response| {
        add_headers(response.headers_mut());
        response
    })
}

/// The headers themselves; those an answer already has are kept.
fn add_headers(headers: &mut HeaderMap) {
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    let html = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"text/html"));
    let html_defaults = [
        (header::X_FRAME_OPTIONS, "DENY"),
        (CROSS_ORIGIN_OPENER_POLICY, "same-origin"),
        (header::CONTENT_SECURITY_POLICY, DOCS_POLICY),
    ];
    let chosen = defaults
        .iter()
        .chain(html.then_some(&html_defaults).into_iter().flatten());
    for (name, value) in chosen {
        if !headers.contains_key(name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use axum::{body::Body, http::StatusCode, routing::get, Router};
    use tower::ServiceExt as _;

    use super::*;

    async fn answer(router: Router, uri: &str) -> HeaderMap {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = router
            .layer(SecurityHeadersLayer)
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.headers().clone()
    }

    #[test]
    fn nonces_are_fresh_base64_of_128_bits() {
        let nonces: HashSet<String> = (0..100).map(|_| fresh_nonce()).collect();
        assert_eq!(nonces.len(), 100);
        for nonce in &nonces {
            assert_eq!(STANDARD.decode(nonce).unwrap().len(), 16);
        }
    }

    #[test]
    fn the_page_policy_allows_only_own_and_nonced_scripts() {
        let policy = page_policy("abc");
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(policy.contains("object-src 'none'"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(HeaderValue::try_from(page_policy(&fresh_nonce())).is_ok());
    }

    #[test]
    fn the_docs_policy_allows_no_inline_script() {
        let scripts = DOCS_POLICY
            .split(';')
            .find(|directive| directive.trim().starts_with("script-src"))
            .unwrap();
        assert_eq!(scripts.trim(), "script-src 'self'");
    }

    #[test]
    fn provide_page_policy_puts_one_nonce_in_the_context_and_the_header() {
        let owner = Owner::new();
        owner.with(|| {
            let response = ResponseOptions::default();
            provide_context(response.clone());
            provide_page_policy();
            let nonce = use_context::<Nonce>().unwrap();
            let headers = response.0.read().unwrap().headers.clone();
            let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(policy.contains(&format!("'nonce-{nonce}'")), "{policy}");
        });
    }

    #[tokio::test]
    async fn every_answer_gets_nosniff_and_a_referrer_policy() {
        let router = Router::new().route("/api/x", get(|| async { axum::Json(1) }));
        let headers = answer(router, "/api/x").await;
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
        // Framing and window isolation are page matters.
        assert!(!headers.contains_key(header::X_FRAME_OPTIONS));
        assert!(!headers.contains_key(header::CONTENT_SECURITY_POLICY));
    }

    #[tokio::test]
    async fn html_without_a_policy_gets_the_docs_policy_and_page_headers() {
        let router = Router::new().route("/redoc", get(|| async { axum::response::Html("x") }));
        let headers = answer(router, "/redoc").await;
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], DOCS_POLICY);
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[CROSS_ORIGIN_OPENER_POLICY], "same-origin");
    }

    #[tokio::test]
    async fn a_policy_set_by_the_page_is_kept() {
        let router = Router::new().route(
            "/",
            get(|| async {
                (
                    [(header::CONTENT_SECURITY_POLICY, "default-src 'none'")],
                    axum::response::Html("x"),
                )
            }),
        );
        let headers = answer(router, "/").await;
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'"
        );
    }
}
