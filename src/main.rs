//! The server binary: configuration -> broker (with its store) and identity -> chat service ->
//! HTTP application -> serve until SIGINT/SIGTERM, then answer every held poll and exit.

use std::io::IsTerminal;

use anyhow::Context;
use clap::Parser;
use leptos::prelude::get_configuration;
use longpoll_chat::{
    server::{
        self,
        broker::DEFAULT_MAX_HELD_POLLS,
        chat::{Chat, ChatOptions},
        config::{Command, Config},
        files::{Files, FilesLocation},
        identity::Identity,
        push::Push,
        Broker, BrokerConfig,
    },
    site,
};
use tracing_subscriber::EnvFilter;

/// jemalloc leaves the untouched parts of hyper's per-connection buffers out of memory and
/// frees faster than glibc under many threads, so an idle held poll costs little memory and a
/// fan-out spends less time in the allocator (bench/README.md has the figures).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Task polls between two looks for new I/O and timers while a worker is busy (tokio's default
/// is 61). A send wakes every held poll of its room at once; with the default, the workers
/// already read the re-polls of the first answered clients while most answers still wait, and
/// every later answer waits behind that work. Looking less often answers a send's polls first.
/// An idle worker still looks for I/O at once, so this only changes the order of work under
/// load.
const TASK_POLLS_PER_IO_CHECK: u32 = 512;

fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .event_interval(TASK_POLLS_PER_IO_CHECK)
        .build()
        .context("starting the async runtime")?;
    match config.command.clone() {
        Some(Command::Accounts { action }) => {
            match runtime.block_on(server::operator::run(action, &config.store())) {
                Ok(done) => println!("{done}"),
                Err(error) => {
                    eprintln!("error: {error}");
                    std::process::exit(1);
                }
            }
            Ok(())
        }
        None => runtime.block_on(run(config)),
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .init();

    let broker_config = BrokerConfig {
        max_held_polls: lift_open_file_limit(config.max_held_polls),
        ..config.broker()
    };
    let identity_config = config.identity()?;
    // Before the broker exists: it looks up its metric handles once, from this recorder.
    server::metrics::install();
    let store = config.store();
    let broker = Broker::open(broker_config, &store)
        .await
        .context("starting the message store")?;
    let (identity, room_changes) = Identity::open(identity_config, &store)
        .await
        .context("starting the identity store")?;
    let push = match config.push() {
        Some(push) => Some(
            Push::open(push, &store, broker.clone(), identity.clone())
                .await
                .context("starting Web Push")?,
        ),
        None => None,
    };
    let files_config = config.files();
    if matches!(&files_config.location, FilesLocation::Directory(_))
        && matches!(store, server::store::StoreConfig::Redis { .. })
    {
        tracing::warn!(
            "files are kept in a local directory while instances share Redis: an instance \
             cannot serve a file another kept; set --files s3://BUCKET/PREFIX"
        );
    }
    let files = Files::open(files_config)
        .map_err(anyhow::Error::msg)
        .context("opening the files' storage")?;
    files.start_sweeping(broker.search_index().clone());
    let chat_options = ChatOptions {
        push,
        files,
        ..config.chat()
    };
    let chat = Chat::new(broker.clone(), identity, chat_options, room_changes);
    let leptos_options = get_configuration(None)
        .context("reading the Leptos configuration")?
        .leptos_options;
    let app = site::app(chat, leptos_options, &config.http());

    warn_if_somaxconn_caps(config.listen_backlog);
    let listener = server::http::serve::listen(config.addr, config.listen_backlog)
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    tracing::info!(%addr, %store, "listening");
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: answering held polls");
        broker.shutdown();
    };
    server::http::serve::serve(listener, app, config.serve(), shutdown).await;
    Ok(())
}

/// Files the server keeps open besides held polls: the listener, the runtime's, the store's,
/// and connections that send, read history or stats.
const OPEN_FILES_BESIDES_POLLS: u64 = 256;

/// Every held poll is an open connection, and the soft limit on open files is often 1,024:
/// lift it to the hard limit, as Go's runtime does (nginx has `worker_rlimit_nofile` for it).
/// Returns the cap on held polls: the one asked for (with a warning when the limit cannot hold
/// that many), or by default [`DEFAULT_MAX_HELD_POLLS`] or as many as the limit leaves room for.
fn lift_open_file_limit(requested: Option<usize>) -> usize {
    let max_open_files = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open-file limit");
            return requested.unwrap_or(DEFAULT_MAX_HELD_POLLS);
        }
    };
    let room_for_polls = max_open_files.saturating_sub(OPEN_FILES_BESIDES_POLLS);
    let room_for_polls = usize::try_from(room_for_polls).unwrap_or(usize::MAX).max(1);
    match requested {
        Some(max_held_polls) if max_held_polls > room_for_polls => {
            tracing::warn!(
                max_open_files,
                max_held_polls,
                "the open-file limit is too low for --max-held-polls: connections past it wait \
                 until others close; raise the hard limit (`ulimit -Hn`, systemd's \
                 LimitNOFILE) or lower --max-held-polls"
            );
            max_held_polls
        }
        Some(max_held_polls) => {
            tracing::info!(max_open_files, max_held_polls, "open-file limit");
            max_held_polls
        }
        None if room_for_polls < DEFAULT_MAX_HELD_POLLS => {
            tracing::info!(
                max_open_files,
                max_held_polls = room_for_polls,
                "--max-held-polls follows the open-file limit (raise the hard limit with \
                 `ulimit -Hn` or systemd's LimitNOFILE for more)"
            );
            room_for_polls
        }
        None => {
            tracing::info!(
                max_open_files,
                max_held_polls = DEFAULT_MAX_HELD_POLLS,
                "open-file limit"
            );
            DEFAULT_MAX_HELD_POLLS
        }
    }
}

/// Linux caps the listen backlog at `net.core.somaxconn` without a word (128 before 5.4).
fn warn_if_somaxconn_caps(listen_backlog: u32) {
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok());
    if let Some(somaxconn) = somaxconn.filter(|&somaxconn| somaxconn < listen_backlog) {
        tracing::warn!(
            somaxconn,
            listen_backlog,
            "net.core.somaxconn caps the listen backlog: clients connecting in a burst past it \
             wait a second or more for their retry; raise it with sysctl"
        );
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
