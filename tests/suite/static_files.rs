//! The site's static files as the server sends them: the compressed copy made at build time
//! when the client accepts it, and how long each may be kept: a year for the app's files when
//! their names carry their content's hash, revalidated when they do not, a day for the others,
//! and nothing for a missing file. The built site itself is tested in the browser
//! (end2end/tests/first-load.spec.ts).

use std::{fs, path::Path};

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use leptos::prelude::LeptosOptions;

use crate::common::app::{Reply, Setup, TestApp};

const HASH: &str = "AynRE6Ecx4xdSbLYxLPSBQ";

/// A site root as `make site` leaves it: the app's files under `pkg/` (each beside its brotli
/// copy), the favicon, and with `hashed`, content-hashed names and their `hash.txt`.
fn built_site(root: &Path, hashed: bool) {
    let pkg = root.join("pkg");
    fs::create_dir_all(&pkg).unwrap();
    let name = |extension: &str| match hashed {
        true => format!("longpoll-chat.{HASH}.{extension}"),
        false => format!("longpoll-chat.{extension}"),
    };
    for extension in ["js", "css"] {
        fs::write(pkg.join(name(extension)), "body { color: black }").unwrap();
        fs::write(pkg.join(name(extension) + ".br"), "brotli bytes").unwrap();
    }
    fs::write(root.join("favicon.ico"), "icon").unwrap();
    if hashed {
        let hashes = format!("js: {HASH}\nwasm: {HASH}\ncss: {HASH}\n");
        fs::write(root.join("hash.txt"), hashes).unwrap();
    }
}

async fn serving(root: &Path) -> TestApp {
    let options = LeptosOptions::builder()
        .output_name("longpoll-chat")
        .site_root(root.to_string_lossy().into_owned())
        .build();
    TestApp::build(Setup {
        leptos: Some(options),
        ..Setup::default()
    })
    .await
}

async fn fetch(app: &TestApp, uri: &str) -> Reply {
    let request = Request::get(uri)
        .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
        .body(Body::empty())
        .unwrap();
    app.call_raw(request).await
}

#[tokio::test]
async fn hashed_files_are_sent_precompressed_and_kept_a_year() {
    let root = tempfile::tempdir().unwrap();
    built_site(root.path(), true);
    let app = serving(root.path()).await;

    let css = fetch(&app, &format!("/pkg/longpoll-chat.{HASH}.css")).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.header(header::CONTENT_ENCODING), Some("br"));
    assert_eq!(&css.body[..], b"brotli bytes");
    assert_eq!(
        css.header(header::CACHE_CONTROL),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(css.header(header::VARY), Some("accept-encoding"));

    let icon = fetch(&app, "/favicon.ico").await;
    assert_eq!(icon.status, StatusCode::OK);
    assert_eq!(
        icon.header(header::CACHE_CONTROL),
        Some("public, max-age=86400")
    );

    let missing = fetch(&app, "/pkg/longpoll-chat.nothere.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header(header::CACHE_CONTROL), None);
}

#[tokio::test]
async fn the_page_names_the_hashed_files() {
    let root = tempfile::tempdir().unwrap();
    built_site(root.path(), true);
    let app = serving(root.path()).await;
    let request = Request::get("/room/general")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap();
    let page = app.call_raw(request).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&page.body);
    for file in ["css", "js", "wasm"] {
        let name = format!("/pkg/longpoll-chat.{HASH}.{file}");
        assert!(html.contains(&name), "{name} is not in the page");
    }
    assert_eq!(page.header(header::CACHE_CONTROL), None);
}

#[tokio::test]
async fn unhashed_files_are_revalidated() {
    let root = tempfile::tempdir().unwrap();
    built_site(root.path(), false);
    let app = serving(root.path()).await;
    let js = fetch(&app, "/pkg/longpoll-chat.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.header(header::CACHE_CONTROL), Some("no-cache"));
}
