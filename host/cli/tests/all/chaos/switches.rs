//! Which fault classes and checkers a run includes. Each switch names the
//! item of issue 25 whose defect its fault class or checker shows; one
//! whose fix has not landed is off by default, so that the committed run
//! stays green and says what it leaves out, and turning it on
//! (PROVISIONING_CHAOS_ENABLE=name,name or PROVISIONING_CHAOS_ENABLE=all)
//! shows the defect. Every fix has landed: all are on.

/// The switches of one run. The schedule depends on them: a seed replays
/// the same schedule under the same switches.
#[derive(Clone, Debug)]
pub struct Switches {
    /// SIGSTOP of a host on the shared PostgreSQL journal mid-call (item 2:
    /// the other host decides its entry before its deadline and the key is
    /// sent twice).
    pub stall_hosts: bool,
    /// PostgreSQL stopped and started again (item 3: an outcome that could
    /// not be written is answered as a plain `ok` and its entry stays
    /// unknown).
    pub stop_postgres: bool,
    /// PostgreSQL frozen (every process SIGSTOPped) and thawed: calls wait
    /// on the journal until their deadline.
    pub freeze_postgres: bool,
    /// A reload with a manifest that is not TOML, on a line with an inline
    /// key (item 5: readiness quoted the line).
    pub garbage_manifest: bool,
    /// Clients that send the serve token as their request id and
    /// acknowledgements with an unknown finding (items 5 and 9).
    pub hostile_clients: bool,
    /// Calls whose per-call settings try to replace the operator's api-key
    /// (item 7).
    pub setting_override: bool,
    /// The liveness checker: /v1/health/live under 100 ms p99 while guests
    /// loop (item 1).
    pub liveness: bool,
    /// The provider's own rate limit never turns a request away (item 8:
    /// the budget hosts share overshoots).
    pub provider_rate: bool,
    /// The SQLite host's journal file locked by another process for a
    /// while (item 6: observability and readiness queue behind it).
    pub lock_sqlite: bool,
    /// The checker of no 500 answer (item 6: pending and reconcile answer
    /// 500, which openapi.json does not list, while the store is down).
    pub no_500: bool,
}

impl Switches {
    /// The names, as PROVISIONING_CHAOS_ENABLE takes them.
    const NAMES: [&str; 10] = [
        "stall_hosts",
        "stop_postgres",
        "freeze_postgres",
        "garbage_manifest",
        "hostile_clients",
        "setting_override",
        "liveness",
        "provider_rate",
        "lock_sqlite",
        "no_500",
    ];

    /// The defaults: every switch on.
    pub fn defaults() -> Switches {
        Switches {
            stall_hosts: true,
            stop_postgres: true,
            freeze_postgres: true,
            garbage_manifest: true,
            hostile_clients: true,
            setting_override: true,
            liveness: true,
            provider_rate: true,
            lock_sqlite: true,
            no_500: true,
        }
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "stall_hosts" => &mut self.stall_hosts,
            "stop_postgres" => &mut self.stop_postgres,
            "freeze_postgres" => &mut self.freeze_postgres,
            "garbage_manifest" => &mut self.garbage_manifest,
            "hostile_clients" => &mut self.hostile_clients,
            "setting_override" => &mut self.setting_override,
            "liveness" => &mut self.liveness,
            "provider_rate" => &mut self.provider_rate,
            "lock_sqlite" => &mut self.lock_sqlite,
            "no_500" => &mut self.no_500,
            _ => return None,
        })
    }

    /// The defaults, with the names in PROVISIONING_CHAOS_ENABLE turned on
    /// (`all` for every one) and those in PROVISIONING_CHAOS_DISABLE off.
    pub fn from_env() -> Switches {
        let mut switches = Switches::defaults();
        for (var, value) in [
            ("PROVISIONING_CHAOS_ENABLE", true),
            ("PROVISIONING_CHAOS_DISABLE", false),
        ] {
            let Ok(list) = std::env::var(var) else {
                continue;
            };
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let names: Vec<&str> = if name == "all" {
                    Switches::NAMES.to_vec()
                } else {
                    vec![name]
                };
                for name in names {
                    *switches.get_mut(name).unwrap_or_else(|| {
                        panic!("{var}: no switch `{name}` (known: {:?})", Switches::NAMES)
                    }) = value;
                }
            }
        }
        switches
    }
}
