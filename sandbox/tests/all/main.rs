//! The simulators' tests, as one test binary: each module drives one
//! provider's simulator (or the server that hosts them all) through its
//! router, without a socket. What they share is `common`.

mod common;

mod blesta;
mod faults;
mod hostmenow;
mod logicboxes;
mod server;
mod webline;
