//! The OCI copy engine: reference parsing ([`reference`]), an authenticated registry client with
//! retries ([`client`]), manifest media types ([`manifest`]) and the by-digest image copy ([`copy`]).
pub mod client;
pub mod copy;
pub mod manifest;
pub mod reference;

pub use client::{
    ClientConfig, RegistryClient, RegistryCredentials, RegistryError, Resolved, Scope,
};
pub use copy::{CopyError, CopyOptions, CopyReport, NoProgress, Progress, copy_image, copy_images};
pub use reference::{Reference, ReferenceError};
