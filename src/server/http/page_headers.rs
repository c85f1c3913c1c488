//! The security headers of every answer, and the Content-Security-Policy of the pages.
//!
//! A page rendered here runs only the scripts of this app: its policy allows scripts from this
//! origin plus the inline scripts carrying the page's nonce, a fresh random value per answer
//! that Leptos writes on every `<script>` it renders (the hydration loader and the resources'
//! data). [`SecurityHeadersLayer`] makes that nonce before the app sees a request that may
//! render a page ([`PageNonce`], in the request's extensions), and writes the policy with the
//! same value on the answer; `crate::site` hands it to the render. One value, made in
//! one place, reaches both: they cannot disagree, whatever the renderer does with its own
//! response options.
//!
//! The layer also adds to every answer (pages, API, static files) the headers that need no
//! per-answer value, and to HTML answers that set no policy of their own and render no page
//! (the vendored Swagger UI at `/docs` and ReDoc at `/redoc`) [`DOCS_POLICY`], which still
//! allows no inline or foreign script.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use pin_project_lite::pin_project;
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

/// The nonce of the page a request may render, made by [`SecurityHeadersLayer`].
#[derive(Clone, Debug)]
pub struct PageNonce(pub Arc<str>);

/// Whether the request may be answered with a rendered page: every `GET` but the API, the
/// server functions, the static files and the API's documentation.
fn may_render_a_page(method: &Method, path: &str) -> bool {
    const NO_PAGES: [&str; 6] = ["/api/", "/sfn/", "/pkg/", "/docs", "/redoc", "/health"];
    (method == Method::GET || method == Method::HEAD)
        && !NO_PAGES.iter().any(|prefix| path.starts_with(prefix))
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SecurityHeaders<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    // The inner future and the nonce, no box per request (held polls keep theirs).
    type Future = WithHeaders<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let nonce = may_render_a_page(request.method(), request.uri().path())
            .then(|| Arc::<str>::from(fresh_nonce()));
        if let Some(nonce) = &nonce {
            request.extensions_mut().insert(PageNonce(nonce.clone()));
        }
        WithHeaders {
            inner: self.inner.call(request),
            nonce,
        }
    }
}

pin_project! {
    /// The future of [`SecurityHeaders`]: the app's answer, with the headers added.
    pub struct WithHeaders<F> {
        #[pin]
        inner: F,
        nonce: Option<Arc<str>>,
    }
}

impl<F, B, E> Future for WithHeaders<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let nonce = this.nonce.take();
        Poll::Ready(result.map(|mut response| {
            add_headers(response.headers_mut(), nonce.as_deref());
            response
        }))
    }
}

/// The headers themselves; those an answer already has are kept. An HTML answer to a request
/// that was given a page nonce gets the page policy with it, other HTML the docs policy.
fn add_headers(headers: &mut HeaderMap, nonce: Option<&str>) {
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
    ];
    let chosen = defaults
        .iter()
        .chain(html.then_some(&html_defaults).into_iter().flatten());
    for (name, value) in chosen {
        if !headers.contains_key(name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = match nonce {
            Some(nonce) => HeaderValue::try_from(page_policy(nonce))
                .expect("base64 and the fixed policy text are valid header characters"),
            None => HeaderValue::from_static(DOCS_POLICY),
        };
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
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

    #[tokio::test]
    async fn a_page_gets_the_policy_of_the_nonce_its_render_was_given() {
        // The handler stands for the render: it reads the nonce as `provide_page_nonce` does.
        let router = Router::new().route(
            "/",
            get(|request: Request<Body>| async move {
                let PageNonce(nonce) = request.extensions().get::<PageNonce>().unwrap().clone();
                axum::response::Html(format!("<script nonce=\"{nonce}\"></script>"))
            }),
        );
        let request = Request::get("/").body(Body::empty()).unwrap();
        let response = router
            .layer(SecurityHeadersLayer)
            .oneshot(request)
            .await
            .unwrap();
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        let nonce = body.split('"').nth(1).unwrap();
        assert_eq!(policy, page_policy(nonce));
    }

    #[test]
    fn only_requests_that_may_render_a_page_get_a_nonce() {
        assert!(may_render_a_page(&Method::GET, "/"));
        assert!(may_render_a_page(&Method::GET, "/rooms/dev"));
        for path in [
            "/api/poll",
            "/sfn/send",
            "/pkg/app.wasm",
            "/docs/",
            "/redoc",
        ] {
            assert!(!may_render_a_page(&Method::GET, path), "{path}");
        }
        assert!(!may_render_a_page(&Method::POST, "/"));
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
