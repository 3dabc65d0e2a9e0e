//! Progress reporting of image copies: the [`Progress`] callbacks a copy makes per image (the CLI
//! draws its bars with them, `src/render/progress.rs`) and [`NoProgress`], which ignores them.
//!
//! Each blob of an image counts once: its size joins the total once (children of an index sharing
//! a layer add it once), and it ends either transferred (its streamed bytes, [`Progress::bytes`];
//! an attempt that fails takes its bytes back with [`Progress::discard`] before the blob is sent
//! again) or found in the target without moving ([`Progress::linked`]: mounted, or already there).
//! So the bytes reported for an image never exceed its size, however many retries it took.

/// Receives progress per image (the CLI draws bars with it). Implementations must be cheap.
pub trait Progress: Send + Sync {
    /// An image (identified by its target reference) starts.
    fn image_started(&self, _image: &str) {}
    /// `n` more bytes of blobs were found to belong to the image (called per image manifest read,
    /// so an index's total grows as its children are read; a blob already counted is not again).
    fn add_total(&self, _image: &str, _n: u64) {}
    /// `n` more bytes of a blob were transferred for the image.
    fn bytes(&self, image: &str, n: u64);
    /// An attempt that had transferred `n` bytes of a blob failed: they no longer count (the blob is
    /// sent again, or the copy fails).
    fn discard(&self, _image: &str, _n: u64) {}
    /// A blob of `size` bytes is in the target without moving: `mounted` from another repository
    /// of the target registry, or already there.
    fn linked(&self, _image: &str, _size: u64, _mounted: bool) {}
    /// The image is done (`ok` false when it failed).
    fn image_finished(&self, _image: &str, _ok: bool) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn bytes(&self, _image: &str, _n: u64) {}
}
