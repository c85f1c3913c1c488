//! A private S3-compatible server for one test (moto's `moto_server`, from PyPI): its own
//! port and a bucket, gone with the test. `make test` names it in `MOTO_SERVER`
//! (`make setup-python` installs it).

use std::{
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use longpoll_chat::server::files::FilesLocation;

/// A `moto_server` process of one test, killed when dropped.
pub struct S3Server {
    child: Child,
    port: u16,
}

pub const BUCKET: &str = "chat-files";

impl S3Server {
    /// Starts the server on a free port and makes [`BUCKET`].
    pub async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let program = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {program} ({error}): the S3 tests need moto's server \
                     (`make setup-python` installs it; `make test` names it in MOTO_SERVER)"
                )
            });
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Moto takes any credentials; the S3 client needs some (and no lookup of an instance's).
        for (name, value) in [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ] {
            std::env::set_var(name, value);
        }
        let made = reqwest::Client::new()
            .put(format!("{}/{BUCKET}", server.endpoint()))
            .send()
            .await
            .unwrap();
        assert!(made.status().is_success(), "{}", made.status());
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Files in [`BUCKET`] under `prefix`.
    pub fn location(&self, prefix: &str) -> FilesLocation {
        FilesLocation::S3 {
            bucket: BUCKET.into(),
            prefix: prefix.into(),
            endpoint: Some(self.endpoint()),
            region: Some("us-east-1".into()),
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
