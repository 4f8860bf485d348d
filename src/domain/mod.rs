//! Pure rules: plain types and functions that depend on nothing above them, each unit-tested.

pub mod orders;
