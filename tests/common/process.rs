//! The real `longpoll-chat` binary, started on a port of its own, and the HTTP client calls
//! the tests make to it.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::Once,
    time::Duration,
};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

use super::eventually;

const SERVER_BIN: &str = env!("CARGO_BIN_EXE_longpoll-chat");

/// The password of every account the tests make.
pub const PASSWORD: &str = "correct horse battery";

/// How long a server may take to hold the polls a test sent it.
const HELD_WITHIN: Duration = Duration::from_secs(10);

/// A running `longpoll-chat` process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// The log lines up to the "listening" one.
    pub startup_log: Vec<String>,
}

impl Server {
    /// Starts the server on `addr` (port 0 for any) with `store`, and waits for its
    /// "listening" log line.
    pub fn start(store: &str, addr: &str) -> Server {
        Self::start_with(store, addr, &[])
    }

    /// [`start`](Self::start) with extra command-line options.
    pub fn start_with(store: &str, addr: &str, options: &[&str]) -> Server {
        Self::spawn(Command::new(SERVER_BIN), store, addr, options)
    }

    /// Starts the server (memory store, any port) with `options`, under the limit on open files
    /// that `ulimit {ulimit}` sets in the shell that execs it (`-Sn 64`: the soft limit).
    pub fn start_with_open_file_limit(ulimit: &str, options: &[&str]) -> Server {
        let mut shell = Command::new("sh");
        shell.args([
            "-c",
            &format!("ulimit {ulimit} && exec \"$0\" \"$@\""),
            SERVER_BIN,
        ]);
        Self::spawn(shell, "memory", "127.0.0.1:0", options)
    }

    fn spawn(mut command: Command, store: &str, addr: &str, options: &[&str]) -> Server {
        lift_open_file_limit();
        let mut child = command
            .args(["--addr", addr, "--store", store, "--send-rate", "0"])
            .args(options)
            .env("LEPTOS_OUTPUT_NAME", "longpoll-chat")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut startup_log = Vec::new();
        // Bounded by the server itself: it either logs "listening" or exits, closing the pipe.
        let addr = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            let addr = line
                .split_once("addr=")
                .map(|(_, rest)| rest.split_whitespace().next().unwrap().parse().unwrap());
            startup_log.push(line);
            if let Some(addr) = addr {
                break addr;
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server {
            child,
            addr,
            startup_log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn kill(mut self) -> SocketAddr {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `--store` of a SQLite file in `dir`.
pub fn sqlite(dir: &TempDir) -> String {
    format!("sqlite:{}", dir.path().join("chat.db").display())
}

/// Lifts the soft limit on open files of this test process to its hard limit, once, as the
/// server does for itself: the tests share the process, and one of them alone holds a thousand
/// connections to its server, past the common soft limit of 1,024 with any other test's.
fn lift_open_file_limit() {
    static LIFTED: Once = Once::new();
    LIFTED.call_once(|| {
        rlimit::increase_nofile_limit(u64::MAX).expect("the limit on open files can be raised");
    });
}

/// A client without connection reuse: a pooled connection to a killed server would fail the
/// first request after the restart.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// GETs `url` and reads the JSON answer.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// Polls held by `server` right now, from its stats.
pub async fn held_polls(client: &reqwest::Client, server: &Server) -> u64 {
    get_json(client, &server.url("/api/stats")).await["held_polls"]
        .as_u64()
        .unwrap()
}

/// Waits until `server` holds exactly `count` polls, failing after 10 seconds.
pub async fn until_held(client: &reqwest::Client, server: &Server, count: u64) {
    let what = format!("{count} polls are held");
    eventually(HELD_WITHIN, &what, || async {
        held_polls(client, server).await == count
    })
    .await;
}

/// Sends `text` to `room` through the server at `base`; returns the new message's id.
pub async fn send(client: &reqwest::Client, base: &str, room: &str, text: &str) -> String {
    let answer: Value = client
        .post(format!("{base}/api/send"))
        .json(&json!({"sender": "tester", "text": text, "room": room}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], "sent", "{answer}");
    answer["message_id"].as_str().unwrap().to_owned()
}

/// Polls the server at `base` with `query` (the poll's own timeout bounds it); an error when
/// the server goes away under the poll.
pub async fn poll(client: &reqwest::Client, base: &str, query: &str) -> reqwest::Result<Value> {
    client
        .get(format!("{base}/api/poll?{query}"))
        .send()
        .await?
        .json()
        .await
}

/// The ids of a JSON array of messages.
pub fn ids(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Calls the server with an optional bearer token and JSON body; the status and JSON answer.
pub async fn call(
    client: &reqwest::Client,
    method: Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Signs `name` in with [`PASSWORD`].
pub async fn sign_in(client: &reqwest::Client, server: &Server, name: &str) -> (StatusCode, Value) {
    let body = json!({"name": name, "password": PASSWORD});
    call(
        client,
        Method::POST,
        server.url("/api/sessions"),
        None,
        Some(body),
    )
    .await
}

/// Makes the account `name` with [`PASSWORD`] and signs it in; the session's token.
pub async fn sign_up_and_in(client: &reqwest::Client, server: &Server, name: &str) -> String {
    let body = json!({"name": name, "password": PASSWORD});
    let (status, _) = call(
        client,
        Method::POST,
        server.url("/api/accounts"),
        None,
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, session) = sign_in(client, server, name).await;
    assert_eq!(status, StatusCode::CREATED);
    session["token"].as_str().unwrap().to_owned()
}
