//! The OCI copy engine: reference parsing ([`reference`](mod@reference)), an authenticated registry client with
//! retries ([`client`]) and its blob upload requests ([`upload`]), manifest media types ([`manifest`])
//! and the by-digest image copy ([`copy`]), including signatures and attestations (cosign tags, OCI
//! referrers) when asked.
//!
//! Which crate does what:
//! - **`oci-spec`** (the image-spec types) parses references (its port of distribution/reference's
//!   grammar and Docker's normalisation, [`reference`](mod@reference)) and gives the index / manifest /
//!   descriptor schemas and media-type names ([`manifest`]). What it lets through is checked on
//!   top, each case pinned by a test there: digests other than lowercase sha256, Unicode tags,
//!   `registry-1.docker.io` as a registry of its own, non-sha256 descriptor digests. Its cost,
//!   measured on a release build: +1.5 MB stripped binary (16.4 to 17.9 MB), nearly all the
//!   `regex` engine its reference grammar needs (not linked before), and about 40 s more CPU for
//!   a clean release build; no new duplicate crate in the binary (`cargo tree -d -e normal`),
//!   one in the test build (its `strum` 0.27 beside the 0.28 of the dev-dependency `jsonschema`).
//! - **Our own code on reqwest** is the transport ([`client`], [`upload`]) and the copy
//!   ([`copy`]), not `oci-client` (formerly `oci-distribution`, 0.18), for the reasons below.
//!
//! Why not `oci-client`'s transport:
//! - **Cross-repository mounts need one token with several scopes.** `oci-client` caches tokens
//!   per (registry, repository, operation) and asks for one scope per token; its `mount_blob`
//!   authenticates for push on the target only. Docker Hub only mounts when the token also holds
//!   pull on the source repository, so every mount would fall back to a full upload. Its token
//!   cache is public, so a two-scope token could be inserted, but getting that token is the token
//!   request this client makes anyway; it requests one token for all the scopes a copy needs
//!   (push first).
//! - **Faults.** We retry each request on resets, timeouts, 5xx and 429 with capped exponential
//!   backoff and honour `Retry-After`; manifest and token bodies cut short are re-read; a streamed
//!   blob transfer is retried as a whole (`CopyOptions::blob_attempts`). `oci-client` has no
//!   retries; it would have to wrap every call.
//! - **Hostile bodies.** `oci-client` reads manifest, token and error bodies whole
//!   (`Response::bytes`, `text`); here each is capped while streaming
//!   ([`client::MAX_MANIFEST_BYTES`], [`client::MAX_TOKEN_BYTES`],
//!   [`client::MAX_ERROR_BODY_BYTES`]).
//! - **Streaming verified GET -> PUT.** A blob flows from the source response into the target
//!   upload chunk by chunk while its sha256 and size are checked against the descriptor; a
//!   mismatch aborts the upload before the registry commits it, so nothing is tagged. 1 GiB layers
//!   never sit in memory or on disk.
//! - **Byte-for-byte manifests.** Manifests are copied as the exact bytes read (the digest is of
//!   those bytes), never re-serialised.
//! - **Weight.** It would add `chrono`, `http-auth`, `olpc-cjson`, `unicase` and a second `sha2`
//!   (0.11 beside our 0.10, with its `digest`, `crypto-common`, `block-buffer` and `cpufeatures`:
//!   five more duplicate pairs in `cargo tree -d`), and `oci-spec`'s runtime-spec types.
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
