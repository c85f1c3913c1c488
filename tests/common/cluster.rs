//! Two instances of the real server sharing rooms and identity through one private Redis.

use super::{process::Server, redis::RedisServer};

/// Instances `a` and `b` on one Redis; dropped, it kills the instances, then Redis.
pub struct Cluster {
    pub a: Server,
    pub b: Server,
    pub redis: RedisServer,
}

impl Cluster {
    /// Starts Redis, then both instances (any ports) on it.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`start`](Self::start) with the same extra command-line options for both instances.
    pub fn start_with(options: &[&str]) -> Self {
        let redis = RedisServer::start();
        let a = Server::start_with(&redis.url(), "127.0.0.1:0", options);
        let b = Server::start_with(&redis.url(), "127.0.0.1:0", options);
        Self { a, b, redis }
    }
}
