//! The development kit: what the sandbox, the integration tests and the mirror benchmark need to
//! put images into a registry and to stand registries up, kept once for all three.
//!
//! - [`media`]: the manifest, config and layer media types (Docker and OCI) and [`media::Format`].
//! - [`images`]: the image generator: deterministic content from a seed (in memory, or streamed to
//!   files for large layers), image manifests, indexes and cosign-style signature tags.
//! - [`org`]: a large organization's seed (repositories, teams, members) to plan against.
//! - [`push`]: a small push client (token flow with Basic credentials, htpasswd Basic auth, or
//!   anonymous; monolithic uploads from memory or streamed from a file; manifest digests checked).
//! - [`registry`]: the `docker-registry` (CNCF distribution 2.8) launcher: token auth, htpasswd or
//!   anonymous, optional blob redirects to a CDN, bounded readiness wait, killed on drop.
//! - [`signing`]: real cosign signatures (a key, another key, keyless with a Fulcio-like CA and a
//!   Rekor-like log key) for the signature-gate images, keys made at start.
//! - Latency (and faults) in front of any registry or HTTP service: [`crate::proxy`].
//!
//! The product's own registry client (vetted's `src/registry`, the OCI copy engine) is kept apart
//! from this kit on purpose: the tests check the product with independent code, so a mistake in the
//! product's wire handling cannot be mirrored by the code that sets up or reads back its results.

pub mod images;
pub mod media;
pub mod org;
pub mod push;
pub mod registry;
pub mod signing;
