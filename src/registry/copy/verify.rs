//! Streaming verification of a blob on its way from the source to the target: chunks pass through
//! while their sha256 and byte count are checked against the descriptor, and content that cannot
//! be the blob becomes a stream error that aborts the upload before the registry commits it.
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::registry::client::error_chain;

pub(super) type ChunkStream =
    futures::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>;

/// Content that cannot be the blob its descriptor names (fatal: retrying reads the same bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mismatch {
    /// The sha256 of the content.
    Digest(String),
    /// The byte count of the content (at least, when longer than announced).
    Size(u64),
}

/// Records why content cannot be the blob a descriptor names.
struct Checker {
    expected: String,
    mismatch: Arc<Mutex<Option<Mismatch>>>,
}

impl Checker {
    fn record(&self, m: Mismatch) -> std::io::Error {
        let message = match &m {
            Mismatch::Digest(_) => "blob content does not match its digest",
            Mismatch::Size(_) => "blob size does not match its descriptor",
        };
        if let Ok(mut slot) = self.mismatch.lock() {
            *slot = Some(m);
        }
        std::io::Error::other(message)
    }

    fn size(&self, seen: u64) -> std::io::Error {
        self.record(Mismatch::Size(seen))
    }

    fn digest(&self, hasher: &mut Sha256) -> Result<(), std::io::Error> {
        let actual = format!("sha256:{}", hex::encode(hasher.finalize_reset()));
        if actual == self.expected {
            return Ok(());
        }
        Err(self.record(Mismatch::Digest(actual)))
    }
}

/// Passes chunks through while hashing them. At `expected_len` bytes (the descriptor's size) a
/// digest other than `expected` becomes an error instead of the last chunk, which aborts the
/// upload; a body longer than `expected_len`, or one that ends cleanly before it, is a size
/// mismatch. Either is recorded in `mismatch`. A stream error (a body cut short by the network)
/// passes through as-is: the caller retries those. Chunk sizes go to `tx`.
pub(super) fn verify_stream(
    inner: impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static,
    expected: String,
    expected_len: u64,
    mismatch: Arc<Mutex<Option<Mismatch>>>,
    tx: tokio::sync::mpsc::UnboundedSender<u64>,
) -> ChunkStream {
    struct State {
        inner: ChunkStream,
        hasher: Sha256,
        seen: u64,
        finished: bool,
    }
    let state = State {
        inner: inner
            .map_err(|e| std::io::Error::other(error_chain(&e)))
            .boxed(),
        hasher: Sha256::new(),
        seen: 0,
        finished: false,
    };
    let check = Arc::new(Checker { expected, mismatch });
    futures::stream::unfold(state, move |mut st| {
        let check = check.clone();
        let tx = tx.clone();
        async move {
            if st.finished {
                return None;
            }
            match st.inner.next().await {
                Some(Ok(chunk)) => {
                    st.hasher.update(&chunk);
                    st.seen += chunk.len() as u64;
                    let _ = tx.send(chunk.len() as u64);
                    if st.seen > expected_len {
                        st.finished = true;
                        let seen = st.seen;
                        return Some((Err(check.size(seen)), st));
                    }
                    if st.seen == expected_len {
                        // Complete: verify now, and make sure nothing follows.
                        let verdict = check.digest(&mut st.hasher);
                        if verdict.is_err() {
                            st.finished = true;
                            return Some((verdict.map(|()| chunk), st));
                        }
                        match st.inner.next().await {
                            None => {
                                st.finished = true;
                                Some((Ok(chunk), st))
                            }
                            Some(Ok(extra)) if extra.is_empty() => {
                                st.finished = true;
                                Some((Ok(chunk), st))
                            }
                            Some(Ok(extra)) => {
                                st.finished = true;
                                let seen = st.seen + extra.len() as u64;
                                Some((Err(check.size(seen)), st))
                            }
                            Some(Err(e)) => {
                                st.finished = true;
                                Some((Err(e), st))
                            }
                        }
                    } else {
                        Some((Ok(chunk), st))
                    }
                }
                Some(Err(e)) => {
                    st.finished = true;
                    Some((Err(e), st))
                }
                None => {
                    st.finished = true;
                    if st.seen < expected_len {
                        // Ended cleanly (no transport error) before the descriptor's size.
                        let seen = st.seen;
                        return Some((Err(check.size(seen)), st));
                    }
                    // expected_len == 0: an empty blob.
                    match check.digest(&mut st.hasher) {
                        Ok(()) => None,
                        Err(e) => Some((Err(e), st)),
                    }
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::manifest;

    #[tokio::test]
    async fn verify_stream_passes_and_refuses() {
        let data = bytes::Bytes::from_static(b"hello world");
        let good = manifest::sha256_digest(&data);
        let run = |expected: String, len: u64, chunks: Vec<reqwest::Result<bytes::Bytes>>| async move {
            let m = Arc::new(Mutex::new(None));
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let out: Vec<Result<bytes::Bytes, std::io::Error>> =
                verify_stream(futures::stream::iter(chunks), expected, len, m.clone(), tx)
                    .collect()
                    .await;
            let mut n = 0;
            while let Ok(x) = rx.try_recv() {
                n += x;
            }
            (out, m.lock().unwrap().clone(), n)
        };
        let halves = || vec![Ok(data.slice(..5)), Ok(data.slice(5..))];
        let (out, m, n) = run(good.clone(), 11, halves()).await;
        assert!(out.iter().all(Result::is_ok) && out.len() == 2 && m.is_none() && n == 11);
        let (out, m, _) = run(format!("sha256:{}", "0".repeat(64)), 11, halves()).await;
        assert!(out.last().unwrap().is_err());
        assert_eq!(m, Some(Mismatch::Digest(good.clone())));
        // Shorter than the descriptor, ending cleanly: a size mismatch.
        let (out, m, _) = run(good.clone(), 20, halves()).await;
        assert!(out.last().unwrap().is_err());
        assert_eq!(m, Some(Mismatch::Size(11)));
        // Longer than the descriptor: the first 5 bytes are not the blob.
        let (out, m, _) = run(good.clone(), 5, halves()).await;
        assert!(out.last().unwrap().is_err());
        assert_eq!(m, Some(Mismatch::Digest(manifest::sha256_digest(b"hello"))));
        // The full descriptor size, then more.
        let (out, m, _) = run(
            manifest::sha256_digest(&data[..5]),
            5,
            vec![Ok(data.slice(..5)), Ok(data.slice(5..))],
        )
        .await;
        assert!(out.last().unwrap().is_err());
        assert_eq!(m, Some(Mismatch::Size(11)));
        // An empty blob.
        let (out, m, _) = run(manifest::sha256_digest(b""), 0, vec![]).await;
        assert!(out.is_empty() && m.is_none());
    }
}
