//! Unit tests of policy loading: the example, each validation error (rendered, plain), several errors
//! at once, and building the desired state. This file owns the helpers the topics share; one file
//! per topic: load.rs (reading, syntax, keys, types, settings, the desired state), repositories.rs
//! (repository names, descriptions and description files), people.rs (members, teams, grants),
//! mirrors.rs (`[[mirror]]` entries), access.rs (Image and Registry Access Management, the
//! allowlist).

use std::path::Path;

use super::*;
use crate::model::{Permission, Role, Username};

mod access;
mod load;
mod mirrors;
mod people;
mod repositories;

const HEAD: &str = "org = \"acme\"\n";

fn errors(source: &str) -> String {
    match parse(Path::new("policy.toml"), source) {
        Ok(p) => panic!("expected errors, got {p:?}"),
        Err(PolicyError::Invalid(d)) => d.render(false),
        Err(e) => panic!("unexpected {e}"),
    }
}

fn ok(source: &str) -> Policy {
    match parse(Path::new("policy.toml"), source) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}
