//! Compiled components kept on disk: one file per component and engine,
//! loaded by mapping the file instead of compiling again.
//!
//! wasmtime's own cache (its `cache` feature) hashes the component a second
//! time, reads a compressed artifact and decompresses it into fresh memory
//! on every load. Here the key is the digest the host computes anyway (for
//! pinning), and a hit maps the artifact in place: no second hash, no
//! decompression, no copy (BENCHMARKS.md, "Levers of the call path").
//!
//! A file is `<component sha256>-<engine key>.cwasm`. The engine key is a
//! hash of everything wasmtime says makes compiled code compatible (its
//! version, the compiler's target and settings, the memory layout), so a
//! new host version or a changed setting compiles afresh beside the old
//! artifacts; wasmtime checks the same when it maps a file, and a file it
//! refuses is compiled again and replaced.

use std::fs::{DirBuilder, File};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Artifacts neither loaded nor written for this long are removed when a
/// new one is written: components replaced by newer builds and artifacts
/// of earlier host versions.
const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The ending of an artifact's file name.
const ARTIFACT: &str = "cwasm";

/// The ending of an artifact being written; renamed to [`ARTIFACT`] once
/// whole. One left by a writer that died is removed with the unused ones.
const PARTIAL: &str = "partial";

/// A directory of compiled components for one engine.
pub(crate) struct CompileCache {
    directory: PathBuf,
    /// The engine's compatibility hash, in hex: part of every file name.
    engine_key: String,
}

impl CompileCache {
    /// Opens `directory` for `engine`'s artifacts, creating it for the
    /// host's user only when missing. Refuses a directory another user
    /// owns or may write in: an artifact is machine code the host runs.
    pub(crate) fn open(directory: &Path, engine: &Engine) -> anyhow::Result<CompileCache> {
        let mut builder = DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(directory)
            .with_context(|| format!("creating the compile cache {}", directory.display()))?;
        #[cfg(unix)]
        refuse_others_hands(directory)?;
        // std's hasher may change between Rust releases: a host built by
        // another toolchain then compiles afresh, and wasmtime's own check
        // at mapping stands behind the key either way.
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CompileCache {
            directory: directory.to_path_buf(),
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    /// The component whose file held `bytes` (with sha256 `digest`): mapped
    /// from its artifact when there is one wasmtime accepts, else compiled
    /// and its artifact written for the next load.
    pub(crate) fn component(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest: &str,
    ) -> anyhow::Result<Component> {
        let artifact = self
            .directory
            .join(format!("{digest}-{}.{ARTIFACT}", self.engine_key));
        if artifact.exists() {
            match map(engine, &artifact) {
                Ok(component) => {
                    mark_used(&artifact);
                    return Ok(component);
                }
                Err(error) => tracing::warn!(
                    artifact = %artifact.display(),
                    "compiling the component again: its cached artifact could not be used: {error:#}"
                ),
            }
        }
        let component = Component::new(engine, bytes).map_err(anyhow::Error::from)?;
        // A cache that cannot be written costs the next load a compile,
        // not this one its module.
        if let Err(error) = self.write(&artifact, &component) {
            tracing::warn!(
                artifact = %artifact.display(),
                "the compiled component was not kept: {error:#}"
            );
        }
        Ok(component)
    }

    /// Writes `component`'s artifact whole under another name and renames
    /// it into place, never over a file's contents: see [`map`]. Then
    /// removes artifacts unused for [`UNUSED_FOR`].
    fn write(&self, artifact: &Path, component: &Component) -> anyhow::Result<()> {
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let serialized = component.serialize().map_err(anyhow::Error::from)?;
        let partial = artifact.with_extension(format!(
            "{}.{}.{PARTIAL}",
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        ));
        let written = File::create(&partial)
            .and_then(|mut file| file.write_all(&serialized).and_then(|()| file.sync_all()))
            .and_then(|()| std::fs::rename(&partial, artifact))
            .with_context(|| format!("writing {}", artifact.display()));
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        written?;
        self.remove_unused();
        Ok(())
    }

    /// Removes artifacts (and partial writes) not used for [`UNUSED_FOR`].
    /// Removing a mapped file is safe: its mapping keeps the contents.
    fn remove_unused(&self) {
        let Ok(entries) = std::fs::read_dir(&self.directory) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let path = entry.path();
            let ours = path
                .extension()
                .is_some_and(|ending| ending == ARTIFACT || ending == PARTIAL);
            let unused = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .is_ok_and(|modified| {
                    now.duration_since(modified).unwrap_or_default() > UNUSED_FOR
                });
            if ours && unused {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// Refuses a cache directory that another user than the host's (or root)
/// owns, or that its group or others may write in, as sshd does a key's.
#[cfg(unix)]
fn refuse_others_hands(directory: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(directory)
        .with_context(|| format!("reading the compile cache {}", directory.display()))?;
    let mode = metadata.mode() & 0o777;
    if mode & 0o022 != 0 {
        bail!(
            "the compile cache {} may be written by other users (mode {mode:o}): its files are \
             machine code the host runs, so only the host's user may write there (chmod go-w, \
             or choose another directory)",
            directory.display(),
        );
    }
    // `/proc/self` belongs to the process's effective user (Linux); where
    // there is no such directory the owner is not checked.
    if let Ok(process) = std::fs::metadata("/proc/self")
        && metadata.uid() != process.uid()
        && metadata.uid() != 0
    {
        bail!(
            "the compile cache {} belongs to user {}, not to the host's user {}: its files are \
             machine code the host runs, so it must be the host's own (or root's)",
            directory.display(),
            metadata.uid(),
            process.uid()
        );
    }
    Ok(())
}

/// Maps a compiled component from `artifact`.
///
/// The one `unsafe` block of the host. wasmtime's `deserialize_file` maps
/// the file as machine code, so it requires that:
/// 1. the file holds what wasmtime's `serialize` wrote, with no one else's
///    hand in it: the directory is the host user's alone
///    ([`CompileCache::open`] refuses one another user owns or may write
///    in), and wasmtime itself refuses a file from another version or
///    other settings;
/// 2. the file's contents never change while it is mapped: artifacts are
///    written whole under another name and renamed into place
///    ([`CompileCache::write`]), so a replaced or removed artifact leaves
///    the mapped file's contents as they were.
///
/// Tested in `tests/all/host_runtime.rs`: a module keeps answering after its
/// artifact is replaced and removed, and a damaged artifact is compiled
/// again instead of mapped.
#[allow(unsafe_code)]
fn map(engine: &Engine, artifact: &Path) -> anyhow::Result<Component> {
    // SAFETY: the two conditions above.
    unsafe { Component::deserialize_file(engine, artifact) }.map_err(anyhow::Error::from)
}

/// Marks `artifact` as used now, so that [`CompileCache::remove_unused`]
/// keeps it. Best effort: a file that cannot be touched is only removed
/// sooner.
fn mark_used(artifact: &Path) {
    // Setting a file's times needs ownership, not write access: it is
    // opened for reading, and its contents are never touched.
    if let Ok(file) = File::open(artifact) {
        let _ = file.set_modified(SystemTime::now());
    }
}
