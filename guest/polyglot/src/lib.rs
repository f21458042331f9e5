//! Paths of the provider modules written in JavaScript and Python, built
//! by this crate's build script with toolchains it installs, pinned, under
//! `<target>/polyglot`: componentize-js from `guest/hostmenow-js`'s
//! `package-lock.json` (`npm ci`), componentize-py from
//! `guest/hostmenow-py`'s `requirements.txt` (pip with hashes, into a
//! virtual environment of its own).
//!
//! Only tests and benchmarks depend on this crate: the host loads whatever
//! component its manifest names, and nothing else in the workspace needs
//! node or Python.

include!(concat!(env!("OUT_DIR"), "/components.rs"));
