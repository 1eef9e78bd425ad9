//! The commands: each wires the stages together for one job and ends in the one
//! [`finish`](crate::finish) stage when it writes a report.

pub mod check;
pub mod merge;
pub mod run;
