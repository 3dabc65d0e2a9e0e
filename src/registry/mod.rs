//! The OCI copy engine: reference parsing ([`reference`]), an authenticated registry client with
//! retries ([`client`]) and its blob upload requests ([`upload`]), manifest media types ([`manifest`])
//! and the by-digest image copy ([`copy`]), including signatures and attestations (cosign tags, OCI
//! referrers) when asked.
//!
//! Why our own engine on reqwest rather than the `oci-client` crate (formerly `oci-distribution`):
//! - **Cross-repository mounts need one token with several scopes.** `oci-client` caches tokens
//!   per (registry, repository, operation) and asks for one scope per token; its `mount_blob`
//!   authenticates for push on the target only. Docker Hub only mounts when the token also holds
//!   pull on the source repository, so every mount would fall back to a full upload. Our client
//!   requests one token for all the scopes a copy needs (push first).
//! - **Faults.** We retry each request on resets, timeouts, 5xx and 429 with capped exponential
//!   backoff and honour `Retry-After`; manifest and token bodies cut short are re-read; a streamed
//!   blob transfer is retried as a whole (`CopyOptions::blob_attempts`). None of this is something
//!   we could configure in `oci-client`'s request path; it would have to wrap every call.
//! - **Streaming verified GET -> PUT.** A blob flows from the source response into the target
//!   upload chunk by chunk while its sha256 and size are checked against the descriptor; a
//!   mismatch aborts the upload before the registry commits it, so nothing is tagged. 1 GiB layers
//!   never sit in memory or on disk.
//! - **Byte-for-byte manifests.** Manifests are copied as the exact bytes read (the digest is of
//!   those bytes), never re-serialised.
//!
//! What we take from it: its behaviour as a reference for the spec's corners, e.g. the referrers
//! API with the referrers tag schema (`sha256-<hex>`) as the fallback when the API answers 404,
//! and refusing an upload `Location` on another host (credentials would follow it).
pub mod client;
pub mod copy;
pub mod grants;
pub mod manifest;
pub mod reference;
pub mod upload;

pub use client::{
    ClientConfig, RegistryClient, RegistryCredentials, RegistryError, Resolved, Scope,
};
pub use copy::{
    BlobLedger, CopyError, CopyOptions, CopyReport, NoProgress, Progress, copy_image, copy_images,
};
pub use reference::{Reference, ReferenceError};
