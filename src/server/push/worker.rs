//! Who hears of a message, and the pushes: one task that takes sent messages from the queue,
//! picks the people who should hear of each, coalesces bursts per person and room, and hands
//! each push to a delivery task of its own (bounded in number), which encrypts it for each of
//! the person's browsers and POSTs it, retrying what the push service asks to have retried.

use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    sync::Arc,
    time::Duration,
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use reqwest::{header::HeaderValue, StatusCode};
use tokio::{
    sync::{mpsc, Semaphore},
    time::Instant,
};
use web_push_native::{p256::PublicKey, Auth, WebPushBuilder};

use super::{endpoint, vapid, Push, Sent};
use crate::{
    error::ChatError,
    model::{is_direct_room, NotifyLevel, PushPayload},
    server::{broker::Broker, identity::Identity, metrics, store::PushSubscriptionRecord},
};

/// How much of a message's text a push carries: pushes are at most 4 KiB, encrypted.
const TEXT_CHARS: usize = 120;
/// How long a push waits at the push service for a browser that is offline.
const PUSH_TTL: Duration = Duration::from_secs(12 * 3600);

/// The browser's keys of a subscription, or a 400 that says which is wrong.
pub(super) fn browser_keys(p256dh: &str, auth: &str) -> Result<(PublicKey, Auth), ChatError> {
    let decode = |text: &str| URL_SAFE_NO_PAD.decode(text.trim_end_matches('='));
    let public = (decode(p256dh).ok())
        .and_then(|bytes| PublicKey::from_sec1_bytes(&bytes).ok())
        .ok_or_else(|| ChatError::invalid("keys.p256dh is not a P-256 public key (base64url)"))?;
    let auth = (decode(auth).ok())
        .filter(|bytes| bytes.len() == 16)
        .ok_or_else(|| ChatError::invalid("keys.auth is not 16 bytes (base64url)"))?;
    Ok((public, Auth::clone_from_slice(&auth)))
}

pub(super) struct Worker {
    push: Push,
    broker: Broker,
    identity: Identity,
    client: reqwest::Client,
    /// A person and room pushed to within the last [`PushConfig::every`], with what came
    /// since (to be one push when that time is up).
    ///
    /// [`PushConfig::every`]: super::PushConfig::every
    recent: HashMap<(String, String), Option<Waiting>>,
    /// When each entry of `recent` is due, soonest first (pushes come in time order).
    due: VecDeque<(Instant, (String, String))>,
    /// Requests to push services at once.
    sending: Arc<Semaphore>,
    /// Pushes being delivered or waiting to be retried.
    pending: Arc<Semaphore>,
}

/// Messages that came while a person and room waited for their next push.
struct Waiting {
    latest: Sent,
    count: u32,
    urgent: bool,
}

impl Worker {
    pub fn new(push: Push, broker: Broker, identity: Identity) -> anyhow::Result<Self> {
        let config = &push.shared.config;
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(endpoint::PublicOnly {
                insecure: config.insecure.clone(),
            }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(config.timeout)
            .timeout(config.timeout)
            .user_agent(concat!("longpoll-chat/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            sending: Arc::new(Semaphore::new(config.in_flight.max(1))),
            pending: Arc::new(Semaphore::new(config.pending.max(1))),
            push,
            broker,
            identity,
            client,
            recent: HashMap::new(),
            due: VecDeque::new(),
        })
    }

    pub async fn run(mut self, mut sent: mpsc::Receiver<Sent>) {
        loop {
            let next_due = self.due.front().map(|(at, _)| *at);
            tokio::select! {
                message = sent.recv() => match message {
                    Some(message) => self.heard(message).await,
                    None => return,
                },
                () = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)),
                    if next_due.is_some() => self.end_due(Instant::now()),
            }
        }
    }

    /// Pushes `message` now to whoever should hear of it and has not been pushed to for its
    /// room lately; the others hear of it with what else comes until their time is up.
    async fn heard(&mut self, message: Sent) {
        for (account, urgent) in self.audience(&message).await {
            let key = (account, message.room.clone());
            match self.recent.get_mut(&key) {
                Some(waiting) => {
                    let count = waiting.as_ref().map_or(0, |waiting| waiting.count);
                    let urgent = urgent || waiting.as_ref().is_some_and(|waiting| waiting.urgent);
                    *waiting = Some(Waiting {
                        latest: message.clone(),
                        count: count + 1,
                        urgent,
                    });
                }
                None => {
                    self.deliver(&key.0, &message, 1, urgent);
                    self.remember(key);
                }
            }
        }
    }

    fn remember(&mut self, key: (String, String)) {
        let every = self.push.shared.config.every;
        self.recent.insert(key.clone(), None);
        self.due.push_back((Instant::now() + every, key));
    }

    /// Sends what waited for each person and room whose time is up, if they still should hear
    /// of it (they may be looking now, or have lost the room).
    fn end_due(&mut self, now: Instant) {
        while let Some((at, _)) = self.due.front() {
            if *at > now {
                break;
            }
            let Some((_, key)) = self.due.pop_front() else {
                break;
            };
            let Some(Some(waiting)) = self.recent.remove(&key) else {
                continue;
            };
            let (account, room) = &key;
            if self.may_read(account, room) && !self.broker.is_present(room, account) {
                self.deliver(account, &waiting.latest, waiting.count, waiting.urgent);
                self.remember(key);
            }
        }
    }

    fn may_read(&self, account: &str, room: &str) -> bool {
        self.identity.rooms().get(room).is_none_or(|private| {
            private.owner == account || private.members.iter().any(|member| member == account)
        })
    }

    /// Who should hear of `message` now, each with whether it is for them in particular (a
    /// direct room or a mention: pushed as urgent).
    async fn audience(&self, message: &Sent) -> Vec<(String, bool)> {
        let room = message.room.as_str();
        let direct = is_direct_room(room);
        let levels: HashMap<String, NotifyLevel> = match self.identity.levels_in(room).await {
            Ok(levels) => levels.into_iter().collect(),
            Err(error) => {
                tracing::warn!(%error, "cannot read notification levels: no pushes for a message");
                return Vec::new();
            }
        };
        let mut candidates: BTreeSet<&str> = BTreeSet::new();
        let private = self.identity.rooms().get(room);
        if direct {
            if let Some(private) = &private {
                candidates.insert(&private.owner);
                candidates.extend(private.members.iter().map(String::as_str));
            }
        }
        candidates.extend(message.mentions.iter().map(String::as_str));
        candidates.extend(
            (levels.iter())
                .filter(|(_, level)| **level == NotifyLevel::All)
                .map(|(account, _)| account.as_str()),
        );
        let mut audience = Vec::new();
        for account in candidates {
            if message.author.as_deref() == Some(account) || !self.may_read(account, room) {
                continue;
            }
            let mentioned = message.mentions.iter().any(|mention| mention == account);
            let level = (levels.get(account).copied()).unwrap_or(NotifyLevel::default_for(room));
            let wanted = match level {
                NotifyLevel::All => true,
                NotifyLevel::Mentions => mentioned || direct,
                NotifyLevel::None => false,
            };
            if wanted && !self.broker.is_present(room, account) {
                audience.push((account.to_owned(), mentioned || direct));
            }
        }
        audience
    }

    /// Starts delivering a push of `count` messages (the newest `message`) to every browser of
    /// `account`, unless too many are under way already (then it is dropped, and counted).
    fn deliver(&self, account: &str, message: &Sent, count: u32, urgent: bool) {
        let Ok(pending) = self.pending.clone().try_acquire_owned() else {
            metrics::count_push("dropped");
            return;
        };
        let delivery = Delivery {
            push: self.push.clone(),
            identity: self.identity.clone(),
            client: self.client.clone(),
            sending: self.sending.clone(),
            account: account.to_owned(),
            payload: payload(message, count),
            urgent,
        };
        tokio::spawn(async move {
            delivery.run().await;
            drop(pending);
        });
    }
}

/// What the notification says.
fn payload(message: &Sent, count: u32) -> PushPayload {
    let text: String = message.text.chars().take(TEXT_CHARS).collect();
    let text = if text.len() < message.text.len() {
        format!("{text}…")
    } else {
        text
    };
    let title = if is_direct_room(&message.room) {
        message.sender.clone()
    } else {
        format!("{} in {}", message.sender, message.room)
    };
    let body = match count {
        1 => text,
        count => format!("{count} new messages, the latest: {text}"),
    };
    PushPayload {
        room: message.room.clone(),
        title,
        body,
        sender: message.sender.clone(),
        id: message.id.to_string(),
        count,
        url: format!("/room/{}?at={}", message.room, message.id),
    }
}

/// One push to every browser of one person.
struct Delivery {
    push: Push,
    identity: Identity,
    client: reqwest::Client,
    sending: Arc<Semaphore>,
    account: String,
    payload: PushPayload,
    urgent: bool,
}

/// What became of one request.
enum Outcome {
    Sent,
    /// The subscription is gone (404, 410): delete it.
    Gone,
    /// Worth another try after the wait (429, 5xx, no answer), at least the given one.
    Retry(Option<Duration>),
    /// Refused for good (another 4xx): nothing to gain by trying again.
    Failed,
}

impl Delivery {
    async fn run(self) {
        let store = &self.push.shared.store;
        let subscriptions = match store.subscriptions(&self.account).await {
            Ok(subscriptions) => subscriptions,
            Err(error) => {
                error.reported("push");
                return;
            }
        };
        for subscription in subscriptions {
            match self.identity.session_alive(&subscription.session).await {
                Ok(true) => self.send(&subscription).await,
                // Signed out, expired or revoked: the subscription ended with its session.
                Ok(false) => self.forget(&subscription).await,
                // Reported where it failed; the push is lost, the subscription kept.
                Err(_) => {}
            }
        }
    }

    async fn send(&self, subscription: &PushSubscriptionRecord) {
        let config = &self.push.shared.config;
        let mut backoff = config.backoff;
        for attempt in 0..=config.retries {
            let outcome = {
                let Ok(_sending) = self.sending.acquire().await else {
                    return;
                };
                self.attempt(subscription).await
            };
            match outcome {
                Outcome::Sent => return metrics::count_push("sent"),
                Outcome::Gone => {
                    metrics::count_push("gone");
                    return self.forget(subscription).await;
                }
                Outcome::Failed => return metrics::count_push("failed"),
                Outcome::Retry(_) if attempt == config.retries => {
                    return metrics::count_push("failed")
                }
                Outcome::Retry(asked) => {
                    // A push service's Retry-After is followed up to a minute; past that the
                    // notification would be stale anyway.
                    let wait = asked.map_or(backoff, |asked| asked.min(Duration::from_secs(60)));
                    tokio::time::sleep(wait).await;
                    backoff *= 2;
                }
            }
        }
    }

    async fn attempt(&self, subscription: &PushSubscriptionRecord) -> Outcome {
        let shared = &self.push.shared;
        let host = host_of(&subscription.endpoint);
        let request = (|| {
            let url = endpoint::checked(&subscription.endpoint, &shared.config.insecure).ok()?;
            let (public, auth) = browser_keys(&subscription.p256dh, &subscription.auth).ok()?;
            let body = serde_json::to_vec(&self.payload).ok()?;
            let vapid = vapid::authorization(&shared.key, &url, &shared.config.subject).ok()?;
            let request = WebPushBuilder::new(url.as_str().parse().ok()?, public, auth)
                .with_valid_duration(PUSH_TTL)
                .build(body)
                .ok()?;
            Some((request, vapid))
        })();
        let Some((request, vapid)) = request else {
            tracing::warn!(%host, "a push subscription cannot be pushed to: deleting it");
            return Outcome::Gone;
        };
        let (parts, body) = request.into_parts();
        let urgency = if self.urgent { "high" } else { "normal" };
        let mut outgoing = self.client.post(parts.uri.to_string()).body(body);
        for (name, value) in &parts.headers {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
        outgoing = outgoing
            .header("Authorization", vapid)
            .header("Urgency", HeaderValue::from_static(urgency))
            .header("Topic", topic(&self.payload.room));
        match outgoing.send().await {
            Ok(answer) => match answer.status() {
                status if status.is_success() => Outcome::Sent,
                StatusCode::NOT_FOUND | StatusCode::GONE => Outcome::Gone,
                status @ (StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT) | status
                    if status.is_server_error() =>
                {
                    let asked = (answer.headers().get("retry-after"))
                        .and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    tracing::debug!(%host, %status, "push service asks to retry");
                    Outcome::Retry(asked)
                }
                status => {
                    tracing::warn!(%host, %status, "push service refused a push");
                    Outcome::Failed
                }
            },
            Err(error) => {
                tracing::debug!(%host, error = %error.without_url(), "push service did not answer");
                Outcome::Retry(None)
            }
        }
    }

    async fn forget(&self, subscription: &PushSubscriptionRecord) {
        let store = &self.push.shared.store;
        if let Err(error) = (store)
            .delete_subscription(&subscription.account, &subscription.endpoint)
            .await
        {
            error.reported("push");
        }
    }
}

/// The endpoint's host, which is all that is logged of it: the rest is a capability.
fn host_of(endpoint: &str) -> String {
    reqwest::Url::parse(endpoint)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A push's `Topic` (RFC 8030): a newer push of the same room replaces one the push service
/// still holds for an offline browser. At most 32 base64url characters.
fn topic(room: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(room.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..24])
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn sent(room: &str, text: &str) -> Sent {
        Sent {
            room: room.into(),
            id: Uuid::now_v7(),
            sender: "ann".into(),
            author: Some("ann".into()),
            text: text.into(),
            mentions: Vec::new(),
        }
    }

    #[test]
    fn a_payload_names_the_room_and_says_how_many() {
        let one = payload(&sent("general", "hello"), 1);
        assert_eq!(one.title, "ann in general");
        assert_eq!(one.body, "hello");
        assert_eq!(one.url, format!("/room/general?at={}", one.id));
        let burst = payload(&sent("dm--abc", &"x".repeat(500)), 19);
        assert_eq!(burst.title, "ann");
        assert!(burst.body.starts_with("19 new messages, the latest: xxx"));
        assert!(burst.body.chars().count() < 200, "{}", burst.body);
    }

    #[test]
    fn a_topic_is_short_url_safe_and_per_room() {
        let topic = topic("general");
        assert!(topic.len() <= 32);
        assert!(topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(topic, super::topic("random"));
    }

    #[test]
    fn browser_keys_are_checked() {
        let key = "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY";
        assert!(browser_keys(key, "_ordMnz7uTCmrpBTeUV4Bw").is_ok());
        assert!(browser_keys(key, "short").is_err());
        assert!(browser_keys("AAAA", "_ordMnz7uTCmrpBTeUV4Bw").is_err());
    }
}
