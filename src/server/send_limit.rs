//! The send rate limit: each remote address may send so many messages per second (with a
//! burst), whether through `POST /api/send` or the page's server function. Past it: 429 with
//! `Retry-After`. One limiter for both adapters, applied in front of them.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::Method,
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ChatError;

/// The paths that send a message.
const SEND_PATHS: [&str; 2] = ["/api/send", "/sfn/send"];
/// Above this many remembered addresses, forget those whose bucket is full again.
const MAX_TRACKED_ADDRESSES: usize = 100_000;

#[derive(Clone)]
pub struct SendLimiter(Arc<DefaultKeyedRateLimiter<IpAddr>>);

impl SendLimiter {
    /// `per_second` sends per address, bursts up to `burst`.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Self(Arc::new(RateLimiter::keyed(quota)))
    }

    /// Seconds until `address` may send again, or `None` if it may send now.
    fn check(&self, address: IpAddr) -> Option<u64> {
        if self.0.len() > MAX_TRACKED_ADDRESSES {
            self.0.retain_recent();
        }
        self.0.check_key(&address).err().map(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }
}

/// Middleware: rate-limits message sends, passes everything else through.
pub async fn limit_sends(
    State(limiter): State<Option<SendLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let is_send = request.method() == Method::POST && SEND_PATHS.contains(&request.uri().path());
    if let (true, Some(limiter)) = (is_send, limiter) {
        // Without connection info (in-process tests) every request shares one bucket.
        let address = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        if let Some(retry_after_secs) = limiter.check(address) {
            return ChatError::RateLimited { retry_after_secs }.into_response();
        }
    }
    next.run(request).await
}
