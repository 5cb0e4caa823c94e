//! The batch pipeline behind `stamp`: inputs, durable file writes, crash recovery.

pub mod files;
pub mod inputs;
