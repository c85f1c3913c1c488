//! The message log in the Redis the instances share: any instance can answer any poll, since
//! each learns of every instance's entries. Keys and channels are under the deployment's prefix,
//! written `PREFIX` (see [`RedisKeys`]).
//!
//! Keys: the hash `PREFIX rooms` maps each room to how many entries it ever had; the stream
//! `PREFIX room:NAME` keeps its most recent entries (capped at the retention count of
//! messages), each carrying `seq` (the entry's offset in the room) and the entry as JSON; the
//! list `PREFIX room-messages:NAME` holds the stream ids of the room's messages, oldest first
//! (what retention counts).
//!
//! An append is one Lua script, so it is atomic: it takes the room's next offset, adds the stream
//! entry and publishes `"SEQ ENTRY-ID JSON"` on the channel `PREFIX messages`. Offsets, stream
//! order and publication order therefore agree for every instance.
//!
//! Each instance subscribes to the channel (see `subscription` for when it is lost and back)
//! and hands each room's entries to its sink in offset order ([`Delivery`]). An entry whose
//! offset jumps past the next expected one means publications were missed (the subscription was
//! down, or the room is new here): the gap is read back from the stream. Every new subscription
//! reads all rooms back the same way before it counts as live, so nothing published while this
//! instance was away is missed. An append resolves once the local sink has its entry.
//!
//! Deleting a room deletes its count and its stream in one transaction, so the next append
//! numbers it from 0 again. Other instances find out through the identity store; until then a
//! lower offset in a newer entry tells them the room started over (see [`Inner::deliver`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use async_trait::async_trait;
use redis::{
    aio::ConnectionManager,
    streams::{StreamId, StreamRangeReply},
    AsyncCommands, RedisError, Script,
};
use tokio::{sync::Notify, time::timeout};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{
    connect, corrupt,
    keys::RedisKeys,
    open_error,
    subscription::{Subscriber, Subscription},
    unavailable, unix_millis, RedisPrefix, PING_EVERY,
};
use crate::{
    model::Entry,
    server::store::{CommitSink, LogStore, Retention, StoreError, StoredRoom},
};

/// KEYS: rooms hash, room stream, channel, room's message list (the stream entries of the
/// room's messages, not its changes, oldest first: what retention counts). ARGV: room, messages kept,
/// entry JSON, `1` for a message (`0` for a change). Past the retention, the oldest message
/// goes with every entry before it: changes never push a message out.
const APPEND_SCRIPT: &str = r"
local seq = redis.call('HINCRBY', KEYS[1], ARGV[1], 1) - 1
local id = redis.call('XADD', KEYS[2], '*', 'seq', seq, 'message', ARGV[3])
if ARGV[4] == '1' then
    redis.call('RPUSH', KEYS[4], id)
    local excess = redis.call('LLEN', KEYS[4]) - tonumber(ARGV[2])
    if excess > 0 then
        redis.call('LTRIM', KEYS[4], excess, -1)
        redis.call('XTRIM', KEYS[2], 'MINID', redis.call('LINDEX', KEYS[4], 0))
    end
end
redis.call('PUBLISH', KEYS[3], seq .. ' ' .. id .. ' ' .. ARGV[3])
return {seq, id}
";

/// Stream entries read per round trip when filling a gap.
const READ_CHUNK: usize = 1_000;
/// Rooms read back per round trip after a (re)subscription.
const CATCH_UP_BATCH: usize = 100;
/// How long an append waits for the subscription to hand over the messages before its own,
/// before reading them from the stream itself.
const DELIVERY_WAIT: Duration = Duration::from_millis(50);
/// Age-based retention runs this often.
const PRUNE_EVERY: Duration = Duration::from_secs(30);

pub struct RedisStore {
    inner: Arc<Inner>,
    /// New messages, as they are published.
    subscription: Subscription,
    /// Stops the subscription (and the pruning) when the store is dropped.
    _stop: DropGuard,
}

struct Inner {
    /// The deployment's keys and channels.
    keys: RedisKeys,
    commands: ConnectionManager,
    append: Script,
    sink: Arc<dyn CommitSink>,
    retention: Retention,
    /// Per room, what the sink has so far.
    delivered: Mutex<HashMap<String, Delivered>>,
    /// Notified after each message handed to the sink.
    progress: Notify,
}

/// How far the sink has a room.
#[derive(Default)]
struct Delivered {
    /// The offset of the next message the sink expects.
    next: u64,
    /// The stream entry of the last message handed over; where reading back resumes.
    last_entry: Option<String>,
}

/// What became of a message offered to the sink.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    /// Handed over, or the sink had it already.
    Done,
    /// Earlier messages are missing: read the gap back from the stream first.
    Gap,
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://HOST:PORT/DB`) and subscribes to new messages,
    /// every key and channel under `prefix` (by default the database's, see [`RedisPrefix`]).
    pub async fn open(
        url: &str,
        prefix: Option<&RedisPrefix>,
        sink: Arc<dyn CommitSink>,
        retention: Retention,
    ) -> Result<Self, StoreError> {
        Self::open_with_ping_period(url, prefix, sink, retention, PING_EVERY).await
    }

    /// [`open`](Self::open), checking the subscription every `ping_every`: lets tests see
    /// many checks go by.
    #[doc(hidden)]
    pub async fn open_with_ping_period(
        url: &str,
        prefix: Option<&RedisPrefix>,
        sink: Arc<dyn CommitSink>,
        retention: Retention,
        ping_every: Duration,
    ) -> Result<Self, StoreError> {
        let keys = RedisKeys::for_deployment(url, prefix)?;
        let (client, commands) = connect(url).await?;
        tracing::info!(prefix = %keys.prefix(), "redis keys and channels");
        let channels = vec![keys.messages_channel().to_owned()];
        let inner = Arc::new(Inner {
            keys,
            commands,
            append: Script::new(APPEND_SCRIPT),
            sink,
            retention,
            delivered: Mutex::new(HashMap::new()),
            progress: Notify::new(),
        });
        let stop = CancellationToken::new();
        let subscription = Subscription::start(
            "messages",
            client,
            channels,
            inner.clone(),
            ping_every,
            stop.clone(),
        )
        .await
        .map_err(|error| open_error(url, error))?;
        if retention.max_age.is_some() {
            tokio::spawn(inner.clone().prune_by_age(stop.clone()));
        }
        Ok(Self {
            inner,
            subscription,
            _stop: stop.drop_guard(),
        })
    }
}

impl Inner {
    fn delivered(&self) -> MutexGuard<'_, HashMap<String, Delivered>> {
        self.delivered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Offers the sink the entry at `seq` of its room. A `seq` the sink is past is dropped;
    /// a jump is a [`Delivery::Gap`] unless `accept_gap` (the stream itself no longer has the
    /// messages in between).
    fn deliver(&self, seq: u64, entry: &str, message: Entry, accept_gap: bool) -> Delivery {
        let mut delivered = self.delivered();
        let room = delivered.entry(message.room().to_owned()).or_default();
        if seq < room.next {
            // An older offset in a newer entry: Redis lost messages it had acknowledged (it
            // restarted without persisting them) and numbers the room from a lower offset again.
            let newer_entry = room
                .last_entry
                .as_deref()
                .is_some_and(|last| entry_order(entry) > entry_order(last));
            if !newer_entry {
                return Delivery::Done;
            }
            tracing::warn!(
                room = %message.room(),
                "the room's messages are gone from redis (deleted elsewhere, or redis restarted \
                 without persistence): starting it over"
            );
            self.sink.rewound(message.room());
            room.next = seq;
        }
        if seq > room.next && !accept_gap {
            return Delivery::Gap;
        }
        room.next = seq + 1;
        room.last_entry = Some(entry.to_owned());
        // Still under the lock, so each room's messages reach the sink in offset order.
        self.sink.committed(message, seq);
        drop(delivered);
        self.progress.notify_waiters();
        Delivery::Done
    }

    /// Where reading `room` back resumes: after the last entry handed over, or (`None`) the
    /// stream's most recent window for a room new here.
    fn resume_after(&self, room: &str) -> Option<String> {
        self.delivered()
            .get(room)
            .and_then(|room| room.last_entry.clone())
    }

    /// Hands the sink every message of `room` that the stream has past what the sink has.
    async fn catch_up(&self, room: &str) -> Result<(), StoreError> {
        let mut commands = self.commands.clone();
        loop {
            let after = self.resume_after(room);
            let reply: StreamRangeReply = read_back(&self.keys, room, after.as_deref())
                .query_async(&mut commands)
                .await
                .map_err(unavailable)?;
            if !self.deliver_read_back(after.as_deref(), reply)? {
                return Ok(());
            }
        }
    }

    /// Reads every room back after a (re)subscription, [`CATCH_UP_BATCH`] rooms per round trip.
    async fn catch_up_all(&self) -> Result<(), StoreError> {
        let mut commands = self.commands.clone();
        let rooms: Vec<String> = commands
            .hkeys(self.keys.rooms())
            .await
            .map_err(unavailable)?;
        for batch in rooms.chunks(CATCH_UP_BATCH) {
            let starts: Vec<Option<String>> =
                batch.iter().map(|room| self.resume_after(room)).collect();
            let mut pipeline = redis::pipe();
            for (room, after) in batch.iter().zip(&starts) {
                pipeline.add_command(read_back(&self.keys, room, after.as_deref()));
            }
            let replies: Vec<StreamRangeReply> = pipeline
                .query_async(&mut commands)
                .await
                .map_err(unavailable)?;
            for ((room, after), reply) in batch.iter().zip(&starts).zip(replies) {
                if self.deliver_read_back(after.as_deref(), reply)? {
                    self.catch_up(room).await?;
                }
            }
        }
        Ok(())
    }

    /// Hands the sink what [`read_back`] returned; whether the stream may have more.
    fn deliver_read_back(
        &self,
        after: Option<&str>,
        reply: StreamRangeReply,
    ) -> Result<bool, StoreError> {
        let more = after.is_some() && reply.ids.len() == READ_CHUNK;
        let mut entries = reply.ids;
        if after.is_none() {
            entries.reverse();
        }
        for entry in &entries {
            let (seq, message) = parse_entry(entry)?;
            // Whatever the stream lacks before its first entry was trimmed: it is gone.
            self.deliver(seq, &entry.id, message, true);
        }
        Ok(more)
    }

    /// Deletes stream entries older than the retention age, every [`PRUNE_EVERY`].
    async fn prune_by_age(self: Arc<Self>, stop: CancellationToken) {
        let Some(max_age) = self.retention.max_age else {
            return;
        };
        let mut ticks = tokio::time::interval(PRUNE_EVERY);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = stop.cancelled() => return,
            }
            if let Err(error) = self.trim_before(unix_millis(max_age)).await {
                tracing::warn!(%error, "redis age-based pruning failed");
            }
        }
    }

    async fn trim_before(&self, cutoff_millis: u64) -> Result<(), RedisError> {
        let mut commands = self.commands.clone();
        let rooms: Vec<String> = commands.hkeys(self.keys.rooms()).await?;
        for room in rooms {
            // Entry ids start with Redis's clock in milliseconds: older ids are older messages.
            let _: u64 = redis::cmd("XTRIM")
                .arg(self.keys.room_stream(&room))
                .arg("MINID")
                .arg(cutoff_millis.to_string())
                .query_async(&mut commands)
                .await?;
        }
        Ok(())
    }
}

impl Subscriber for Inner {
    /// Reads every room back.
    async fn subscribed(&self, _again: bool) -> Result<(), StoreError> {
        self.catch_up_all().await
    }

    async fn published(&self, _channel: &str, payload: &[u8]) -> Result<(), StoreError> {
        let (seq, entry, message) = parse_publication(payload)?;
        let room = message.room().to_owned();
        if self.deliver(seq, &entry, message, false) == Delivery::Gap {
            self.catch_up(&room).await?;
        }
        Ok(())
    }

    /// Held polls should not wait on messages this instance no longer hears of.
    fn lost(&self) {
        self.sink.interrupted();
    }
}

/// A stream entry id `MILLISECONDS-SEQUENCE`, as a pair that orders like Redis orders ids.
fn entry_order(id: &str) -> Option<(u64, u64)> {
    let (millis, sequence) = id.split_once('-')?;
    Some((millis.parse().ok()?, sequence.parse().ok()?))
}

/// Up to [`READ_CHUNK`] entries of `room`: those after the entry `after`, or the most recent
/// ones (newest first) when `None`.
fn read_back(keys: &RedisKeys, room: &str, after: Option<&str>) -> redis::Cmd {
    let key = keys.room_stream(room);
    let mut command = match after {
        Some(entry) => {
            let mut command = redis::cmd("XRANGE");
            command.arg(key).arg(format!("({entry}")).arg("+");
            command
        }
        None => {
            let mut command = redis::cmd("XREVRANGE");
            command.arg(key).arg("+").arg("-");
            command
        }
    };
    command.arg("COUNT").arg(READ_CHUNK);
    command
}

fn parse_entry(entry: &StreamId) -> Result<(u64, Entry), StoreError> {
    let seq: u64 = entry.get("seq").ok_or_else(|| corrupt("stream entry"))?;
    let json: String = entry
        .get("message")
        .ok_or_else(|| corrupt("stream entry"))?;
    let message = serde_json::from_str(&json).map_err(|_| corrupt("stream entry"))?;
    Ok((seq, message))
}

/// Splits a publication `"SEQ ENTRY-ID JSON"`.
fn parse_publication(payload: &[u8]) -> Result<(u64, String, Entry), StoreError> {
    let text = std::str::from_utf8(payload).map_err(|_| corrupt("publication"))?;
    let mut parts = text.splitn(3, ' ');
    let (Some(seq), Some(entry), Some(json)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(corrupt("publication"));
    };
    let seq = seq.parse().map_err(|_| corrupt("publication"))?;
    let message = serde_json::from_str(json).map_err(|_| corrupt("publication"))?;
    Ok((seq, entry.to_owned(), message))
}

#[async_trait]
impl LogStore for RedisStore {
    async fn append(&self, message: Entry) -> Result<(), StoreError> {
        let inner = &*self.inner;
        let json = serde_json::to_string(&message)
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;
        let mut commands = inner.commands.clone();
        let keys = &inner.keys;
        let (seq, entry): (u64, String) = inner
            .append
            .key(keys.rooms())
            .key(keys.room_stream(message.room()))
            .key(keys.messages_channel())
            .key(keys.room_messages(message.room()))
            .arg(message.room())
            .arg(inner.retention.max_messages_per_room.max(1))
            .arg(json)
            .arg(if message.message().is_some() {
                "1"
            } else {
                "0"
            })
            .invoke_async(&mut commands)
            .await
            .map_err(unavailable)?;
        let room = message.room().to_owned();
        loop {
            let progressed = inner.progress.notified();
            tokio::pin!(progressed);
            progressed.as_mut().enable();
            if inner.deliver(seq, &entry, message.clone(), false) == Delivery::Done {
                return Ok(());
            }
            // Messages of other instances come first; the subscription is usually about to
            // hand them over. If it does not, read them from the stream.
            if timeout(DELIVERY_WAIT, progressed).await.is_err() {
                inner.catch_up(&room).await?;
                // The catch-up read the stream to its end, this entry with it, unless the
                // stream no longer has it: the room was deleted meanwhile. Waiting longer
                // would wait for ever.
                if inner.deliver(seq, &entry, message.clone(), false) == Delivery::Gap {
                    return Err(StoreError::Unavailable(format!(
                        "room {room} was deleted while the message was sent"
                    )));
                }
                return Ok(());
            }
        }
    }

    async fn load(&self, per_room: usize) -> Result<Vec<StoredRoom>, StoreError> {
        let inner = &*self.inner;
        let mut commands = inner.commands.clone();
        let totals: HashMap<String, u64> = commands
            .hgetall(inner.keys.rooms())
            .await
            .map_err(unavailable)?;
        let mut rooms = Vec::with_capacity(totals.len());
        for (name, total) in totals {
            // From the `per_room`-th newest message on, changes included.
            let first: Option<String> = commands
                .lindex(inner.keys.room_messages(&name), -(per_room.max(1) as isize))
                .await
                .map_err(unavailable)?;
            let reply: StreamRangeReply = commands
                .xrevrange(
                    inner.keys.room_stream(&name),
                    "+",
                    first.as_deref().unwrap_or("-"),
                )
                .await
                .map_err(unavailable)?;
            let mut recent = Vec::with_capacity(reply.ids.len());
            for entry in reply.ids.iter().rev() {
                let (seq, message) = parse_entry(entry)?;
                // Only what came before `total` (the hash was read first).
                if seq < total {
                    inner.deliver(seq, &entry.id, message.clone(), true);
                    recent.push(message);
                }
            }
            rooms.push(StoredRoom {
                name,
                recent,
                total,
            });
        }
        Ok(rooms)
    }

    async fn delete_room(&self, room: &str) -> Result<(), StoreError> {
        let mut commands = self.inner.commands.clone();
        let keys = &self.inner.keys;
        let () = redis::pipe()
            .atomic()
            .hdel(keys.rooms(), room)
            .ignore()
            .del(keys.room_stream(room))
            .ignore()
            .del(keys.room_messages(room))
            .ignore()
            .query_async(&mut commands)
            .await
            .map_err(unavailable)?;
        // The next append here is offset 0 of a new room, not a gap to read back.
        self.inner.delivered().remove(room);
        Ok(())
    }

    async fn check(&self) -> Result<(), StoreError> {
        if !self.subscription.is_live() {
            return Err(StoreError::Unavailable("not subscribed to redis".into()));
        }
        let mut commands = self.inner.commands.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut commands)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn catch_up(&self, room: &str) -> Result<(), StoreError> {
        self.inner.catch_up(room).await
    }
}
