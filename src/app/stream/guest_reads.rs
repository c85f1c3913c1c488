//! A guest's read positions, kept in `localStorage` (an account's are on the server).

use std::collections::BTreeMap;

use uuid::Uuid;

use super::storage;
use crate::model::MAX_STREAM_ROOMS;

/// A guest's read positions: a JSON object of room name to message id.
const READS_KEY: &str = "longpoll-chat.reads";

/// A guest's read positions.
pub fn guest_reads() -> BTreeMap<String, Uuid> {
    storage()
        .and_then(|storage| storage.get_item(READS_KEY).ok().flatten())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Keeps a guest's read position of `room` (forward only), at most a stream's worth of rooms.
pub fn keep_guest_read(room: &str, id: Uuid) {
    let mut reads = guest_reads();
    let entry = reads.entry(room.to_owned()).or_insert(id);
    *entry = (*entry).max(id);
    while reads.len() > MAX_STREAM_ROOMS {
        reads.pop_first();
    }
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(&reads)) {
        let _ = storage.set_item(READS_KEY, &text);
    }
}
