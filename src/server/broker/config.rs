//! The broker's tunables and their defaults.

use std::time::Duration;

use crate::{model::TEXT_MAX_CHARS, server::store::Retention};

/// Tunables of the broker.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Messages kept per room in memory; older ones are evicted (and answered with a reset).
    pub room_capacity: usize,
    /// A client with no held poll counts as active this long after its last poll ended, and is
    /// forgotten after it.
    pub client_idle: Duration,
    /// What the store keeps.
    pub retention: Retention,
    /// Polls held at once over the whole server; past it new polls get 503 with Retry-After.
    pub max_held_polls: usize,
    /// Polls one client may hold at once (on different rooms; one room holds one poll).
    pub max_polls_per_client: usize,
    /// Polls one signed-in person may hold at once, over all their clients.
    pub max_polls_per_person: usize,
    /// Polls the guests of one address may hold at once, over all their clients.
    pub max_polls_per_address: usize,
    /// Longest message text in characters; at most [`TEXT_MAX_CHARS`], which every message
    /// must respect anyway.
    pub max_text_chars: usize,
    /// Someone whose last stream of a room ended is still online there this long, so that
    /// reconnecting within it is neither a leave nor a join.
    pub presence_grace: Duration,
    /// The most JSON one answer (a poll's, a stream's over all its rooms, history) carries;
    /// what does not fit comes with the next read, from where the client got to.
    pub max_answer_bytes: usize,
}

/// `--max-answer-bytes` by default: a hundred messages of the longest text fit.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// `--max-held-polls` when the open-file limit allows it.
pub const DEFAULT_MAX_HELD_POLLS: usize = 50_000;
/// `--max-polls-per-person`: many devices and curl loops, a stream each.
pub const DEFAULT_MAX_POLLS_PER_PERSON: usize = 64;
/// `--max-polls-per-address`: an office of guests behind one address.
pub const DEFAULT_MAX_POLLS_PER_ADDRESS: usize = 512;

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            room_capacity: 1_000,
            client_idle: Duration::from_secs(60),
            retention: Retention::default(),
            max_held_polls: DEFAULT_MAX_HELD_POLLS,
            max_polls_per_client: 8,
            max_polls_per_person: DEFAULT_MAX_POLLS_PER_PERSON,
            max_polls_per_address: DEFAULT_MAX_POLLS_PER_ADDRESS,
            max_text_chars: TEXT_MAX_CHARS,
            presence_grace: Duration::from_secs(15),
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
        }
    }
}
