//! Progress reporting of image copies: the [`Progress`] callbacks a copy makes per image (the CLI
//! draws its bars with them, `src/render/progress.rs`) and [`NoProgress`], which ignores them.

/// Receives progress per image (the CLI draws bars with it). Implementations must be cheap.
pub trait Progress: Send + Sync {
    /// An image (identified by its target reference) starts.
    fn image_started(&self, _image: &str) {}
    /// `n` more bytes of blobs were found to belong to the image (called per image manifest read,
    /// so an index's total grows as its children are read).
    fn add_total(&self, _image: &str, _n: u64) {}
    /// `n` more bytes were transferred for the image.
    fn bytes(&self, image: &str, n: u64);
    /// The image is done (`ok` false when it failed).
    fn image_finished(&self, _image: &str, _ok: bool) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn bytes(&self, _image: &str, _n: u64) {}
}
