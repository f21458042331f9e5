//! A module that misbehaves on purpose, for the host's tests: its
//! `test-connection` does what setting `behaviour` says, so the tests can
//! prove the host stops (or correctly reports) a bad guest.
//!
//! - `trap`: panics, which traps the instance;
//! - `loop`: spins forever without any I/O (fuel/epoch limits);
//! - `memory`: allocates and touches memory without bound (memory limits);
//! - `ungranted-host`: GETs setting `target-url` and returns the error the
//!   support crate maps (a host not granted that origin answers
//!   `HTTP-request-denied`, i.e. `transport`), or `Ok` if it got through;
//! - `flood-log`: prints without end (output limits);
//! - `huge-result`: answers with a message of many megabytes (result limits);
//! - `ok`: returns `Ok("ok")` without any I/O.
//!
//! Its `usage-data` does the same (or what the service's id names before a
//! `/`, as in `trap/7`: one module setting, several behaviours), and reports what the instance has kept
//! between calls (for the host's tests of instance reuse): figure `calls`,
//! the calls this instance has served, and a figure named
//! `previous-tag:<tag>`, the setting `tag` of the call before in this
//! instance (`previous-tag:` for none). Two behaviours are its own:
//!
//! - `remember`: only that report;
//! - `grow`: keeps 4 MiB more of memory for good on every call (a leak);
//! - `print`: prints one line, `printed tag=<tag> call=<calls>`.
//!
//! Every other function answers `unsupported`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use provisioning_guest::Guest;
use provisioning_guest::http::Request;
use provisioning_guest::settings::Settings;
use provisioning_guest::types::{
    ConnectionStatus, CreatedAccount, Error, Function, Limit, ListedAccount, ModuleInfo, Outcome,
    Package, Service, Setting, SettingSpec, StatusReport, Usage, UsageFigure,
};

const BEHAVIOUR: &str = "behaviour";
const TARGET_URL: &str = "target-url";
const TAG: &str = "tag";

/// Calls this instance has served (`usage-data`).
static CALLS: AtomicU32 = AtomicU32::new(0);
/// The `tag` setting of the instance's last `usage-data` call: state a
/// reused instance keeps, which must never reach a call with other
/// settings.
static LAST_TAG: Mutex<Option<String>> = Mutex::new(None);
/// What `grow` keeps.
static HOARD: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// What `grow` adds to the hoard on each call.
const GROWTH: usize = 4 * 1024 * 1024;

/// Size of each block the `memory` behaviour grabs.
const BLOCK: usize = 1024 * 1024;
/// A wasm page: touching one byte per page commits the whole block.
const PAGE: usize = 64 * 1024;

fn settings() -> Vec<SettingSpec> {
    vec![
        SettingSpec::choice(
            BEHAVIOUR,
            "Behaviour",
            &[
                "trap",
                "loop",
                "memory",
                "ungranted-host",
                "flood-log",
                "huge-result",
                "ok",
                "remember",
                "grow",
                "print",
            ],
        )
        // Per product, as every setting here: the tests choose each call's
        // behaviour, and a call may give only product settings.
        .per_product()
        .required()
        .with_help("What test-connection and usage-data do"),
        SettingSpec::text(TARGET_URL, "Target URL")
            .per_product()
            .with_help("URL that `ungranted-host` requests"),
        SettingSpec::text(TAG, "Tag")
            .per_product()
            .with_help("What usage-data remembers for the next call"),
        SettingSpec::secret("token", "Token")
            .per_product()
            .with_help("A secret the module never uses"),
    ]
}

/// The module.
struct Misbehaving;

fn unsupported<T>() -> Result<T, Error> {
    Err(Error::Unsupported(
        "the misbehaving test module only has test-connection".to_owned(),
    ))
}

/// Spins forever. `black_box` keeps the optimiser from proving the loop
/// useless.
fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Allocates 1 MiB blocks, writing to every page of each, until the host
/// (or the allocator) gives up: either way the instance traps.
fn hog_memory() -> ! {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; BLOCK];
        for page in block.iter_mut().step_by(PAGE) {
            *page = 1;
        }
        blocks.push(black_box(block));
    }
}

/// Size of the `huge-result` message: far above any sane answer, well
/// under the default memory cap.
const HUGE_RESULT: usize = 8 * 1024 * 1024;

/// Prints lines until the host stops the call.
fn flood_log() -> ! {
    let mut line = 0u64;
    loop {
        line += 1;
        println!("log line {line}: the quick brown fox jumps over the lazy dog");
    }
}

/// Requests `target-url`; what the host lets through is the point.
fn reach(settings: &Settings) -> Result<ConnectionStatus, Error> {
    let url = settings.require(TARGET_URL)?;
    let request = Request::get(url);
    let origin = request.origin().to_owned();
    let answer = request.send()?;
    Ok(ConnectionStatus {
        message: format!("reached {origin}: HTTP {}", answer.status()),
        details: Vec::new(),
    })
}

/// A usage figure without limit.
fn figure(name: String, used: f64) -> UsageFigure {
    UsageFigure {
        name,
        unit: "count".to_owned(),
        used,
        limit: Limit::Unlimited,
    }
}

/// The guest is single-threaded; a poisoned lock (after a trap) is never
/// seen again, since the instance is gone.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Guest for Misbehaving {
    fn info() -> ModuleInfo {
        ModuleInfo {
            id: "misbehaving".to_owned(),
            name: "Misbehaving test module".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            functions: vec![Function::TestConnection, Function::UsageData],
            settings: settings(),
            outbound_hosts: Vec::new(),
        }
    }

    fn test_connection(settings: Vec<Setting>) -> Result<ConnectionStatus, Error> {
        let settings = Settings::parse(&settings, &self::settings())?;
        match settings.require(BEHAVIOUR)? {
            "trap" => panic!("deliberate trap: behaviour is `trap`"),
            "loop" => spin(),
            "memory" => hog_memory(),
            "ungranted-host" => reach(&settings),
            "flood-log" => flood_log(),
            "huge-result" => Ok(ConnectionStatus {
                message: "x".repeat(HUGE_RESULT),
                details: Vec::new(),
            }),
            "ok" => Ok(ConnectionStatus {
                message: "ok".to_owned(),
                details: Vec::new(),
            }),
            // `Settings::parse` only lets the declared choices through.
            other => Err(Error::InvalidConfig(format!("unknown behaviour `{other}`"))),
        }
    }

    fn create_account(_: Vec<Setting>, _: Service) -> Result<CreatedAccount, Error> {
        unsupported()
    }

    fn suspend(_: Vec<Setting>, _: Service, _: Option<String>) -> Result<Outcome, Error> {
        unsupported()
    }

    fn unsuspend(_: Vec<Setting>, _: Service) -> Result<Outcome, Error> {
        unsupported()
    }

    fn terminate(_: Vec<Setting>, _: Service) -> Result<Outcome, Error> {
        unsupported()
    }

    fn change_password(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported()
    }

    fn change_package(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported()
    }

    fn change_domain(_: Vec<Setting>, _: Service, _: String) -> Result<Outcome, Error> {
        unsupported()
    }

    fn usage_data(settings: Vec<Setting>, service: Service) -> Result<Usage, Error> {
        let settings = Settings::parse(&settings, &self::settings())?;
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        let tag = settings.get(TAG).unwrap_or_default().to_owned();
        let previous = lock(&LAST_TAG).replace(tag.clone()).unwrap_or_default();
        let mut figures = vec![
            figure("calls".to_owned(), f64::from(calls)),
            figure(format!("previous-tag:{previous}"), 0.0),
        ];
        let behaviour = match service.service_id.split_once('/') {
            Some((behaviour, _)) => behaviour,
            None => settings.require(BEHAVIOUR)?,
        };
        match behaviour {
            "trap" => panic!("deliberate trap: behaviour is `trap`"),
            "loop" => spin(),
            "memory" => hog_memory(),
            "ungranted-host" => {
                reach(&settings)?;
            }
            "flood-log" => flood_log(),
            "huge-result" => figures.push(figure("x".repeat(HUGE_RESULT), 0.0)),
            "print" => println!("printed tag={tag} call={calls}"),
            "grow" => {
                let mut block = vec![0u8; GROWTH];
                for page in block.iter_mut().step_by(PAGE) {
                    *page = 1;
                }
                lock(&HOARD).push(black_box(block));
            }
            _ => {}
        }
        Ok(Usage {
            figures,
            updated_at: None,
        })
    }

    fn list_packages(_: Vec<Setting>) -> Result<Vec<Package>, Error> {
        unsupported()
    }

    fn single_sign_on(_: Vec<Setting>, _: Service, _: Option<String>) -> Result<String, Error> {
        unsupported()
    }

    fn service_status(_: Vec<Setting>, _: Service) -> Result<StatusReport, Error> {
        unsupported()
    }

    fn list_accounts(_: Vec<Setting>) -> Result<Vec<ListedAccount>, Error> {
        unsupported()
    }
}

provisioning_guest::export!(Misbehaving);
