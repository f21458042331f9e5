//! What this build of the host is, for an operator reporting a problem and
//! for the scrape: filled in at build time by `host/build.rs`.

/// The facts that identify a build: the crate version, the git commit, the
/// wasmtime that runs the modules and the contract they implement.
/// `provisioning --version` prints them and serve's `/metrics` exposes them
/// as the labels of `provisioning_build_info`, both through [`fields`](Self::fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildInfo {
    /// This crate's version (the workspace's, shared with the CLI).
    pub version: &'static str,
    /// The short hash of the git commit built, or `unknown` when built
    /// outside git (from a source tarball).
    pub commit: &'static str,
    /// The version of wasmtime linked, as `Cargo.lock` resolved it.
    pub wasmtime: &'static str,
    /// The contract package the host implements, with its version, as
    /// `wit/provisioning.wit` declares it (`billing:provisioning@0.1.0`).
    pub contract: &'static str,
}

impl BuildInfo {
    /// This build.
    pub const CURRENT: BuildInfo = BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("PROVISIONING_BUILD_COMMIT"),
        wasmtime: env!("PROVISIONING_BUILD_WASMTIME"),
        contract: env!("PROVISIONING_BUILD_CONTRACT"),
    };

    /// Every fact as `(name, value)`, in the order `--version` prints them:
    /// the one list the version text and the metric's labels are made from.
    pub fn fields(&self) -> [(&'static str, &'static str); 4] {
        [
            ("version", self.version),
            ("commit", self.commit),
            ("wasmtime", self.wasmtime),
            ("contract", self.contract),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::BuildInfo;

    #[test]
    fn every_fact_is_filled_in() {
        for (name, value) in BuildInfo::CURRENT.fields() {
            assert!(!value.is_empty(), "{name} is empty");
        }
        assert!(
            BuildInfo::CURRENT
                .contract
                .starts_with("billing:provisioning@"),
            "{}",
            BuildInfo::CURRENT.contract
        );
    }
}
