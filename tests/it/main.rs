//! The one integration-test binary: one module per area.
mod registry;
mod support {
    pub mod registry_proc;
}
