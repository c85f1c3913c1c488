//! Wall-clock time, as messages, retention and the shared client registry count it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch (zero for a clock set before it).
pub fn unix_time() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Unix time in seconds, with a fractional part: a message's `timestamp`.
pub fn unix_seconds() -> f64 {
    unix_time().as_secs_f64()
}
