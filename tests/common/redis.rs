//! A private `redis-server` for one test: its own port and directory, gone with the test.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Child, Command, Stdio},
};

use tempfile::TempDir;

/// A `redis-server` process of one test, killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
}

impl RedisServer {
    /// Starts `redis-server` on a free port with an empty directory, appending every write to
    /// its log before answering (as a deployment that must lose nothing would).
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server without warning (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts the server again on the same port and directory, and waits until it accepts
    /// connections.
    pub fn restart(&mut self) {
        self.kill();
        let dir = self.dir.path().to_str().unwrap();
        let port = self.port.to_string();
        let mut child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port, "--dir", dir])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start redis-server ({error}): the Redis tests need it on PATH \
                     (`make setup-redis` installs it)"
                )
            });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            let line = lines
                .next()
                .expect("redis-server exited before accepting connections")
                .unwrap();
            if line.contains("Ready to accept connections") {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        self.child = Some(child);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
