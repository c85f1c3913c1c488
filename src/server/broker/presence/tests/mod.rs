//! Presence on tokio's paused clock: how leaves are queued and made final (`leaving`), and
//! two instances sharing a store (`sharing`).

mod leaving;
mod sharing;

use super::*;
use crate::server::broker::room::Rooms;

const GRACE: Duration = Duration::from_secs(15);

fn person(name: &str) -> Person {
    Person {
        key: name.to_owned(),
        name: name.to_owned(),
    }
}
