//! This browser's side of Web Push: the notification permission, the service worker
//! (`/sw.js`, which shows the pushes), and the subscription the server sends to.
//!
//! The server's half: `GET /api/push/key` answers its VAPID public key, `POST
//! /api/me/push-subscriptions` takes a subscription (`PushSubscription.toJSON()`) for the
//! signed-in account, `DELETE /api/me/push-subscriptions` with its `endpoint` ends it.
//!
//! Every browser call that may be missing (no `Notification`, no service workers, no push) is
//! looked up first: a browser without it gets [`Permission::Unsupported`] or an error to show,
//! never a thrown exception.

use gloo_net::http::Request;
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use leptos::prelude::window;

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

fn has(target: &JsValue, name: &str) -> bool {
    js_sys::Reflect::has(target, &JsValue::from_str(name)).unwrap_or(false)
}

pub fn permission() -> Permission {
    if !has(&window(), "Notification") {
        return Permission::Unsupported;
    }
    match web_sys::Notification::permission() {
        web_sys::NotificationPermission::Granted => Permission::Granted,
        web_sys::NotificationPermission::Denied => Permission::Denied,
        _ => Permission::Default,
    }
}

/// Shows the browser's prompt (call it from a click: browsers refuse it otherwise).
pub async fn request_permission() -> Permission {
    if let Ok(asked) = web_sys::Notification::request_permission() {
        let _ = JsFuture::from(asked).await;
    }
    permission()
}

/// Whether the browser can receive pushes at all (service workers and the Push API).
pub fn supports_push() -> bool {
    has(&window().navigator(), "serviceWorker") && has(&window(), "PushManager")
}

/// The push subscription of this browser, if the service worker is registered and subscribed.
pub async fn current_subscription() -> Option<web_sys::PushSubscription> {
    if !supports_push() {
        return None;
    }
    let workers = window().navigator().service_worker();
    let registration = JsFuture::from(workers.get_registration()).await.ok()?;
    let registration = registration
        .dyn_into::<web_sys::ServiceWorkerRegistration>()
        .ok()?;
    let subscription = JsFuture::from(registration.push_manager().ok()?.get_subscription().ok()?)
        .await
        .ok()?;
    // A stand-in (tests) is not a `PushSubscription` to `instanceof`, but answers the same.
    (!subscription.is_null() && !subscription.is_undefined()).then(|| subscription.unchecked_into())
}

/// Registers the service worker, subscribes with the server's key and gives the server the
/// subscription. The error says which step failed, for the person to read.
pub async fn subscribe() -> Result<web_sys::PushSubscription, String> {
    if !supports_push() {
        return Err("this browser cannot receive notifications while the chat is closed".into());
    }
    let mut key = server_key().await?;
    let workers = window().navigator().service_worker();
    JsFuture::from(workers.register(SERVICE_WORKER))
        .await
        .map_err(|error| format!("the service worker did not start ({})", reason(&error)))?;
    // Subscribing needs an active worker: `ready` waits for it.
    let registration: web_sys::ServiceWorkerRegistration = JsFuture::from(
        workers
            .ready()
            .map_err(|error| format!("no service worker ({})", reason(&error)))?,
    )
    .await
    .map_err(|error| format!("no service worker ({})", reason(&error)))?
    .unchecked_into();
    let options = web_sys::PushSubscriptionOptionsInit::new();
    options.set_user_visible_only(true);
    options.set_application_server_key_opt_u8_slice(Some(&mut key));
    let push = registration
        .push_manager()
        .map_err(|error| format!("no push service ({})", reason(&error)))?;
    let subscription: web_sys::PushSubscription = JsFuture::from(
        push.subscribe_with_options(&options)
            .map_err(|error| format!("the push service refused ({})", reason(&error)))?,
    )
    .await
    .map_err(|error| format!("the push service refused ({})", reason(&error)))?
    .unchecked_into();
    if let Err(problem) = register(&subscription).await {
        // The server does not know it: nothing would come through it.
        let _ = subscription.unsubscribe();
        return Err(problem);
    }
    Ok(subscription)
}

/// Tells the server to stop sending to `subscription`, and ends it in the browser.
pub async fn unsubscribe(subscription: &web_sys::PushSubscription) -> Result<(), String> {
    let body = serde_json::json!({ "endpoint": subscription.endpoint() }).to_string();
    let answer = Request::delete(SUBSCRIPTIONS)
        .header("content-type", "application/json")
        .body(body)
        .map_err(|_| "the request could not be made".to_owned())?
        .send()
        .await;
    if let Ok(ended) = subscription.unsubscribe() {
        let _ = JsFuture::from(ended).await;
    }
    match answer {
        Ok(answer) if answer.ok() || answer.status() == 404 => Ok(()),
        Ok(answer) => Err(format!("the server answered {}", answer.status())),
        Err(_) => Err("the server could not be reached".into()),
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
async fn register(subscription: &web_sys::PushSubscription) -> Result<(), String> {
    let json = subscription
        .to_json()
        .ok()
        .and_then(|json| js_sys::JSON::stringify(&json).ok())
        .and_then(|json| json.as_string())
        .ok_or("the subscription could not be read")?;
    let answer = Request::post(SUBSCRIPTIONS)
        .header("content-type", "application/json")
        .body(json)
        .map_err(|_| "the request could not be made".to_owned())?
        .send()
        .await
        .map_err(|_| "the server could not be reached".to_owned())?;
    match answer.ok() {
        true => Ok(()),
        false => Err(format!("the server refused it ({})", answer.status())),
    }
}

/// What a rejected browser call said (its message, else its name).
fn reason(error: &JsValue) -> String {
    let text = |name| {
        js_sys::Reflect::get(error, &JsValue::from_str(name))
            .ok()
            .and_then(|value| value.as_string())
            .filter(|text| !text.is_empty())
    };
    text("message")
        .or_else(|| text("name"))
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
