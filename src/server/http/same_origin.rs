//! Cross-site request forgery protection: a request that changes state (any method but GET,
//! HEAD and OPTIONS) coming from a page of another site is refused with 403, whatever it
//! carries. Browsers say where a request comes from (`Origin`, and `Sec-Fetch-Site`); curl and
//! scripts send neither, so they pass. Origins listed by `--cors-origin` pass too, but never
//! every origin: `--cors-origin '*'` lets any site read the API, not change things through its
//! visitors' browsers.
//!
//! `Sec-Fetch-Site: same-origin` is the browser's own word that the page is of this origin
//! (pages cannot set that header), so it passes whatever `Host` a proxy passed on (nginx's
//! `Host $host` drops the port the page's `Origin` has). `same-site` and `cross-site` are
//! refused unless the `Origin` is listed. Without `Sec-Fetch-Site` (older browsers), the
//! `Origin` must match the `Host`.
//!
//! With the session cookie's `SameSite=Lax` (another site's POST does not carry it) this is the
//! second of two independent defences; it also stops login CSRF (signing a victim in as the
//! attacker), which `SameSite` does not.

use std::task::{Context, Poll};

use axum::{
    http::{header, HeaderMap, Method, Request},
    response::{IntoResponse, Response},
};
use futures_util::future::{ready, Either, Ready};
use tower::{Layer, Service};

use crate::error::ChatError;

/// A tower layer (not `axum::middleware::from_fn`): its future is the inner one or a ready
/// refusal, so a held poll passing through it keeps no extra allocation.
#[derive(Clone, Default)]
pub struct SameOriginLayer {
    /// Other origins allowed to change state (`--cors-origin`, `--public-url`).
    allowed: std::sync::Arc<[String]>,
}

impl SameOriginLayer {
    /// Refuses other sites' changes but from the `allowed` origins; a `*` among them (CORS's
    /// "any origin may read") allows nothing here.
    pub fn new<'a>(allowed: impl IntoIterator<Item = &'a String>) -> Self {
        Self {
            allowed: allowed
                .into_iter()
                .filter(|origin| *origin != "*")
                .cloned()
                .collect(),
        }
    }
}

impl<S> Layer<S> for SameOriginLayer {
    type Service = SameOrigin<S>;

    fn layer(&self, inner: S) -> SameOrigin<S> {
        SameOrigin {
            allowed: self.allowed.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct SameOrigin<S> {
    allowed: std::sync::Arc<[String]>,
    inner: S,
}

impl<S, B> Service<Request<B>> for SameOrigin<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let safe = matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
        if !safe && is_cross_site(request.headers(), &self.allowed) {
            let refusal = ChatError::forbidden(
                "cross-site request refused: this server only takes changes from its own pages",
            );
            return Either::Left(ready(Ok(refusal.into_response())));
        }
        Either::Right(self.inner.call(request))
    }
}

/// Whether a browser says the request comes from a page of another origin.
fn is_cross_site(headers: &HeaderMap, allowed: &[String]) -> bool {
    let origin = headers.get(header::ORIGIN);
    let listed = || {
        origin
            .and_then(|origin| origin.to_str().ok())
            .is_some_and(|origin| allowed.iter().any(|allowed| allowed == origin))
    };
    match headers.get("sec-fetch-site").map(|site| site.as_bytes()) {
        Some(b"same-origin") => return false,
        Some(b"same-site" | b"cross-site") => return !listed(),
        _ => {}
    }
    // curl and scripts: no Origin.
    let Some(origin) = origin else {
        return false;
    };
    if listed() {
        return false;
    }
    // `scheme://host[:port]`, compared with the host the request was sent to.
    let origin = origin.to_str().unwrap_or("null");
    let origin_host = origin.split_once("://").map(|(_, host)| host);
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.parse().unwrap(), value.parse().unwrap()))
            .collect()
    }

    #[test]
    fn only_browsers_saying_another_site_are_cross_site() {
        let none: &[String] = &[];
        // curl and scripts: no Origin.
        assert!(!is_cross_site(&headers(&[("host", "chat.example")]), none));
        // The app's own page.
        let own = headers(&[
            ("host", "chat.example:3000"),
            ("origin", "http://chat.example:3000"),
        ]);
        assert!(!is_cross_site(&own, none));
        let other = headers(&[("host", "chat.example"), ("origin", "https://evil.example")]);
        assert!(is_cross_site(&other, none));
        // A port is part of the origin.
        let port = headers(&[
            ("host", "chat.example"),
            ("origin", "http://chat.example:8080"),
        ]);
        assert!(is_cross_site(&port, none));
        assert!(is_cross_site(
            &headers(&[("host", "a"), ("origin", "null")]),
            none
        ));
        let fetch_site = headers(&[("host", "a"), ("sec-fetch-site", "cross-site")]);
        assert!(is_cross_site(&fetch_site, none));
        // Allowed by --cors-origin.
        let allowed = ["https://evil.example".to_owned()];
        assert!(!is_cross_site(&other, &allowed));
    }

    #[test]
    fn a_browsers_same_origin_is_proof_behind_a_proxy_that_drops_the_port() {
        let none: &[String] = &[];
        // nginx's `Host $host` without the port the page's Origin has.
        let own_page = headers(&[
            ("host", "127.0.0.1"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(!is_cross_site(&own_page, none));
        // Without the browser's word, the mismatch is still refused.
        let unproven = headers(&[("host", "127.0.0.1"), ("origin", "http://127.0.0.1:8080")]);
        assert!(is_cross_site(&unproven, none));
    }

    #[test]
    fn same_site_and_cross_site_pages_are_refused_unless_their_origin_is_listed() {
        let none: &[String] = &[];
        for site in ["same-site", "cross-site"] {
            // Even with an Origin matching the Host, the browser's word decides.
            let sibling = headers(&[
                ("host", "chat.example"),
                ("origin", "http://chat.example"),
                ("sec-fetch-site", site),
            ]);
            assert!(is_cross_site(&sibling, none), "{site}");
            let listed = headers(&[
                ("host", "chat.example"),
                ("origin", "https://app.example"),
                ("sec-fetch-site", site),
            ]);
            assert!(!is_cross_site(&listed, &["https://app.example".to_owned()]));
        }
    }

    #[test]
    fn a_wildcard_cors_origin_allows_no_other_site_to_change_anything() {
        let layer = SameOriginLayer::new(&["*".to_owned(), "https://app.example".to_owned()]);
        let evil = headers(&[
            ("host", "chat.example"),
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert!(is_cross_site(&evil, &layer.allowed));
        let old_browser = headers(&[("host", "chat.example"), ("origin", "https://evil.example")]);
        assert!(is_cross_site(&old_browser, &layer.allowed));
        let listed = headers(&[("host", "chat.example"), ("origin", "https://app.example")]);
        assert!(!is_cross_site(&listed, &layer.allowed));
    }
}
