//! Password hashes and session tokens: what the server keeps of a secret is never the secret.
//!
//! - Passwords: Argon2id (RustCrypto `argon2`, its default parameters: 19 MiB, 2 passes), in
//!   PHC string format with a random salt. Hashing costs tens of milliseconds of CPU and 19 MiB
//!   by design, so it runs on [`Hasher`]'s own few threads, at a lower scheduling priority
//!   (nice 10): a burst of sign-ins neither blocks the async workers that hold polls, nor takes
//!   every core, nor the CPU those workers need when they wake a room.
//! - The hashes wait in two bounded queues: sign-ins (checking a password) and sign-ups
//!   (making a hash: new accounts, password resets). A free thread always takes a sign-in
//!   first, so a flood of sign-ups delays a sign-in by at most the hashes already running. A
//!   full queue refuses at once (503 with `Retry-After`) rather than letting waits and memory
//!   grow.
//! - Session tokens: 256 random bits, `lpc_` + base64url; stored as SHA-256 only. Looking a
//!   token up by its hash leaks nothing usable through timing.

use std::{
    collections::VecDeque,
    panic::AssertUnwindSafe,
    sync::{Arc, Condvar, Mutex, MutexGuard, Once},
};

use argon2::{
    password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier},
    Argon2,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::{error::ChatError, model::Password, server::store::identity::TokenHash};

/// What every session token starts with, so a token is recognisable in a leaked config or
/// log and told apart from a JWT.
pub const TOKEN_PREFIX: &str = "lpc_";

/// `Retry-After` of a hash refused because its queue is full: a few hashes' time.
pub const HASH_QUEUE_RETRY_AFTER_SECS: u64 = 2;

/// A new random session token and the hash the store keeps of it.
pub fn new_session_token() -> Result<(String, TokenHash), ChatError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| {
        tracing::error!(%error, "no randomness for a session token");
        ChatError::Internal
    })?;
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = token_hash(&token);
    Ok((token, hash))
}

pub fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// Which queue a hash waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Checking a password: someone is waiting at the sign-in form. Served first.
    SignIn,
    /// Making a hash: a new account or a new password.
    SignUp,
}

/// Runs Argon2id off the async workers, on its own low-priority threads.
#[derive(Clone)]
pub struct Hasher {
    pool: Arc<Pool>,
    /// Verified against when a name is unknown, so that a wrong name costs what a wrong
    /// password costs and the answer time tells nothing of which names exist. Made on first
    /// use: a server nobody signs in to never pays for it.
    decoy: Arc<tokio::sync::OnceCell<String>>,
}

impl Hasher {
    /// At most `parallel` hashes at once (at least one), and at most `queue` (at least one)
    /// waiting in each queue; the threads start on first use.
    pub fn new(parallel: usize, queue: usize) -> Self {
        Self {
            pool: Arc::new(Pool {
                threads: parallel.max(1),
                capacity: queue.max(1),
                started: Once::new(),
                queues: Arc::default(),
            }),
            decoy: Arc::default(),
        }
    }

    /// The PHC string of a new salted Argon2id hash of `password`.
    pub async fn hash(&self, password: Password) -> Result<String, ChatError> {
        self.run(Priority::SignUp, move || hash_now(password.expose()))
            .await?
    }

    /// Whether `password` matches `phc` (constant-time comparison inside `argon2`). `None`
    /// checks against the decoy and answers `false`.
    pub async fn verify(&self, password: Password, phc: Option<String>) -> Result<bool, ChatError> {
        let known = phc.is_some();
        let phc = match phc {
            Some(phc) => phc,
            None => self
                .decoy
                .get_or_try_init(|| async {
                    self.run(Priority::SignIn, || hash_now("not anyone's password"))
                        .await?
                })
                .await?
                .clone(),
        };
        let matches = self
            .run(Priority::SignIn, move || {
                PasswordHash::new(&phc).is_ok_and(|hash| {
                    Argon2::default()
                        .verify_password(password.expose().as_bytes(), &hash)
                        .is_ok()
                })
            })
            .await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        priority: Priority,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ChatError> {
        self.submit(priority, work)?.await.map_err(|_| {
            tracing::error!("a password hashing job was dropped unfinished");
            ChatError::Internal
        })
    }

    /// Queues `work`, or refuses at once if its queue is full.
    fn submit<T: Send + 'static>(
        &self,
        priority: Priority,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, ChatError> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.pool.submit(priority, job)?;
        Ok(result)
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads and their queues. The threads end when the last [`Hasher`] clone is
/// dropped, once the jobs already queued are done.
struct Pool {
    threads: usize,
    capacity: usize,
    started: Once,
    queues: Arc<Queues>,
}

#[derive(Default)]
struct Queues {
    waiting: Mutex<Waiting>,
    /// Signalled for each job queued, and to every thread when the pool closes.
    ready: Condvar,
}

#[derive(Default)]
struct Waiting {
    sign_ins: VecDeque<Job>,
    sign_ups: VecDeque<Job>,
    closed: bool,
}

/// The hashing threads' nice value: when they and the async workers want the same core, the
/// workers get most of it, so held polls are answered while a burst of sign-ins waits.
const HASHING_NICE: i32 = 10;

impl Pool {
    fn submit(&self, priority: Priority, job: Job) -> Result<(), ChatError> {
        self.started.call_once(|| self.start());
        let mut waiting = self.queues.waiting();
        let queue = match priority {
            Priority::SignIn => &mut waiting.sign_ins,
            Priority::SignUp => &mut waiting.sign_ups,
        };
        if queue.len() >= self.capacity {
            return Err(ChatError::busy(
                "too many passwords to check right now, retry later",
                HASH_QUEUE_RETRY_AFTER_SECS,
            ));
        }
        queue.push_back(job);
        drop(waiting);
        self.queues.ready.notify_one();
        Ok(())
    }

    fn start(&self) {
        for _ in 0..self.threads {
            let queues = self.queues.clone();
            let spawned = std::thread::Builder::new()
                .name("password-hash".into())
                .spawn(move || {
                    lower_this_threads_priority();
                    while let Some(job) = queues.next_job() {
                        // A panicking hash fails its own request (its sender is dropped),
                        // not the thread.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.queues.waiting().closed = true;
        self.queues.ready.notify_all();
    }
}

impl Queues {
    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next job, sign-ins first; `None` once the pool is closed and drained.
    fn next_job(&self) -> Option<Job> {
        let mut waiting = self.waiting();
        loop {
            if let Some(job) = waiting
                .sign_ins
                .pop_front()
                .or_else(|| waiting.sign_ups.pop_front())
            {
                return Some(job);
            }
            if waiting.closed {
                return None;
            }
            waiting = self.ready.wait(waiting).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // SAFETY: setpriority only reads its arguments; on Linux, PRIO_PROCESS with `who` 0 names
    // the calling thread. Raising one's own nice value needs no privilege.
    let failed = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, HASHING_NICE) } != 0;
    if failed {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "cannot lower the password hashing threads' priority"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

fn hash_now(password: &str) -> Result<String, ChatError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| {
            tracing::error!(%error, "password hashing failed");
            ChatError::Internal
        })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_runs_at_a_lower_priority_than_the_async_workers() {
        let hasher = Hasher::new(1, 8);
        // SAFETY: as in `lower_this_threads_priority`.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let ours = nice();
        let theirs = hasher.run(Priority::SignIn, nice).await.unwrap();
        assert_eq!(theirs, (ours + HASHING_NICE).min(19));
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only_and_never_contains_it() {
        let hasher = Hasher::new(1, 8);
        let password = Password::parse("correct horse").unwrap();
        let phc = hasher.hash(password.clone()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(hasher
            .verify(password.clone(), Some(phc.clone()))
            .await
            .unwrap());
        let wrong = Password::parse("wrong horse").unwrap();
        assert!(!hasher.verify(wrong, Some(phc.clone())).await.unwrap());
        // Salted: the same password hashes differently each time.
        assert_ne!(hasher.hash(password.clone()).await.unwrap(), phc);
        // An unknown name never matches, even with the decoy's own password.
        let decoy = Password::parse("not anyone's password").unwrap();
        assert!(!hasher.verify(decoy, None).await.unwrap());
    }

    /// Occupies the pool's only thread until the returned sender sends (or is dropped).
    pub(in crate::server::identity) async fn occupied(
        hasher: &Hasher,
    ) -> (std::sync::mpsc::Sender<()>, oneshot::Receiver<()>) {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started, has_started) = oneshot::channel();
        let done = hasher
            .submit(Priority::SignUp, move || {
                let _ = started.send(());
                let _ = released.recv();
            })
            .unwrap();
        has_started.await.unwrap();
        (release, done)
    }

    /// A job that does nothing, queued at once.
    pub(in crate::server::identity) fn queued(
        hasher: &Hasher,
        priority: Priority,
    ) -> oneshot::Receiver<()> {
        hasher.submit(priority, || ()).unwrap()
    }

    #[tokio::test]
    async fn a_sign_in_is_hashed_before_the_sign_ups_waiting_ahead_of_it() {
        let hasher = Hasher::new(1, 8);
        let (release, blocker) = occupied(&hasher).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let job = |label: &'static str| {
            let order = order.clone();
            move || order.lock().unwrap().push(label)
        };
        let sign_ups: Vec<_> = (0..3)
            .map(|_| hasher.submit(Priority::SignUp, job("sign-up")).unwrap())
            .collect();
        let sign_in = hasher.submit(Priority::SignIn, job("sign-in")).unwrap();
        release.send(()).unwrap();
        blocker.await.unwrap();
        sign_in.await.unwrap();
        for sign_up in sign_ups {
            sign_up.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            ["sign-in", "sign-up", "sign-up", "sign-up"]
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_with_a_retry_after() {
        let hasher = Hasher::new(1, 2);
        let (release, blocker) = occupied(&hasher).await;
        let waiting: Vec<_> = (0..2)
            .map(|_| hasher.submit(Priority::SignUp, || ()).unwrap())
            .collect();
        let password = Password::parse("correct horse").unwrap();
        let refused = hasher.hash(password.clone()).await.unwrap_err();
        assert!(matches!(refused, ChatError::Busy { .. }), "{refused:?}");
        assert_eq!(refused.status_code(), 503);
        assert!(refused.retry_after_secs().is_some_and(|secs| secs >= 1));
        // Sign-ins wait in a queue of their own, which sign-ups cannot fill.
        let sign_in = hasher.submit(Priority::SignIn, || ()).unwrap();
        release.send(()).unwrap();
        blocker.await.unwrap();
        sign_in.await.unwrap();
        for job in waiting {
            job.await.unwrap();
        }
        // Room again once the queue drains.
        assert!(hasher.hash(password).await.is_ok());
    }

    #[test]
    fn tokens_are_random_prefixed_and_kept_only_as_their_hash() {
        let (first, first_hash) = new_session_token().unwrap();
        let (second, _) = new_session_token().unwrap();
        assert!(first.starts_with(TOKEN_PREFIX));
        assert_eq!(
            first.len(),
            TOKEN_PREFIX.len() + 43,
            "256 bits in base64url"
        );
        assert_ne!(first, second);
        assert_eq!(token_hash(&first), first_hash);
        assert_ne!(token_hash(&second), first_hash);
    }
}
