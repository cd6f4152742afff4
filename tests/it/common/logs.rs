//! One test's logs, apart from the tests running beside it in this binary: the test runs on
//! its own runtime, and every thread of that runtime logs (debug level, JSON with spans) into
//! a buffer only this test reads. `THREADWORK_TEST_LOG=1` also copies the lines to stderr.

use std::cell::RefCell;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;

type Buffer = Arc<Mutex<Vec<u8>>>;

thread_local! {
    static BUFFER: RefCell<Option<Buffer>> = const { RefCell::new(None) };
}

#[derive(Clone)]
struct Sink(Buffer);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        if std::env::var_os("THREADWORK_TEST_LOG").is_some() {
            let _ = std::io::stderr().write_all(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How the captured lines are written.
#[derive(Clone, Copy)]
pub enum Writer {
    /// Through the bot's redacting writer, as the bot logs in production.
    Redacting,
    /// As the code logged them: a secret that reaches a log call shows.
    Raw,
}

/// Runs `test` on a two-worker runtime whose threads log into this test's buffer.
pub fn captured<F: Future<Output = ()>>(writer: Writer, test: F) {
    let buffer: Buffer = Arc::default();
    let sink = Sink(buffer.clone());
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_ansi(false);
    let dispatch =
        match writer {
            Writer::Redacting => tracing::Dispatch::new(
                tracing_subscriber::registry()
                    .with(tracing_subscriber::EnvFilter::new("debug"))
                    .with(layer.with_writer(move || {
                        threadwork::ops::redact::RedactingWriter(sink.clone())
                    })),
            ),
            Writer::Raw => tracing::Dispatch::new(
                tracing_subscriber::registry()
                    .with(tracing_subscriber::EnvFilter::new("debug"))
                    .with(layer.with_writer(move || sink.clone())),
            ),
        };
    let (on_start, thread_buffer) = (dispatch.clone(), buffer.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            BUFFER.with(|b| *b.borrow_mut() = Some(thread_buffer.clone()));
            // For the thread's whole life: it belongs to this test's runtime.
            std::mem::forget(tracing::dispatcher::set_default(&on_start));
        })
        .build()
        .expect("test runtime");
    BUFFER.with(|b| *b.borrow_mut() = Some(buffer));
    let _default = tracing::dispatcher::set_default(&dispatch);
    runtime.block_on(test);
    BUFFER.with(|b| *b.borrow_mut() = None);
}

/// What this test logged so far (empty outside `captured`).
pub fn text() -> String {
    BUFFER.with(|b| {
        b.borrow()
            .as_ref()
            .map(|buf| String::from_utf8_lossy(&buf.lock().unwrap()).into_owned())
            .unwrap_or_default()
    })
}
