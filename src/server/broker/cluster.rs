//! This instance among the others sharing its store: what it tells them (its active clients
//! every [`SHARE_ACTIVITY_EVERY`]; presence and typing, through `presence`) and what it hears
//! from them ([`ClusterFeed`]). Without a shared store none of this runs.

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;

use super::{clients::Clients, presence::Presence, room::Rooms, Broker};
use crate::{
    model::ClientId,
    server::store::{Cluster, ClusterSink, LiveNews},
};

/// How often a broker on a shared store reports its active clients (and so how stale the
/// cluster-wide count may be).
const SHARE_ACTIVITY_EVERY: Duration = Duration::from_secs(1);

impl Broker {
    /// Tells the other instances, every [`SHARE_ACTIVITY_EVERY`], which clients were active
    /// here since the last time, so that every instance can count them.
    pub(super) async fn share_activity(self, cluster: Arc<dyn Cluster>) {
        let shared = &*self.shared;
        let mut ticks = tokio::time::interval(SHARE_ACTIVITY_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut since = Instant::now();
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = shared.shutdown.cancelled() => return,
            }
            let now = Instant::now();
            let active: Vec<String> = (shared.clients.active_since(since).into_iter())
                .map(|(owner, id)| format!("{owner} {id}"))
                .collect();
            since = now;
            if active.is_empty() {
                continue;
            }
            if let Err(error) = cluster.record_active_clients(active).await {
                tracing::warn!(%error, "sharing active clients failed");
            }
        }
    }
}

/// What the other instances tell this one: a client disconnected there is disconnected here
/// too, and their presence and typing join this instance's.
pub(super) struct ClusterFeed {
    pub rooms: Arc<Rooms>,
    pub clients: Arc<Clients>,
    pub presence: Arc<Presence>,
}

impl ClusterSink for ClusterFeed {
    fn client_disconnected(&self, owner: &str, client_id: &str) {
        if let (Ok(owner), Ok(client_id)) = (owner.parse(), ClientId::parse(client_id)) {
            self.clients.disconnect(&client_id, &owner);
        }
    }

    fn live_heard(&self, instance: &str, news: Vec<LiveNews>) {
        (self.presence).heard(instance, news, |room| self.rooms.get_or_create(room));
    }
}
