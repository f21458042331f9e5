//! The Blesta simulator (being written).

use axum::Router;

/// The Blesta simulator.
#[derive(Debug, Clone)]
pub struct Blesta {
    origin: String,
}

impl Blesta {
    /// A simulator whose URLs start with `origin`.
    pub fn new(origin: impl Into<String>) -> Blesta {
        Blesta {
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
