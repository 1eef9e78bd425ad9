//! What the topics share: the real binary and mocks of both APIs (`common`), a loopback server
//! that misbehaves on demand (`faults`), a sample report for the delivery targets (`deliver`),
//! and a real SMTP server (`smtp_server`).

pub mod common;
pub mod deliver;
pub mod faults;
pub mod smtp_server;
