//! The send rate limit: each remote address may send so many messages per second (with a
//! burst), whichever of the paths that send it uses (`POST /api/send`, the page's server
//! function). Past it: 429 with `Retry-After`. One limiter for every adapter, applied in front
//! of them.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    extract::ConnectInfo,
    http::{Method, Request},
    response::{IntoResponse, Response},
};
use futures_util::future::{ready, Either, Ready};
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tower::{Layer, Service};

use crate::error::ChatError;

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

/// Rate-limits message sends and passes everything else through, as a tower layer around the
/// whole application. A layer of our own rather than `axum::middleware::from_fn`: its future
/// is the inner one or a ready answer, not a boxed future per request, so a held poll waiting
/// inside it keeps no extra allocation.
#[derive(Clone)]
pub struct SendLimitLayer {
    limiter: Option<SendLimiter>,
    send_paths: &'static [&'static str],
}

impl SendLimitLayer {
    /// Limits `POST`s to `send_paths` with `limiter`; `None` sends freely.
    pub fn new(limiter: Option<SendLimiter>, send_paths: &'static [&'static str]) -> Self {
        Self {
            limiter,
            send_paths,
        }
    }
}

impl<S> Layer<S> for SendLimitLayer {
    type Service = SendLimit<S>;

    fn layer(&self, inner: S) -> SendLimit<S> {
        SendLimit {
            limiter: self.limiter.clone(),
            send_paths: self.send_paths,
            inner,
        }
    }
}

/// The service made by [`SendLimitLayer`].
#[derive(Clone)]
pub struct SendLimit<S> {
    limiter: Option<SendLimiter>,
    send_paths: &'static [&'static str],
    inner: S,
}

impl<S, B> Service<Request<B>> for SendLimit<S>
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
        let is_send =
            request.method() == Method::POST && self.send_paths.contains(&request.uri().path());
        if let (true, Some(limiter)) = (is_send, &self.limiter) {
            // Without connection info (in-process tests) every request shares one bucket.
            let address = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
            if let Some(retry_after_secs) = limiter.check(address) {
                let refusal = ChatError::RateLimited { retry_after_secs }.into_response();
                return Either::Left(ready(Ok(refusal)));
            }
        }
        Either::Right(self.inner.call(request))
    }
}
