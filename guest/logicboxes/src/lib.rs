//! Provider module (being written).
