//! The Webline simulator (being written).

use axum::Router;

/// The Webline simulator.
#[derive(Debug, Clone)]
pub struct Webline {
    origin: String,
}

impl Webline {
    /// A simulator whose URLs start with `origin`.
    pub fn new(origin: impl Into<String>) -> Webline {
        Webline {
            origin: origin.into(),
        }
    }

    /// Its routes.
    pub fn router(&self) -> Router {
        Router::new()
    }

    /// The origin it was created with.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}
