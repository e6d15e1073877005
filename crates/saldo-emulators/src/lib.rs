//! Local emulators of provider APIs, for contract tests that go over real HTTP on loopback.
//!
//! An emulator is built from the provider's published protocol and its example responses, not from
//! saldo's connector: it answers what the provider would, records every request, and records as a
//! violation every request the protocol does not allow, so a test can assert that a connector
//! never asks wrongly. Emulators bind to 127.0.0.1 on a free port and never reach anything else.

pub mod berlin_group;
pub mod enable_banking;
pub mod gocardless;
mod served;
pub mod simplefin;
