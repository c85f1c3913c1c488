//! Helpers shared by the integration tests: the whole app in-process, and the real binary.
#![allow(dead_code)]

mod redis;

use std::{
    future::Future,
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::Duration,
};

use axum::Router;
use leptos::prelude::LeptosOptions;
use longpoll_chat::server::{store::StoreConfig, Broker, BrokerConfig, HttpConfig};
use serde_json::{json, Value};

#[allow(unused_imports)] // Only the tests that need Redis use it.
pub use redis::RedisServer;

/// The whole application (`server::app`) on a memory-store broker, for `oneshot` requests.
pub async fn in_process_app(http: HttpConfig) -> (Router, Broker) {
    let broker = Broker::open(BrokerConfig::default(), &StoreConfig::Memory)
        .await
        .unwrap();
    let options = LeptosOptions::builder()
        .output_name("longpoll-chat")
        .build();
    (
        longpoll_chat::site::app(broker.clone(), options, &http),
        broker,
    )
}

const SERVER_BIN: &str = env!("CARGO_BIN_EXE_longpoll-chat");

/// A running `longpoll-chat` process.
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

    /// Starts the server (memory store, any port) with its soft limit on open files lowered
    /// to `limit` by the shell that execs it.
    pub fn start_with_open_file_limit(limit: u32) -> Server {
        let mut shell = Command::new("sh");
        shell.args([
            "-c",
            &format!("ulimit -Sn {limit} && exec \"$0\" \"$@\""),
            SERVER_BIN,
        ]);
        Self::spawn(shell, "memory", "127.0.0.1:0", &[])
    }

    fn spawn(mut command: Command, store: &str, addr: &str, options: &[&str]) -> Server {
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

/// A client without connection reuse: a pooled connection to a killed server would fail the
/// first request after the restart.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// GETs `url` and reads the JSON answer.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// Sends `text` to `room` through the server at `base`; returns the new message's id.
/// Polls held by `server` right now, from its stats.
pub async fn held_polls(client: &reqwest::Client, server: &Server) -> u64 {
    get_json(client, &server.url("/api/stats")).await["held_polls"]
        .as_u64()
        .unwrap()
}

/// Checks `condition` until it holds, failing after `within` (a check that hangs, too): for
/// what becomes true on its own (a poll getting held, a reconnection, stats shared once a
/// second).
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let holds = async {
        while !condition().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(within, holds)
        .await
        .unwrap_or_else(|_| panic!("not within {within:?}: {what}"));
}

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

/// The ids of a JSON array of messages.
pub fn ids(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}
