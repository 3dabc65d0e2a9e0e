//! The one integration-test binary: one module per area.

mod access_export;
mod apply_json;
mod budget;
mod cli;
mod completions;
mod doctor;
mod drift;
mod facts;
mod faults;
mod harness;
mod hub_echo;
mod hub_only;
mod imports;
mod lock;
mod messages;
mod mirror;
mod openapi;
mod outside_access;
mod progress;
mod provider_forms;
mod proxy;
mod registry;
mod registry_trust;
mod release;
mod review;
mod sandbox_api;
mod sandbox_registry;
mod saved;
mod schema;
mod screens;
mod signatures;
mod snapshot;
mod targets;
mod token_kinds;
mod untrusted;
mod workflows;
mod support {
    pub mod fake_github;
    pub mod hostile;
    pub mod registry_proc;
}
