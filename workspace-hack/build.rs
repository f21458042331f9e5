// Cargo resolves a package's build dependencies only when it has a build
// script; the [build-dependencies] section unifies the features of the
// crates the workspace's build scripts and proc macros use.
fn main() {}
