//! `search`: how long `GET /api/search` takes on a store that keeps many messages (ours only).
//! The server must be started on the database `bench/search_corpus.py` writes (a million
//! messages in a thousand rooms, the queries' words planted where they are expected) with
//! `--search-rate-per-minute 0`.
//!
//! Each of `QUERIES` is asked `--search-rounds` times, the kinds taking turns so that whatever
//! else the machine does falls on all of them, by 1 client, then by each other count of
//! `--search-concurrency` (one connection each, one query in flight each, all taking the next
//! query from one list). The server answers at most 4 searches at once and 503 past them.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Instant,
};

use anyhow::{bail, Context, Result};
use tokio::task::JoinSet;

use crate::{
    raw_conn::Conn,
    report::{float, percentile, Report},
    usage::{cpu_ms, self_cpu_ms},
    Args, Kind,
};

/// What each row asks, by the name of its row: the parameters of `GET /api/search` (the query
/// not yet encoded). The words are the corpus's (see `bench/search_corpus.py`).
const QUERIES: &[(&str, &str, Option<&str>)] = &[
    // In about 7 % of the messages.
    ("common", "build", None),
    // In about half of them: the worst single word (FTS5 keeps every word, stop words too).
    ("very-common", "the", None),
    // Planted in exactly 5.
    ("rare", "quokka", None),
    // Planted in about 1 %; each of its words is in about 2 %.
    ("phrase", "\"code review\"", None),
    // Words starting so: deploy, deployed, deploying, deployment, deploys; about 4 %.
    ("prefix", "deplo*", None),
    // The common word in one room (79 of its 1,000 messages).
    ("common-in-room", "build", Some("room0042")),
];

/// One answered query: which of `QUERIES`, how long it took, its status and result count.
struct Answer {
    query: usize,
    micros: u64,
    status: u16,
    results: usize,
}

/// One row per query and client count (`search-common-x1`, ...), then one per client count
/// with what the phase cost (`search-x1`).
pub(crate) async fn search(args: &Args, report: &mut Report) -> Result<()> {
    if args.kind != Kind::Ours {
        bail!("search needs --kind ours");
    }
    let targets: Arc<Vec<String>> = Arc::new(QUERIES.iter().map(target).collect());
    for &clients in &args.search_concurrency {
        let jobs = args.search_rounds * QUERIES.len();
        let next = Arc::new(AtomicUsize::new(0));
        let (server_cpu, cpu) = (cpu_ms(&args.pids)?, self_cpu_ms());
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for _ in 0..clients {
            let (targets, next, addr) = (targets.clone(), next.clone(), args.addr);
            tasks.spawn(async move {
                let mut conn = Conn::connect(addr).await?;
                let mut answers = Vec::new();
                loop {
                    let job = next.fetch_add(1, Ordering::Relaxed);
                    if job >= jobs {
                        return anyhow::Ok(answers);
                    }
                    let query = job % targets.len();
                    answers.push(ask(&mut conn, query, &targets[query]).await?);
                }
            });
        }
        let mut answers = Vec::with_capacity(jobs);
        while let Some(result) = tasks.join_next().await {
            answers.extend(result??);
        }
        let secs = started.elapsed().as_secs_f64();
        let (server_cpu, cpu) = (cpu_ms(&args.pids)? - server_cpu, self_cpu_ms() - cpu);
        let unexpected: Vec<u16> = answers
            .iter()
            .map(|answer| answer.status)
            .filter(|status| ![200, 503].contains(status))
            .collect();
        if !unexpected.is_empty() {
            // 429: the server's search rate was not lifted (`--search-rate-per-minute 0`).
            bail!("searches answered {unexpected:?}");
        }
        for (n, (name, q, room)) in QUERIES.iter().enumerate() {
            let mine: Vec<&Answer> = answers.iter().filter(|a| a.query == n).collect();
            let answered: Vec<&&Answer> = mine.iter().filter(|a| a.status == 200).collect();
            let mut micros: Vec<u64> = answered.iter().map(|a| a.micros).collect();
            micros.sort_unstable();
            let results_min = answered.iter().map(|a| a.results).min().unwrap_or(0);
            let results_max = answered.iter().map(|a| a.results).max().unwrap_or(0);
            let query = match room {
                Some(room) => format!("{q} in {room}"),
                None => q.to_string(),
            };
            report.add(
                format!("search-{name}-x{clients}"),
                vec![
                    ("query", serde_json::to_string(&query)?),
                    ("answered", answered.len().to_string()),
                    ("busy", (mine.len() - answered.len()).to_string()),
                    ("results_min", results_min.to_string()),
                    ("results_max", results_max.to_string()),
                    ("p50_ms", float(percentile(&micros, 0.5))),
                    ("p99_ms", float(percentile(&micros, 0.99))),
                    ("max_ms", float(percentile(&micros, 1.0))),
                ],
            );
        }
        let busy = answers.iter().filter(|a| a.status == 503).count();
        report.add(
            format!("search-x{clients}"),
            vec![
                ("queries", answers.len().to_string()),
                ("busy", busy.to_string()),
                ("queries_per_s", float(answers.len() as f64 / secs)),
                ("server_cpu_ms", float(server_cpu)),
                (
                    "server_cpu_ms_per_query",
                    float(server_cpu / answers.len() as f64),
                ),
                ("loadgen_cpu_ms", float(cpu)),
            ],
        );
    }
    Ok(())
}

/// The request target of a query of `QUERIES`.
fn target((_, q, room): &(&str, &str, Option<&str>)) -> String {
    let mut target = format!("/api/search?q={}", encode(q));
    if let Some(room) = room {
        target.push_str("&room=");
        target.push_str(&encode(room));
    }
    target
}

/// `text` percent-encoded for a query string: everything but ASCII letters and digits.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// Asks query number `query` (its request target `target`) on `conn`; a 503 is an answer too.
async fn ask(conn: &mut Conn, query: usize, target: &str) -> Result<Answer> {
    #[derive(serde::Deserialize)]
    struct Results {
        results: Vec<serde::de::IgnoredAny>,
    }
    let request = format!("GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n");
    let started = Instant::now();
    let response = conn.roundtrip(request.as_bytes()).await?;
    let micros = started.elapsed().as_micros() as u64;
    let results = match response.status {
        200 => serde_json::from_slice::<Results>(response.body)
            .context("a search answer")?
            .results
            .len(),
        _ => 0,
    };
    Ok(Answer {
        query,
        micros,
        status: response.status,
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded_into_their_targets() {
        assert_eq!(
            target(&("phrase", "\"code review\"", None)),
            "/api/search?q=%22code%20review%22"
        );
        assert_eq!(
            target(&("prefix", "deplo*", Some("room0042"))),
            "/api/search?q=deplo%2A&room=room0042"
        );
    }
}
