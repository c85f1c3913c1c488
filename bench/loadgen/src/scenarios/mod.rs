//! The scenarios `--scenarios` chooses from, one file per kind of measurement, and the send
//! they share: one numbered message (`send`). Each prints its results through a `Report`.

mod fanout;
mod latency;
mod ledger;
mod memory;
mod multi_room;
mod push;
mod search;
mod sign_in_burst;
mod stream;
mod typing;

pub(crate) use fanout::{cross, fanout};
pub(crate) use latency::latency;
pub(crate) use memory::{churn, memory_and_idle};
pub(crate) use multi_room::{multi_room, Via};
pub(crate) use push::push;
pub(crate) use search::search;
pub(crate) use sign_in_burst::sign_in_burst;
pub(crate) use stream::stream;
pub(crate) use typing::typing;

use anyhow::{bail, Result};

use crate::{answer::message_text, connection::Connection, Kind};

/// Sends message number `seq` to `room`; an answer other than 2xx is an error.
async fn send(conn: &mut Connection, kind: Kind, room: &str, seq: u64) -> Result<()> {
    let status = conn.send(kind, room, &message_text(seq)).await?;
    if !(200..300).contains(&status) {
        bail!("send answered {status}");
    }
    Ok(())
}
