//! This browser's side of Web Push: the notification permission, the service worker
//! (`/sw.js`, which shows the pushes), and the subscription the server sends to.
//!
//! The server's half: `GET /api/push/key` answers its VAPID public key, `POST
//! /api/me/push-subscriptions` takes a subscription (`PushSubscription.toJSON()`) for the
//! signed-in account, `DELETE /api/me/push-subscriptions` with its `endpoint` ends it.
//!
//! Every browser call that may be missing (no `Notification`, no service workers, no push) is
//! looked up first: a browser without it gets [`Permission::Unsupported`] or an error to show,
//! never a thrown exception. The calls go by name ([`crate::app::js`]).

use gloo_net::http::Request;
use leptos::prelude::window;
use serde::Deserialize;
use wasm_bindgen::JsValue;

use crate::app::js::{call, call_async, get, object, settled, text};

const SERVICE_WORKER: &str = "/sw.js";
const SUBSCRIPTIONS: &str = "/api/me/push-subscriptions";

/// What the browser lets the page do with notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// No Notification API (an old browser, or an insecure origin).
    Unsupported,
    /// Not asked yet (or dismissed): asking shows the browser's prompt.
    Default,
    Granted,
    /// The person (or the browser) refused: only the browser's settings can change it.
    Denied,
}

/// The browser's `Notification` (the class), `undefined` without one.
pub fn notification_api() -> JsValue {
    get(&window(), "Notification")
}

pub fn permission() -> Permission {
    let api = notification_api();
    if api.is_undefined() {
        return Permission::Unsupported;
    }
    match text(&api, "permission").as_deref() {
        Some("granted") => Permission::Granted,
        Some("denied") => Permission::Denied,
        _ => Permission::Default,
    }
}

/// Shows the browser's prompt (call it from a click: browsers refuse it otherwise).
pub async fn request_permission() -> Permission {
    let _ = call_async(&notification_api(), "requestPermission", &[]).await;
    permission()
}

/// The browser's service workers (`navigator.serviceWorker`), `undefined` without them.
fn workers() -> JsValue {
    get(&window().navigator(), "serviceWorker")
}

/// Whether the browser can receive pushes at all (service workers and the Push API).
pub fn supports_push() -> bool {
    !workers().is_undefined() && !get(&window(), "PushManager").is_undefined()
}

/// The push subscription of this browser, if the service worker is registered and subscribed.
pub async fn current_subscription() -> Option<JsValue> {
    if !supports_push() {
        return None;
    }
    let registration = call_async(&workers(), "getRegistration", &[]).await.ok()?;
    if registration.is_undefined() {
        return None;
    }
    let push = get(&registration, "pushManager");
    let subscription = call_async(&push, "getSubscription", &[]).await.ok()?;
    (!subscription.is_null() && !subscription.is_undefined()).then_some(subscription)
}

/// Registers the service worker, subscribes with the server's key and gives the server the
/// subscription. The error says which step failed, for the person to read.
pub async fn subscribe() -> Result<JsValue, String> {
    if !supports_push() {
        return Err("this browser cannot receive notifications while the chat is closed".into());
    }
    let key = server_key().await?;
    call_async(&workers(), "register", &[&SERVICE_WORKER.into()])
        .await
        .map_err(|error| format!("the service worker did not start ({})", reason(&error)))?;
    // Subscribing needs an active worker: `ready` waits for it.
    let registration = settled(get(&workers(), "ready"))
        .await
        .map_err(|error| format!("no service worker ({})", reason(&error)))?;
    let options = object(&[
        ("userVisibleOnly", JsValue::TRUE),
        (
            "applicationServerKey",
            js_sys::Uint8Array::from(&key[..]).into(),
        ),
    ]);
    let push = get(&registration, "pushManager");
    let subscription = call_async(&push, "subscribe", &[&options])
        .await
        .map_err(|error| format!("the push service refused ({})", reason(&error)))?;
    if let Err(problem) = register(&subscription).await {
        // The server does not know it: nothing would come through it.
        let _ = call(&subscription, "unsubscribe", &[]);
        return Err(problem);
    }
    Ok(subscription)
}

/// Tells the server to stop sending to `subscription`, and ends it in the browser.
pub async fn unsubscribe(subscription: &JsValue) -> Result<(), String> {
    let endpoint = text(subscription, "endpoint").unwrap_or_default();
    let body = format!(
        "{{\"endpoint\":{}}}",
        serde_json::to_string(&endpoint).unwrap_or_default()
    );
    let answer = send(Request::delete(SUBSCRIPTIONS), body).await;
    let _ = call_async(subscription, "unsubscribe", &[]).await;
    match answer {
        Ok(status) if (200..300).contains(&status) || status == 404 => Ok(()),
        Ok(status) => Err(format!("the server answered {status}")),
        Err(why) => Err(why),
    }
}

/// `GET /api/push/key`'s answer.
#[derive(Deserialize)]
struct PushKey {
    key: String,
}

/// The server's VAPID public key, as the bytes `applicationServerKey` takes.
async fn server_key() -> Result<Vec<u8>, String> {
    let unavailable = || "this server does not send notifications".to_owned();
    let answer = Request::get("/api/push/key")
        .send()
        .await
        .map_err(|_| unavailable())?;
    if !answer.ok() {
        return Err(unavailable());
    }
    let key: PushKey = answer.json().await.map_err(|_| unavailable())?;
    base64url_decode(&key.key).ok_or_else(unavailable)
}

/// Gives the server the subscription (`PushSubscription.toJSON()`: its endpoint and keys).
async fn register(subscription: &JsValue) -> Result<(), String> {
    let json = call(subscription, "toJSON", &[])
        .and_then(|json| call(&get(&js_sys::global(), "JSON"), "stringify", &[&json]))
        .ok()
        .and_then(|json| json.as_string())
        .ok_or("the subscription could not be read")?;
    match send(Request::post(SUBSCRIPTIONS), json).await? {
        status if (200..300).contains(&status) => Ok(()),
        status => Err(format!("the server refused it ({status})")),
    }
}

/// Sends `body` (JSON) with `request`; answers the status.
async fn send(request: gloo_net::http::RequestBuilder, body: String) -> Result<u16, String> {
    let answer = request
        .header("content-type", "application/json")
        .body(body)
        .map_err(|_| "the request could not be made".to_owned())?
        .send()
        .await
        .map_err(|_| "the server could not be reached".to_owned())?;
    Ok(answer.status())
}

/// What a rejected browser call said (its message, else its name).
fn reason(error: &JsValue) -> String {
    let said = |name| text(error, name).filter(|said| !said.is_empty());
    said("message")
        .or_else(|| said("name"))
        .unwrap_or_else(|| "no reason given".into())
}

/// Base64url without padding (or with), as VAPID keys are written; `None` if it is not.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    for c in text.trim_end_matches('=').bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vapid_keys_decode_from_base64url() {
        assert_eq!(base64url_decode("AQID").unwrap(), [1, 2, 3]);
        assert_eq!(base64url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(base64url_decode("+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(base64url_decode("aGk").unwrap(), b"hi");
        assert!(base64url_decode("a b").is_none());
    }
}
