//! Counting a call's work in instructions with valgrind's callgrind, and
//! the calling thread's page faults and context switches: figures that do
//! not move with the machine's load. Shared by the benchmarks (release
//! build, against the native client) and by `tests/call_instructions.rs`
//! (the test profile's check), which includes this file.
//!
//! A copy of the running program makes the calls under callgrind, twice:
//! `calls` measured calls after a warm-up, then `2 × calls`. The difference
//! of the two runs' counts on the calling thread and the host's guest
//! threads (where each call's guest work runs, on a wasmtime fiber) is
//! what `calls` calls cost, without the set-up, the warm-up or other
//! threads (the sandbox's). (Counting
//! only while a function is on the stack would miss it: callgrind sees the
//! fiber as another stack.) The kernel's work is not counted.
//!
//! The copy names its calling loop [`MEASURED_FUNCTION`], which tells the
//! calling thread's file from the others'.
//!
//! Both copies must do the same set-up, so both must load the component
//! from the compile cache: [`fill_compile_cache`] fills it under valgrind
//! first, because compiled code is keyed by the processor's features and
//! valgrind's emulated processor lacks some of a machine's (AVX-512): a
//! cache filled natively can miss under valgrind, and the copy that then
//! compiles counts the compile.

#![allow(dead_code)] // the test uses part of this

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The name the copy's calling loop has (in a function of that name).
pub const MEASURED_FUNCTION: &str = "measured_calls";

/// The function each of the host's guest threads runs first: the guest
/// work of a call runs there, not on the calling thread.
pub const GUEST_THREAD_FUNCTION: &str = "guest_threads::guest_thread_started";

/// Calls counted by callee, as (what they are, a part of the callee's
/// name that only they have).
pub const COUNTED_CALLS: &[(&str, &str)] = &[
    // Every component-model host function the guest calls (wasi-http,
    // wasi-io, clocks, random...) enters through this one function.
    (
        "host calls",
        "wasmtime::runtime::component::func::host::HostFn::entrypoint",
    ),
    // The compiled guest's `memory.grow` reaches the runtime through this
    // libcall (growing at instantiation does not).
    (
        "memory grows",
        "wasmtime::runtime::vm::libcalls::raw::memory_grow",
    ),
];

/// What one copy's calling thread executed: in all, by part, and the
/// calls of [`COUNTED_CALLS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counted {
    pub total: u64,
    /// Instructions by [`part_of`] the functions that executed them.
    pub by_part: BTreeMap<&'static str, u64>,
    /// Calls of each of [`COUNTED_CALLS`], by its first field.
    pub calls: BTreeMap<&'static str, u64>,
}

impl Counted {
    /// Adds one thread's counts (`counted`, its instructions by part) and
    /// its `calls` to these.
    fn add(&mut self, counted: &Counted, calls: &BTreeMap<&'static str, u64>) {
        self.total += counted.total;
        for (part, count) in &counted.by_part {
            *self.by_part.entry(part).or_default() += count;
        }
        for (what, count) in calls {
            *self.calls.entry(what).or_default() += count;
        }
    }

    /// What `calls` calls cost: `more` (a copy that made `calls` more)
    /// less `self`, per call.
    pub fn per_call_to(&self, more: &Counted, calls: u64) -> Counted {
        assert!(
            more.total > self.total,
            "the copy making {calls} more calls counted {} instructions against {}: the two \
             copies did different set-up work (did one of them compile the component?)",
            more.total,
            self.total
        );
        let calls = calls.max(1);
        let mut by_part = BTreeMap::new();
        for (part, count) in &more.by_part {
            let before = self.by_part.get(part).copied().unwrap_or(0);
            by_part.insert(*part, count.saturating_sub(before) / calls);
        }
        let calls_per_call = more
            .calls
            .iter()
            .map(|(what, count)| {
                let before = self.calls.get(what).copied().unwrap_or(0);
                // Rounded: a call makes a whole number of them.
                (*what, (count.saturating_sub(before) + calls / 2) / calls)
            })
            .collect();
        Counted {
            total: more.total.saturating_sub(self.total) / calls,
            by_part,
            calls: calls_per_call,
        }
    }
}

/// valgrind on PATH, installed from Debian's packages when missing.
pub fn ensure_valgrind() {
    let present = || Command::new("valgrind").arg("--version").output().is_ok();
    if present() {
        return;
    }
    let _ = Command::new("apt-get").arg("update").status();
    let installed = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "valgrind"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    assert!(
        present(),
        "valgrind is needed to count a call's instructions, and apt-get could not install it ({installed:?})"
    );
}

/// Runs `program` under valgrind, with `options` for valgrind. Panics,
/// with what it printed, when the program fails.
fn run_under_valgrind(options: &[String], program: &Command) {
    let mut valgrind = Command::new("valgrind");
    valgrind
        .args(options)
        .arg(program.get_program())
        .args(program.get_args());
    for (name, value) in program.get_envs() {
        match value {
            Some(value) => valgrind.env(name, value),
            None => valgrind.env_remove(name),
        };
    }
    let output = valgrind.output().unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `program` (a copy that loads the component from the compile cache)
/// under valgrind with no tool, a few times slower than natively instead
/// of callgrind's fifty: it compiles the component for the processor
/// valgrind shows, which the copies under callgrind then find in the cache.
pub fn fill_compile_cache(program: Command) {
    run_under_valgrind(&["--tool=none".into()], &program);
}

/// Runs `program` under callgrind, its output files in `out`, and counts
/// what its calling thread and the host's guest threads executed. Panics, with what it printed, when
/// the program fails.
pub fn count(program: Command, out: &Path) -> Counted {
    std::fs::create_dir_all(out).unwrap();
    let file = out.join("callgrind.out");
    run_under_valgrind(
        &[
            "--tool=callgrind".into(),
            "--separate-threads=yes".into(),
            format!("--callgrind-out-file={}", file.display()),
        ],
        &program,
    );
    // The calling thread's file names the measured function; the host's
    // guest threads' files name the function each of them ran first.
    let mut counted_files = Vec::new();
    let mut calling = 0;
    for entry in std::fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains(MEASURED_FUNCTION) {
            calling += 1;
            counted_files.push(path);
        } else if text.contains(GUEST_THREAD_FUNCTION) {
            counted_files.push(path);
        }
    }
    assert_eq!(calling, 1, "one thread made the calls: {counted_files:?}");
    let mut counted = Counted::default();
    for file in &counted_files {
        counted.add(&by_part(file), &calls_into(file));
    }
    let _ = std::fs::remove_dir_all(out);
    counted
}

/// The self cost of every function in a callgrind file, through
/// `callgrind_annotate`, summed by [`part_of`].
fn by_part(file: &Path) -> Counted {
    let annotated = Command::new("callgrind_annotate")
        .args(["--inclusive=no", "--threshold=100", "--auto=no"])
        .arg(file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&annotated.stdout);
    let mut counted = Counted::default();
    for line in text.lines() {
        // `  12,345 ( 1.23%)  file:function [object]`
        let line = line.trim_start();
        let Some((count, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<u64>() else {
            continue;
        };
        let Some((_, site)) = rest.split_once(")  ") else {
            continue;
        };
        if site.starts_with("PROGRAM TOTALS") {
            counted.total = count;
            continue;
        }
        *counted.by_part.entry(part_of(site)).or_default() += count;
    }
    assert!(counted.total > 0, "callgrind counted nothing:\n{text}");
    counted
}

/// How often each of [`COUNTED_CALLS`] was called, from the call records
/// of a callgrind file (`cfn=(id) name` names the callee, once, then
/// `cfn=(id)` alone; the next `calls=N ...` line says how often).
fn calls_into(file: &Path) -> BTreeMap<&'static str, u64> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    let mut counts: BTreeMap<&'static str, u64> =
        COUNTED_CALLS.iter().map(|(what, _)| (*what, 0)).collect();
    let mut callee = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("cfn=") {
            let (id, name) = rest.split_once(' ').unwrap_or((rest, ""));
            if !name.is_empty() {
                names.insert(id, name);
            }
            callee = names.get(id).copied();
        } else if let Some(rest) = line.strip_prefix("fn=") {
            if let Some((id, name)) = rest.split_once(' ') {
                names.insert(id, name);
            }
        } else if let Some(rest) = line.strip_prefix("calls=") {
            let count: u64 = rest
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if let Some(name) = callee.take() {
                for (what, pattern) in COUNTED_CALLS {
                    if name.contains(pattern) {
                        *counts
                            .get_mut(what)
                            .expect("every counted call has an entry") += count;
                    }
                }
            }
        }
    }
    counts
}

/// Which part of the stack a function belongs to, from callgrind's
/// `file:function [object]`: its crate (the first path segment of its
/// name, or of the type in `<Type as Trait>`), its object file, or code
/// with no symbol (the guest's compiled WebAssembly).
pub fn part_of(site: &str) -> &'static str {
    let (place, object) = match site.rsplit_once(" [") {
        Some((place, object)) => (place, object.trim_end_matches(']')),
        None => (site, ""),
    };
    if object.contains("libc.so") || object.contains("ld-linux") {
        return "libc (malloc, memcpy)";
    }
    // The file part ends at the first ':' not inside the name's `::`.
    let function =
        place.split_once(":").map_or(
            place,
            |(file, rest)| if file.contains("::") { place } else { rest },
        );
    if function.starts_with("0x") || place.starts_with("???:0x") || object == "???" {
        return "guest (compiled WebAssembly)";
    }
    let name = function.trim_start_matches('<').trim_start_matches('&');
    let krate = name.split("::").next().unwrap_or("");
    match krate {
        "provisioning_host" => "host",
        "wasmtime_wasi_http" | "wasmtime_wasi" | "wasmtime_wasi_io" => "wasi and wasi-http",
        k if k.starts_with("wasmtime")
            || k.starts_with("cranelift")
            || k == "pulley_interpreter" =>
        {
            "wasmtime"
        }
        "hyper" | "hyper_util" | "http" | "http_body" | "http_body_util" | "tokio" | "mio"
        | "bytes" | "h2" | "httparse" | "tower" | "tower_service" | "want" | "try_lock" => {
            "HTTP client and tokio"
        }
        "core" | "alloc" | "std" | "hashbrown" => "Rust std (generic code, any caller)",
        "" => "other",
        _ => "other crates (serde_json, tracing, ...)",
    }
}

/// The calling thread's own counters, from `/proc/thread-self` (zero
/// where it is missing).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadCounters {
    pub minor_faults: u64,
    pub voluntary_switches: u64,
    pub involuntary_switches: u64,
}

impl ThreadCounters {
    pub fn now() -> ThreadCounters {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        // After the command name (in parentheses, maybe with spaces): the
        // state is the 3rd field, minflt the 10th.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let minor_faults = after_name
            .split_whitespace()
            .nth(7)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        ThreadCounters {
            minor_faults,
            voluntary_switches: field("voluntary_ctxt_switches:"),
            involuntary_switches: field("nonvoluntary_ctxt_switches:"),
        }
    }

    /// What happened from `self` to `later`, per call of `calls`, as one
    /// line the parent reads back ([`ThreadCounters::parse_line`]).
    pub fn line_to(&self, later: &ThreadCounters, calls: u64) -> String {
        let per = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / calls.max(1) as f64;
        format!(
            "per call: {:.2} minor page faults, {:.2} voluntary and {:.2} involuntary context switches",
            per(self.minor_faults, later.minor_faults),
            per(self.voluntary_switches, later.voluntary_switches),
            per(self.involuntary_switches, later.involuntary_switches),
        )
    }

    /// The three figures of a [`ThreadCounters::line_to`] line somewhere
    /// in `output` (libtest may have begun its line with a test's name).
    pub fn parse_line(output: &str) -> Option<(f64, f64, f64)> {
        let (_, line) = output.lines().find_map(|l| l.split_once("per call: "))?;
        let numbers: Vec<f64> = line
            .split_whitespace()
            .filter_map(|word| word.parse().ok())
            .collect();
        match numbers[..] {
            [faults, voluntary, involuntary] => Some((faults, voluntary, involuntary)),
            _ => None,
        }
    }
}
