//! Request bodies with a deadline, and the rest of a body the app did not read.
//!
//! hyper's header read timeout stops once a request's headers are in: a client that announces
//! a body and never sends it would hold its connection (and the handler waiting for the body)
//! for ever. [`DeadlineBody`] fails the body at a deadline counted from the request's start, a
//! total rather than a pause between reads, so a trickle of one byte at a time cannot stretch
//! it either, and marks its connection's [`BodyDeadline`] so that the answer becomes a 408.
//!
//! When the app answers before reading the whole body (413 past `--max-body-bytes`, 401 before
//! a body is read), hyper would close the connection while the client is still sending, and a
//! proxy that is still writing the body (nginx) answers its client 502 instead of ours. So
//! what is left is read and discarded in a task of its own, up to [`DISCARD_BYTES`] and the
//! same deadline, and only past those is the connection closed.
//!
//! Nothing here allocates on the way of a body that arrives with its headers (most of them):
//! the timer exists only once a body has to be waited for.

use std::{
    error::Error,
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{ready, Context, Poll},
};

use bytes::{Buf, Bytes};
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// Bytes of an unread body discarded so that the answer reaches the client: more than nginx
/// accepts by default (`client_max_body_size 1m`); past them the connection is closed.
pub const DISCARD_BYTES: usize = 2 * 1024 * 1024;

/// Whether a connection's current request ran out of time for its body. One per connection
/// (HTTP/1.1 handles one request at a time), so requests allocate nothing for it.
#[derive(Debug, Default)]
pub struct BodyDeadline {
    missed: AtomicBool,
}

impl BodyDeadline {
    /// Whether the body of the request just answered missed its deadline; clears the mark.
    pub fn take_missed(&self) -> bool {
        self.missed.swap(false, Ordering::Relaxed)
    }
}

/// The error a body that missed its deadline ends with.
#[derive(Debug)]
pub struct BodyTimedOut;

impl fmt::Display for BodyTimedOut {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("the request body did not arrive in time")
    }
}

impl Error for BodyTimedOut {}

/// What [`DeadlineBody`] yields each time.
type FrameResult = Result<Frame<Bytes>, Box<dyn Error + Send + Sync>>;

/// A request body that fails at `deadline` unless it has ended (see the module docs).
pub struct DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    /// `None` once dropped into a discarding task.
    inner: Option<B>,
    deadline: Instant,
    /// Created the first time the body has to be waited for.
    timer: Option<Pin<Box<Sleep>>>,
    connection: Arc<BodyDeadline>,
    /// The body ended, failed or timed out: nothing left to read or discard.
    over: bool,
    /// The client waits for `100 Continue`, which hyper sends when the body is first read: a
    /// body the app never read is then not asked for.
    expects_continue: bool,
    read_any: bool,
}

impl<B> DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    pub fn new(
        inner: B,
        deadline: Instant,
        connection: Arc<BodyDeadline>,
        expects_continue: bool,
    ) -> Self {
        Self {
            over: inner.is_end_stream(),
            inner: Some(inner),
            deadline,
            timer: None,
            connection,
            expects_continue,
            read_any: false,
        }
    }

    fn time_out(&mut self) -> Poll<Option<FrameResult>> {
        self.over = true;
        self.connection.missed.store(true, Ordering::Relaxed);
        Poll::Ready(Some(Err(BodyTimedOut.into())))
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn Error + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<FrameResult>> {
        let this = self.get_mut();
        let inner = match &mut this.inner {
            Some(inner) if !this.over => inner,
            _ => return Poll::Ready(None),
        };
        // A trickle of frames never leaves the body pending: look at the clock each time.
        let late = match &mut this.timer {
            Some(timer) => timer.as_mut().poll(cx).is_ready(),
            None => Instant::now() >= this.deadline,
        };
        if late {
            return this.time_out();
        }
        this.read_any = true;
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.over = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => {
                this.over = true;
                Poll::Ready(Some(Err(error.into())))
            }
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Pending => {
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(this.deadline)));
                ready!(timer.as_mut().poll(cx));
                this.time_out()
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.over || self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Some(inner) if !self.over => inner.size_hint(),
            _ => SizeHint::with_exact(0),
        }
    }
}

impl<B> Drop for DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        if self.over || inner.is_end_stream() || (self.expects_continue && !self.read_any) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(discard(inner, self.deadline));
        }
    }
}

/// Reads `body` to its end and drops what it reads, up to [`DISCARD_BYTES`] and `deadline`.
async fn discard<B>(mut body: B, deadline: Instant)
where
    B: Body<Data = Bytes> + Unpin,
{
    let read = async {
        let mut left = DISCARD_BYTES;
        while let Some(Ok(frame)) =
            std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let Some(data) = frame.data_ref() else {
                continue;
            };
            match left.checked_sub(data.remaining()) {
                Some(rest) => left = rest,
                None => return,
            }
        }
    };
    // Past either bound the body is dropped, and hyper closes the connection.
    let _ = tokio::time::timeout_at(deadline, read).await;
}

#[cfg(test)]
mod tests {
    use std::{collections::VecDeque, time::Duration};

    use super::*;

    /// A body that yields its chunks one poll at a time, then stays pending unless `ends`.
    struct Scripted {
        chunks: VecDeque<&'static [u8]>,
        ends: bool,
        /// Shared with the test: what was read from it, after the app let go too.
        read: Arc<std::sync::Mutex<usize>>,
    }

    impl Body for Scripted {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            match self.chunks.pop_front() {
                Some(chunk) => {
                    *self.read.lock().unwrap() += chunk.len();
                    Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(chunk)))))
                }
                None if self.ends => Poll::Ready(None),
                None => Poll::Pending,
            }
        }
    }

    const LIMIT: Duration = Duration::from_secs(15);

    fn body(chunks: &[&'static [u8]], ends: bool) -> (DeadlineBody<Scripted>, Arc<BodyDeadline>) {
        let connection = Arc::new(BodyDeadline::default());
        let scripted = Scripted {
            chunks: chunks.iter().copied().collect(),
            ends,
            read: Arc::default(),
        };
        let deadline = Instant::now() + LIMIT;
        let body = DeadlineBody::new(scripted, deadline, connection.clone(), false);
        (body, connection)
    }

    async fn next(body: &mut DeadlineBody<Scripted>) -> Option<Result<Bytes, String>> {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
        Some(
            frame
                .map(|frame| frame.into_data().unwrap())
                .map_err(|error| error.to_string()),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_arrives_in_time_is_read_whole_and_marks_nothing() {
        let (mut body, connection) = body(&[b"{\"a\":", b"1}"], true);
        assert_eq!(
            next(&mut body).await,
            Some(Ok(Bytes::from_static(b"{\"a\":")))
        );
        assert_eq!(next(&mut body).await, Some(Ok(Bytes::from_static(b"1}"))));
        assert_eq!(next(&mut body).await, None);
        assert!(body.is_end_stream());
        assert!(!connection.take_missed());
        assert!(
            body.timer.is_none(),
            "no timer for a body that never waited"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_comes_fails_at_the_deadline_and_marks_its_connection() {
        let started = Instant::now();
        let (mut body, connection) = body(&[b"{\"text\":"], false);
        assert!(next(&mut body).await.unwrap().is_ok());
        let failed = next(&mut body).await.unwrap().unwrap_err();
        assert_eq!(failed, BodyTimedOut.to_string());
        assert_eq!(started.elapsed(), LIMIT);
        assert!(connection.take_missed());
        assert!(!connection.take_missed(), "the mark is for one answer");
        assert_eq!(next(&mut body).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_of_bytes_does_not_stretch_the_deadline() {
        let byte: &'static [u8] = b"x";
        let (mut body, connection) = body(&[byte; 100], false);
        for _ in 0..5 {
            assert!(next(&mut body).await.unwrap().is_ok());
        }
        tokio::time::advance(LIMIT).await;
        assert!(next(&mut body).await.unwrap().is_err());
        assert!(connection.take_missed());
    }

    #[tokio::test(start_paused = true)]
    async fn what_the_app_left_unread_is_discarded_up_to_a_bound() {
        // 40 KiB: read to the end by a task of its own once the app lets go.
        let chunk: &'static [u8] = &[0; 4096];
        let (mut small, _) = body(&[chunk; 10], true);
        let read = small.inner.as_ref().unwrap().read.clone();
        assert!(next(&mut small).await.unwrap().is_ok());
        drop(small);
        tokio::task::yield_now().await;
        assert_eq!(*read.lock().unwrap(), 40 * 1024);
        // Past the bound the rest is left to hyper, which closes the connection.
        let big_chunk: &'static [u8] = &[0; 64 * 1024];
        let (big, _) = body(&[big_chunk; 64], true);
        let read = big.inner.as_ref().unwrap().read.clone();
        drop(big);
        tokio::task::yield_now().await;
        assert_eq!(*read.lock().unwrap(), DISCARD_BYTES + 64 * 1024);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_timed_out_or_ended_is_not_discarded() {
        let (mut late, _) = body(&[], false);
        let read = late.inner.as_ref().unwrap().read.clone();
        assert!(next(&mut late).await.unwrap().is_err());
        late.inner.as_mut().unwrap().chunks.push_back(b"more");
        drop(late);
        tokio::task::yield_now().await;
        assert_eq!(*read.lock().unwrap(), 0);
    }
}
