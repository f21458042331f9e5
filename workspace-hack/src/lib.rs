//! No code: this crate only asks for its dependencies' features (see its
//! Cargo.toml).
