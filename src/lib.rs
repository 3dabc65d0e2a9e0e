//! `vetted`: govern a Docker Hub organization as code.
//!
//! Module tree (see DESIGN.md): `cli` parses, `settings` resolves flags/env once, `commands` holds one
//! file per subcommand, `policy` loads and validates the TOML policy into a desired
//! [`model::OrgState`], `hub` reads the live state and performs writes, `plan` diffs the two into pure
//! data, `mirror` resolves mirrored images into copy rows, `render` turns a plan into
//! text/JSON/markdown, `apply` executes a plan, `registry` is the OCI copy engine. The local Docker Hub stand-in is its own crate,
//! `vetted-sandbox` (crates/vetted-sandbox), which this crate uses only for `vetted sandbox`
//! (default feature `sandbox`) and in its tests.

pub mod apply;
pub mod cli;
pub mod commands;
pub mod doctor;
pub mod error;
pub mod hub;
pub mod mirror;
pub mod model;
pub mod plan;
pub mod policy;
pub mod registry;
pub mod render;
pub mod settings;
pub mod transport;

pub use error::main_exit;
