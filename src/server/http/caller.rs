//! Who sent a request, for both adapters (the REST handlers and the server functions): its
//! credentials (a bearer token or the session cookie) checked by [`Chat::authenticate`], and
//! the client's address, resolved once per request by [`ClientAddressLayer`] (the peer's, or
//! the one a trusted proxy forwarded for, see [`super::client_addr`]).

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts, HeaderMap, HeaderValue, Request},
};
use tower::{Layer, Service};

use super::client_addr::TrustedProxies;
use crate::{
    error::ChatError,
    model::SessionCreated,
    server::{
        chat::Chat,
        clock::unix_seconds,
        identity::{Caller, Credentials},
    },
};

/// The browser's session cookie: `HttpOnly` (no script reads it), `SameSite=Lax` (no other
/// site's form or fetch sends it; following a link here does).
pub const SESSION_COOKIE: &str = "lpc_session";

/// Who sent the request, as the REST handlers extract it.
pub struct ApiCaller(pub Caller);

impl FromRequestParts<Chat> for ApiCaller {
    type Rejection = ChatError;

    async fn from_request_parts(parts: &mut Parts, chat: &Chat) -> Result<Self, ChatError> {
        caller_of(chat, parts).await.map(Self)
    }
}

/// The caller of a request, from its credentials and its [`ClientAddress`].
pub async fn caller_of(chat: &Chat, parts: &Parts) -> Result<Caller, ChatError> {
    let user = chat.authenticate(credentials(&parts.headers)?).await?;
    let address = match parts.extensions.get::<ClientAddress>() {
        Some(ClientAddress(address)) => *address,
        // Without the layer (a router under test on its own) the peer is the client.
        None => peer(parts.extensions.get::<ConnectInfo<SocketAddr>>()),
    };
    Ok(Caller { user, address })
}

/// The peer's address; without connection info (in-process tests) every request shares one.
fn peer(info: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    info.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

fn credentials(headers: &HeaderMap) -> Result<Credentials<'_>, ChatError> {
    let bearer = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value.to_str().unwrap_or_default();
            match value.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                    Some(token.trim())
                }
                _ => {
                    return Err(ChatError::unauthenticated(
                        "Authorization must be `Bearer TOKEN`",
                    ))
                }
            }
        }
    };
    let session_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value);
    Ok(Credentials {
        bearer,
        session_cookie,
    })
}

/// `Set-Cookie` for a new session, living as long as it does (`Secure` when the server is
/// reached over https).
pub fn session_cookie(chat: &Chat, session: &SessionCreated) -> HeaderValue {
    let max_age_secs = (session.expires_at - unix_seconds()).max(0.0) as u64;
    cookie_header(&session.token, max_age_secs, chat.secure_cookies())
}

/// `Set-Cookie` that makes the browser forget its session.
pub fn cleared_session_cookie(chat: &Chat) -> HeaderValue {
    cookie_header("", 0, chat.secure_cookies())
}

fn cookie_header(value: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("lpc_session=; Path=/; Max-Age=0"))
}

/// The client's address as this server sees it, in each request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// Resolves each request's [`ClientAddress`] before the app sees it. Adds nothing to the
/// request's future (it runs in `call`), which a held poll would keep.
#[derive(Clone)]
pub struct ClientAddressLayer {
    proxies: Arc<TrustedProxies>,
}

impl ClientAddressLayer {
    pub fn new(proxies: TrustedProxies) -> Self {
        Self {
            proxies: Arc::new(proxies),
        }
    }
}

impl<S> Layer<S> for ClientAddressLayer {
    type Service = ClientAddressService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientAddressService {
            inner,
            proxies: self.proxies.clone(),
        }
    }
}

/// The service of [`ClientAddressLayer`].
#[derive(Clone)]
pub struct ClientAddressService<S> {
    inner: S,
    proxies: Arc<TrustedProxies>,
}

impl<S, B> Service<Request<B>> for ClientAddressService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let peer = peer(request.extensions().get::<ConnectInfo<SocketAddr>>());
        let address = self.proxies.client_address(peer, request.headers());
        request.extensions_mut().insert(ClientAddress(address));
        self.inner.call(request)
    }
}
