//! The one integration-test binary: one module per area.

mod openapi;
mod sandbox_api;
