//! The security headers as the assembled app sends them: the pages' Content-Security-Policy
//! and its nonce, which must be the one on every script the page carries, and the headers of
//! the other answers.

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use longpoll_chat::server::{
    http::page_headers::{CROSS_ORIGIN_OPENER_POLICY, DOCS_POLICY},
    HttpConfig,
};
use serde_json::json;

use crate::common::app::{get, send_request, Reply, TestApp};

/// The nonce in the page's policy header.
fn header_nonce(page: &Reply) -> String {
    let policy = page
        .header(header::CONTENT_SECURITY_POLICY)
        .expect("a page has a policy");
    let start = policy.find("'nonce-").expect("the policy has a nonce") + "'nonce-".len();
    let end = start + policy[start..].find('\'').unwrap();
    policy[start..end].to_owned()
}

/// The `nonce` attribute of every `<script` tag in `html` (`None` for a tag without one).
fn script_nonces(html: &str) -> Vec<Option<String>> {
    html.match_indices("<script")
        .map(|(at, _)| {
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            tag.find("nonce=\"").map(|start| {
                let value = &tag[start + "nonce=\"".len()..];
                value[..value.find('"').unwrap()].to_owned()
            })
        })
        .collect()
}

/// Checks that `page` is HTML whose every script carries its header's nonce; returns it.
fn check_page(page: &Reply) -> String {
    let nonce = header_nonce(page);
    let nonces = script_nonces(page.text());
    assert!(!nonces.is_empty(), "no script in {}", page.text());
    for found in nonces {
        assert_eq!(found.as_deref(), Some(nonce.as_str()), "{}", page.text());
    }
    assert_eq!(page.header(header::X_FRAME_OPTIONS), Some("DENY"));
    assert_eq!(page.header(CROSS_ORIGIN_OPENER_POLICY), Some("same-origin"));
    assert_eq!(page.header(header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
    assert_eq!(page.header(header::REFERRER_POLICY), Some("same-origin"));
    nonce
}

#[tokio::test]
async fn a_page_s_scripts_carry_the_nonce_of_its_policy_and_each_answer_has_its_own() {
    let app = TestApp::new().await;
    app.send_ok("csp-room", "hello").await;
    let first = app.call_raw(get("/room/csp-room")).await;
    assert_eq!(first.status, StatusCode::OK);
    // The room's history is in the page, with the script that hands it to the browser.
    assert!(first.text().contains("hello"));
    let policy = first.header(header::CONTENT_SECURITY_POLICY).unwrap();
    assert!(policy.contains("'wasm-unsafe-eval'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let second = app.call_raw(get("/room/csp-room")).await;
    assert_ne!(check_page(&first), check_page(&second));
}

#[tokio::test]
async fn the_not_found_page_has_a_nonce_policy_too() {
    let app = TestApp::new().await;
    let page = app.call_raw(get("/no/such/page")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    check_page(&page);
}

#[tokio::test]
async fn api_answers_get_the_headers_every_answer_has_and_no_page_headers() {
    let app = TestApp::new().await;
    let stats = app.get("/api/stats").await;
    assert_eq!(stats.status, StatusCode::OK);
    assert_eq!(
        stats.header(header::X_CONTENT_TYPE_OPTIONS),
        Some("nosniff")
    );
    assert_eq!(stats.header(header::REFERRER_POLICY), Some("same-origin"));
    assert_eq!(stats.header(header::CONTENT_SECURITY_POLICY), None);
    assert_eq!(stats.header(header::X_FRAME_OPTIONS), None);
    // Errors too.
    let missing = app.get("/api/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.header(header::X_CONTENT_TYPE_OPTIONS),
        Some("nosniff")
    );
}

#[tokio::test]
async fn the_api_docs_get_the_docs_policy() {
    let app = TestApp::new().await;
    for uri in ["/docs/", "/redoc"] {
        let page = app.call_raw(get(uri)).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}");
        assert_eq!(
            page.header(header::CONTENT_SECURITY_POLICY),
            Some(DOCS_POLICY),
            "{uri}"
        );
        assert_eq!(page.header(header::X_FRAME_OPTIONS), Some("DENY"));
        // No inline script: the policy would block it.
        assert!(
            script_nonces(page.text()).iter().all(Option::is_none),
            "{uri}"
        );
        assert!(
            !page.text().contains("<script>") && !page.text().contains("<script type"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn a_wildcard_cors_origin_lets_other_sites_read_but_not_change_anything() {
    let app = TestApp::with_http(HttpConfig {
        cors_origins: vec!["*".to_owned()],
        ..HttpConfig::default()
    })
    .await;
    let from_elsewhere = |request: Request<Body>| {
        let mut request = request;
        let headers = request.headers_mut();
        headers.insert(header::HOST, "chat.example".parse().unwrap());
        headers.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        headers.insert("sec-fetch-site", "cross-site".parse().unwrap());
        request
    };
    let read = app.call(from_elsewhere(get("/api/rooms"))).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"));
    let change = app
        .call(from_elsewhere(send_request(
            json!({"sender": "evil", "text": "forged", "room": "wild"}),
        )))
        .await;
    assert_eq!(change.status, StatusCode::FORBIDDEN, "{}", change.json);
    assert!(change.json["detail"]
        .as_str()
        .unwrap()
        .contains("cross-site"));
    // Readable by the other site, so it learns why.
    assert_eq!(
        change.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("*")
    );
    assert_eq!(
        app.get("/api/history?room=wild").await.json["messages"],
        json!([])
    );
}
