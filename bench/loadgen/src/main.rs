//! Load generator for longpoll-chat and, as a peer, nginx with the nchan long-poll module.
//!
//! One TCP connection (keep-alive) and one task per simulated client, on one of two HTTP/1.1
//! clients (`--client`): `raw` (the default), a small reader on `httparse` that allocates
//! nothing per poll (requests are written into a reused buffer, answers are read in place), or
//! `hyper`, hyper 1's client connection used as documented (`hyper_conn.rs`). Both send the same
//! requests and read answers' messages one at a time. The client shares the machine with the
//! server, so its CPU per answer is part of what a scenario measures: the fan-out is run with
//! both so that neither client's cost flatters one server. The counters the bench reads from
//! the server and the churn scenario always use the raw client. Every message carries its
//! sequence number and the instant it was sent, so receivers measure end-to-end latency and the
//! tally finds lost and duplicated messages. Every wait is bounded in time.
//!
//! Scenarios (see `bench/run.sh` for how the servers are started):
//! - `fanout`:  N clients hold a poll on one room; one send; time to each answer; 5 rounds.
//! - `cross`:   the same, with the polls held on one instance and the sends to another
//!   (`--send-addr`).
//! - `memory`:  10,000 idle held polls: server RSS growth per poll, then CPU used in 10 s idle.
//! - `stream`:  clients poll in a loop with cursors while 4 senders send 8,000 messages as fast
//!   as they can, then 1,000 messages/s for 5 s: throughput, loss, duplicates, latency.
//! - `latency`: one client, 1,000 sequential send -> answer round trips.
//! - `churn`:   two rounds of 500,000 client ids that poll once each: server RSS after each.
//! - `sign-in-burst`: fan-out rounds on 1,000 polls without sign-ins, then while 100 sign-ins
//!   (Argon2id on the server) run at once: wake-up latency of each phase, the sign-ins' times.
//! - `multi-room-stream`: 1,000 clients each hold one `POST /api/stream` on 10 of 100 rooms
//!   while 1,000 messages/s go to random rooms for 10 s: lost, duplicated, out of order,
//!   end-to-end latency, server memory per held stream. `multi-room-poll`: the same with one
//!   `GET /api/poll` per client on one of its rooms, the single-room baseline.
//! - `typing`: 1,000 streams on one room asking for who is online and typing (`live_version`),
//!   100 of them signed in: 5 s quiet, a message every 200 ms for 20 s with the 100 idle, the
//!   same while they signal typing every 3 s, then 5 s of typing alone: answers per listener
//!   per second by what they carried, fan-out latency of the messages, server CPU.
//! - `search`: `GET /api/search` on a million stored messages (the database of
//!   `bench/search_corpus.py`): a common word, a very common one, a rare one, a phrase, a prefix
//!   and the common word in one room, 200 times each, by 1 client then by 4: p50 / p99 per query.
//! - `push`: 1,000 accounts subscribed to Web Push (endpoints on a push service inside the
//!   loadgen) and at level `all` in one room; 1,000 sequential sends to that room and 1,000 to a
//!   room nobody listens to, in alternating blocks: send latency of each, the server CPU, and
//!   the pushes the sink took (one per subscriber and 5 s at most).
//!
//! `--bearer-sessions N` signs N accounts up and in before the fan-out, and its polls carry
//! their tokens (`Authorization: Bearer`) in turn: rows `fanout-bearer-N`.
//!
//! # Layout
//! - `main.rs`: the options (`Args`) and the loop over the chosen scenarios.
//! - `scenarios/`: one file per scenario (`latency`, `fanout` with `cross`, `stream`, `memory`
//!   with `churn`, `sign_in_burst`, `multi_room`, `typing`, `search`, `push` with its push
//!   service), the numbered send they share, and `ledger`, the count of lost, duplicated and
//!   out-of-order messages of `stream`, `multi_room` and `typing`.
//! - `accounts.rs`: signing accounts up and in (`POST /api/accounts`, `POST /api/sessions`).
//! - `pollers.rs`: the load: one task and connection per simulated client, polling in a loop and
//!   reporting each message received, and the wait for the server to hold all their polls.
//! - `connection.rs`: `Connection`, either client behind one interface, with the `Response`,
//!   `Cursor` and send parts both share.
//! - `raw_conn.rs`, `hyper_conn.rs`: the two HTTP/1.1 clients and their requests.
//! - `answer.rs`: reading a poll answer's messages in one pass; the bench's message text.
//! - `stream_answer.rs`: reading a multi-room stream answer in one pass, per-room cursors.
//! - `report.rs`: result lines and percentiles; `usage.rs`: CPU time and RSS from `/proc`.

use std::net::SocketAddr;

use anyhow::{bail, Result};
use clap::{Parser, ValueEnum};

mod accounts;
mod answer;
mod connection;
mod hyper_conn;
mod pollers;
mod raw_conn;
mod report;
mod scenarios;
mod stream_answer;
mod usage;

use report::Report;

#[derive(Parser)]
#[command(about = "Load generator for long-poll servers")]
struct Args {
    /// Which server protocol to speak.
    #[arg(long, value_enum)]
    kind: Kind,
    /// Server address.
    #[arg(long)]
    addr: SocketAddr,
    /// The HTTP client of the pollers and senders (their rows say which).
    #[arg(long, value_enum, default_value = "raw")]
    client: HttpClient,
    /// Where the cross scenario sends (another instance sharing the server's rooms).
    #[arg(long)]
    send_addr: Option<SocketAddr>,
    /// Held-poll counts for the cross scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,1000")]
    cross_clients: Vec<usize>,
    /// Server processes whose memory and CPU time are measured (nginx: its workers).
    #[arg(long, value_delimiter = ',', required = true)]
    pids: Vec<u32>,
    /// Name of the run in the output (e.g. `ours-memory`).
    #[arg(long)]
    label: String,
    /// Scenarios to run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "latency,fanout,stream,memory"
    )]
    scenarios: Vec<String>,
    /// Client counts for the fan-out scenario.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    fanout_clients: Vec<usize>,
    /// Accounts signed up and in before the fan-out, whose tokens its polls carry in turn
    /// (`Authorization: Bearer`; rows `fanout-bearer-N`). 0: anonymous polls. The server's
    /// `--sign-in-per-address` must allow that many sign-ins.
    #[arg(long, default_value_t = 0)]
    bearer_sessions: usize,
    /// Held polls in the sign-in-burst scenario.
    #[arg(long, default_value_t = 1_000)]
    burst_clients: usize,
    /// Sign-ins started at once in the sign-in-burst scenario (the server's sign-in limits
    /// must allow them).
    #[arg(long, default_value_t = 100)]
    burst_sign_ins: usize,
    /// Fan-out rounds without sign-ins in the sign-in-burst scenario, before the burst.
    #[arg(long, default_value_t = 20)]
    burst_quiet_rounds: u64,
    /// Polling clients in the stream scenario.
    #[arg(long, default_value_t = 50)]
    stream_clients: usize,
    /// Concurrent senders (one connection each, one send in flight) in the stream scenario's
    /// flat-out phase.
    #[arg(long, default_value_t = 4)]
    stream_senders: u64,
    /// Messages sent in the stream scenario's flat-out phase.
    #[arg(long, default_value_t = 8_000)]
    stream_messages: u64,
    /// Clients of the multi-room scenarios (one held poll or stream each).
    #[arg(long, default_value_t = 1_000)]
    multi_clients: usize,
    /// Rooms the multi-room scenarios' messages go to and their clients choose from.
    #[arg(long, default_value_t = 100)]
    multi_rooms: usize,
    /// Rooms each client's stream follows in `multi-room-stream` (`multi-room-poll` polls the
    /// first of them).
    #[arg(long, default_value_t = 10)]
    multi_rooms_per_client: usize,
    /// Messages per second, all senders together, in the multi-room scenarios.
    #[arg(long, default_value_t = 1_000.0)]
    multi_rate: f64,
    /// Seconds the multi-room scenarios send for.
    #[arg(long, default_value_t = 10)]
    multi_secs: u64,
    /// Senders of the multi-room scenarios (one connection each, one send in flight; each owns
    /// a share of the rooms, so each room's messages are sent one after another).
    #[arg(long, default_value_t = 4)]
    multi_senders: usize,
    /// Seed of the multi-room scenarios' rooms per client and room per message.
    #[arg(long, default_value_t = 1)]
    multi_seed: u64,
    /// Streams on the typing scenario's room (one each, asking for who is online and typing).
    #[arg(long, default_value_t = 1_000)]
    typing_listeners: usize,
    /// Of those, how many are signed in and signal typing every 3 s in the typing phase (the
    /// server's sign-in limits must allow that many sign-ins).
    #[arg(long, default_value_t = 100)]
    typing_typists: usize,
    /// Seconds of each measured phase of the typing scenario with messages (typists idle, then
    /// typing).
    #[arg(long, default_value_t = 20)]
    typing_secs: u64,
    /// Milliseconds between the typing scenario's messages.
    #[arg(long, default_value_t = 200)]
    typing_message_ms: u64,
    /// Seconds of each of the typing scenario's phases without messages (quiet, typing alone).
    #[arg(long, default_value_t = 5)]
    typing_quiet_secs: u64,
    /// Times each query of the search scenario is asked, per client count.
    #[arg(long, default_value_t = 200)]
    search_rounds: usize,
    /// Clients asking at once in the search scenario, one phase per count (the server answers
    /// 4 searches at once, 503 past them).
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    search_concurrency: Vec<usize>,
    /// Accounts of the push scenario, each subscribed to a push endpoint on the loadgen's sink
    /// and at level `all` in the push room (the server's sign-up and sign-in limits must allow
    /// that many).
    #[arg(long, default_value_t = 1_000)]
    push_subscribers: usize,
    /// Sends of the push scenario to each of its two rooms.
    #[arg(long, default_value_t = 1_000)]
    push_sends: usize,
    /// Sends per block of the push scenario (blocks alternate between the rooms).
    #[arg(long, default_value_t = 100)]
    push_block: usize,
    /// Held polls in the memory scenario.
    #[arg(long, default_value_t = 10_000)]
    idle_clients: usize,
    /// Distinct client ids per round of the churn scenario (two rounds).
    #[arg(long, default_value_t = 500_000)]
    churn_clients: usize,
    /// Seconds to wait between churn rounds (the server's client idle window plus a janitor pass).
    #[arg(long, default_value_t = 4)]
    churn_pause_secs: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// longpoll-chat's `GET /api/poll` and `POST /api/send`.
    Ours,
    /// nchan: `GET /sub/ROOM` (long-poll), `POST /pub/ROOM`, `/nchan_status`.
    Nchan,
}

/// The two client implementations.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum HttpClient {
    /// A hand-written HTTP/1.1 client on `httparse` (`Conn`, in `raw_conn.rs`).
    Raw,
    /// hyper 1's HTTP/1.1 client connection (`HyperConn`, in `hyper_conn.rs`).
    Hyper,
}

impl HttpClient {
    /// The value of a result row's `client` field.
    fn json(self) -> String {
        match self {
            Self::Raw => r#""raw""#.into(),
            Self::Hyper => r#""hyper""#.into(),
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    // On a worker thread rather than in `block_on`'s: every delivery a poller reports would
    // otherwise have to wake the main thread (a futex call each, thousands per round).
    tokio::spawn(run(Args::parse())).await?
}

async fn run(args: Args) -> Result<()> {
    let mut report = Report {
        label: args.label.clone(),
    };
    for scenario in &args.scenarios {
        let outcome = match scenario.as_str() {
            "latency" => scenarios::latency(&args, &mut report).await,
            "fanout" => scenarios::fanout(&args, &mut report).await,
            "cross" => scenarios::cross(&args, &mut report).await,
            "stream" => scenarios::stream(&args, &mut report).await,
            "memory" => scenarios::memory_and_idle(&args, &mut report).await,
            "churn" => scenarios::churn(&args, &mut report).await,
            "sign-in-burst" => scenarios::sign_in_burst(&args, &mut report).await,
            "multi-room-stream" => {
                scenarios::multi_room(&args, &mut report, scenarios::Via::Stream).await
            }
            "multi-room-poll" => {
                scenarios::multi_room(&args, &mut report, scenarios::Via::Poll).await
            }
            "typing" => scenarios::typing(&args, &mut report).await,
            "search" => scenarios::search(&args, &mut report).await,
            "push" => scenarios::push(&args, &mut report).await,
            other => bail!("unknown scenario {other}"),
        };
        if let Err(error) = outcome {
            println!("{:<16} {scenario:<22} FAILED: {error:#}", args.label);
        }
    }
    Ok(())
}
