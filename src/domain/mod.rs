//! Pure rules: no I/O, no actors, nothing from the layers above; each rule with its unit tests.

pub mod hours;
pub mod orders;
pub mod tags;
