//! The one integration-test binary: one module per area.

mod access_export;
mod cli;
mod harness;
mod lock;
mod mirror;
mod openapi;
mod registry;
mod sandbox_api;
mod sandbox_registry;
mod support {
    pub mod registry_proc;
}
