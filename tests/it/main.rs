//! The one integration-test binary: one module per area.

mod access_export;
mod cli;
mod faults;
mod harness;
mod lock;
mod mirror;
mod openapi;
mod proxy;
mod registry;
mod sandbox_api;
mod sandbox_registry;
mod saved;
mod untrusted;
mod workflows;
mod support {
    pub mod fake_github;
    pub mod registry_proc;
}
