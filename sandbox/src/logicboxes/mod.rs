//! The LogicBoxes simulator (being written).

use axum::Router;

/// The LogicBoxes simulator.
#[derive(Debug, Clone)]
pub struct LogicBoxes {
    origin: String,
}

impl LogicBoxes {
    /// A simulator whose URLs start with `origin`.
    pub fn new(origin: impl Into<String>) -> LogicBoxes {
        LogicBoxes {
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
