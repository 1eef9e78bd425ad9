//! The commands: each wires the stages together for one job and ends in the one
//! [`finish`](crate::finish) stage when it writes a report.

pub(crate) mod check;
pub(crate) mod ledger;
pub(crate) mod merge;
pub(crate) mod remediate;
mod remediate_apply;
mod remediate_plan;
mod remediate_verify;
pub(crate) mod review;
pub(crate) mod review_mail;
mod review_signoff;
mod review_store;
pub(crate) mod run;
