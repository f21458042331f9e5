//! The tests that read the whole process's log: it must never hold a
//! secret, and a reused instance's output is logged once per call. One
//! binary of their own, because the log capture is the process's global
//! subscriber (trace level everywhere, which slows every guest's output);
//! they share it, so each reads every test's lines.

mod hostmenow_secrets;
mod instance_reuse_logs;
mod logicboxes_secrets;
mod no_secret_anywhere;
mod webline_secrets;
