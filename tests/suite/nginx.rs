//! The deployment docs/deployment.md documents, followed literally: its nginx block, taken from
//! the doc as written (only the upstream servers and the listen port are this test's), in front
//! of two real instances of the server started with `--trusted-proxies` for nginx, nginx on a
//! port other than 80.
//!
//! Through it, the page's own POSTs (a browser sends `Origin` with the port and
//! `Sec-Fetch-Site: same-origin`) are taken, another site's are refused, a body over
//! `--max-body-bytes` is answered 413 in the API's error shape rather than nginx's 502, and a
//! client's own `Forwarded` header does not change the address its limits count against.
//!
//! Needs nginx (`/usr/sbin/nginx` or on PATH); it runs as the test's user, without a master
//! process, with every file in a temporary directory.

use std::{
    net::{SocketAddr, TcpListener},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::common::{eventually, process::Server};

/// A running nginx, stopped when dropped.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// nginx configured with `block` (docs/deployment.md's), passing to `upstreams`.
    async fn start(block: &str, upstreams: &[SocketAddr]) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let block = with_upstreams(block, upstreams, port);
        let prefix = dir.path().display();
        let config = format!(
            "daemon off;\nmaster_process off;\npid {prefix}/nginx.pid;\n\
             error_log {prefix}/error.log info;\nevents {{ worker_connections 1024; }}\n\
             http {{\n\
             access_log off;\n\
             client_body_temp_path {prefix}/body;\nproxy_temp_path {prefix}/proxy;\n\
             fastcgi_temp_path {prefix}/fastcgi;\nuwsgi_temp_path {prefix}/uwsgi;\n\
             scgi_temp_path {prefix}/scgi;\n\
             {block}\n}}\n"
        );
        let config_path = dir.path().join("nginx.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        let nginx = Nginx {
            child,
            port,
            _dir: dir,
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        eventually(Duration::from_secs(10), "nginx listens", || async move {
            tokio::net::TcpStream::connect(addr).await.is_ok()
        })
        .await;
        nginx
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The origin a page served through this nginx has.
    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn nginx_binary() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The ```nginx block of docs/deployment.md's "Running several instances".
fn readme_nginx_block() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deployment.md"))
            .expect("docs/deployment.md");
    let section = &readme[readme
        .find("## Running several instances")
        .expect("docs/deployment.md's section on several instances")..];
    let start = section.find("```nginx\n").expect("an nginx block") + "```nginx\n".len();
    let end = start + section[start..].find("```").unwrap();
    section[start..end].to_owned()
}

/// `block` with its upstream `server` lines replaced by `upstreams` and its `listen` by
/// `port` on loopback; everything else as written.
fn with_upstreams(block: &str, upstreams: &[SocketAddr], port: u16) -> String {
    let mut lines = Vec::new();
    let (mut servers, mut listens) = (0, 0);
    for line in block.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("server ") && trimmed.ends_with(';') {
            if servers == 0 {
                lines.extend(upstreams.iter().map(|addr| format!("    server {addr};")));
            }
            servers += 1;
        } else if trimmed.starts_with("listen ") {
            lines.push(format!("    listen 127.0.0.1:{port};"));
            listens += 1;
        } else {
            lines.push(line.to_owned());
        }
    }
    assert!(
        servers > 0 && listens == 1,
        "unexpected README block:\n{block}"
    );
    lines.join("\n")
}

/// Two instances behind docs/deployment.md's nginx, with the flags it gives them (nginx, on
/// loopback, as their trusted proxy) and `extra` ones.
async fn deployment(extra: &[&str]) -> (Nginx, [Server; 2]) {
    let mut options = vec!["--trusted-proxies", "127.0.0.1"];
    options.extend_from_slice(extra);
    let servers = [
        Server::start_with("memory", "127.0.0.1:0", &options),
        Server::start_with("memory", "127.0.0.1:0", &options),
    ];
    let nginx = Nginx::start(&readme_nginx_block(), &[servers[0].addr, servers[1].addr]).await;
    (nginx, servers)
}

fn client() -> reqwest::Client {
    crate::common::process::client()
}

async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "not json": text }));
    (status, json)
}

#[tokio::test]
async fn the_pages_own_posts_pass_through_the_readmes_nginx_and_other_sites_are_refused() {
    let (nginx, _servers) = deployment(&[]).await;
    the_pages_own_posts_pass_and_other_sites_are_refused(&nginx, true).await;
}

#[tokio::test]
async fn the_pages_own_posts_pass_through_the_earlier_recipe_that_drops_the_port_too() {
    let (_, servers) = deployment(&[]).await;
    let block = readme_nginx_block();
    assert!(block.contains("Host $http_host;"), "{block}");
    let earlier = block.replace("Host $http_host;", "Host $host;");
    let nginx = Nginx::start(&earlier, &[servers[0].addr, servers[1].addr]).await;
    the_pages_own_posts_pass_and_other_sites_are_refused(&nginx, false).await;
}

/// A browser's POSTs through `nginx` pass, and another site's are refused; also those of an
/// older browser, without `Sec-Fetch-Site`, when nginx passes on the port (`with_port`).
async fn the_pages_own_posts_pass_and_other_sites_are_refused(nginx: &Nginx, with_port: bool) {
    let client = client();
    let origin = nginx.origin();
    // A browser's POSTs: `Origin` with nginx's port, and its word that the page is ours. Four
    // of each, so that both instances answer some.
    for round in 0..4 {
        let send = client
            .post(nginx.url("/api/send"))
            .header(header::ORIGIN, &origin)
            .header("sec-fetch-site", "same-origin")
            .json(&json!({"sender": "page", "text": format!("hello {round}"), "room": "proxied"}));
        let (status, body) = answer(send).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "sent");
        let stream = client
            .post(nginx.url("/api/stream"))
            .header(header::ORIGIN, &origin)
            .header("sec-fetch-site", "same-origin")
            // A cursor no instance knows: answered at once, with a reset.
            .json(&json!({"client_id": format!("tab-{round}"), "timeout": 5,
                          "rooms": [{"room": "proxied", "last_message_id": "unknown"}]}));
        let (status, body) = answer(stream).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // An older browser, without Sec-Fetch-Site: the recipe passes the Host with its port.
    let old_browser = client
        .post(nginx.url("/api/send"))
        .header(header::ORIGIN, &origin)
        .json(&json!({"sender": "page", "text": "from an old browser", "room": "proxied"}));
    let (status, body) = answer(old_browser).await;
    let expected = if with_port {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    assert_eq!(status, expected, "{body}");
    // Another site's page, new browser or old.
    for fetch_site in [Some("cross-site"), Some("same-site"), None] {
        let mut forged = client
            .post(nginx.url("/api/send"))
            .header(header::ORIGIN, "https://evil.example")
            .json(&json!({"sender": "evil", "text": "forged", "room": "proxied"}));
        if let Some(site) = fetch_site {
            forged = forged.header("sec-fetch-site", site);
        }
        let (status, body) = answer(forged).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{fetch_site:?}: {body}");
        assert_eq!(body["status"], "error");
        assert!(
            body["detail"].as_str().unwrap().contains("cross-site"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_through_the_readmes_nginx_is_answered_413_not_502() {
    let (nginx, _servers) = deployment(&[]).await;
    let client = client();
    // 1 MiB: as much as nginx itself accepts by default (`client_max_body_size 1m`), far over
    // the server's 64 KiB.
    let text = "x".repeat(1024 * 1024 - 64);
    let mut body = json!({"sender": "big", "text": text, "room": "proxied"}).to_string();
    body.push_str(&" ".repeat(1024 * 1024 - body.len()));
    assert_eq!(body.len(), 1024 * 1024);
    for _ in 0..4 {
        let request = client
            .post(nginx.url("/api/send"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.clone());
        let (status, answer) = answer(request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
        assert_eq!(
            answer,
            json!({"status": "error", "detail": "request body is too large"})
        );
    }
    // The instances are still there for the next request.
    let request = client
        .post(nginx.url("/api/send"))
        .json(&json!({"sender": "small", "text": "fits", "room": "proxied"}));
    assert_eq!(answer(request).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_clients_own_forwarded_header_does_not_escape_its_address_limit_behind_nginx() {
    // Two sign-in attempts a minute per address; each attempt names another account, so only
    // the address limit can refuse.
    let (nginx, _servers) = deployment(&["--sign-in-per-address", "2"]).await;
    let client = client();
    let mut refused = 0;
    for attempt in 0..6 {
        let request = client
            .post(nginx.url("/api/sessions"))
            .header("forwarded", format!("for=198.51.100.{attempt}"))
            .json(&json!({"name": format!("nobody{attempt}"), "password": "not a password"}));
        let (status, body) = answer(request).await;
        match status {
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            StatusCode::UNAUTHORIZED => {}
            other => panic!("{other}: {body}"),
        }
    }
    // Each instance lets two through; the rest are refused whatever `Forwarded` claims.
    assert!(refused >= 2, "only {refused} of 6 attempts refused");
}
