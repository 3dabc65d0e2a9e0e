//! TODO
pub mod images;
pub mod registry;
pub mod token;
