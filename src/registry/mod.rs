//! The OCI copy engine: reference parsing ([`reference`]), an authenticated registry client with
//! retries ([`client`]), manifest media types ([`manifest`]) and the by-digest image copy ([`copy`]).
pub mod reference;

pub use reference::{Reference, ReferenceError};
