//! The host: a registry of loaded modules and the entry point for calls.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context;
use tracing::Instrument;

use crate::bindings::types::Setting;
use crate::call_runner::{Call, Completed, FromRun};
use crate::engine::{HostOptions, Runtime};
use crate::error::CallError;
use crate::journal::{Admission, EntryId, Journal};
use crate::limits::RequestRate;
use crate::load_error::ModuleLoadError;
use crate::manifest::{Manifest, ModuleEntry};
use crate::module::{Inspection, LoadedModule, ModuleConfig};
use crate::rate::RateLimiter;
use crate::request::{Request, Response};

/// What a caller may add to a call.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Settings for this call: product-scope settings the module declares,
    /// each once, overriding the module's configured ones by name. Any
    /// other (a server-scope endpoint or key, a name the module does not
    /// know) refuses the call `invalid-input`, nothing sent.
    pub settings: Vec<Setting>,
    /// The caller's key for a mutating call: repeating a call with the same
    /// key gets the recorded answer instead of acting twice (needs a
    /// journal; see [`Host::with_journal`]).
    pub idempotency_key: Option<String>,
}

/// The outcome of [`Host::execute`].
#[derive(Debug)]
pub struct Answer {
    /// The module's answer or why there is none.
    pub result: Result<Response, CallError>,
    /// The sha256 of the module version that ran the call (`None` when no
    /// module of that name was loaded, or the answer was replayed).
    pub module_digest: Option<String>,
    /// The journal entry of a mutating call; acknowledge it with
    /// [`Journal::acknowledge`] once the answer is safely kept.
    pub journal_entry: Option<EntryId>,
    /// Whether the answer is the recorded one of an earlier call with the
    /// same idempotency key.
    pub replayed: bool,
    /// Whether what this answer says is on record in the journal. False
    /// for a call that is not journaled (a read, a host without a
    /// journal), and for a mutating call whose outcome the journal did not
    /// take when it ended (down, full, locked): this host then keeps the
    /// outcome in memory, credentials sealed, and writes it once the
    /// journal takes it ([`Journal::write_held`]); until then the entry
    /// cannot be acknowledged (`not-journaled`), and a repeat of the key on
    /// this host is answered from memory.
    pub journaled: bool,
    /// The largest linear memory the guest reached during the call, in
    /// bytes (`None` when no guest ran): what to size `memory_mb` by.
    pub memory_peak_bytes: Option<u64>,
}

impl Answer {
    fn from_result(result: Result<Response, CallError>) -> Answer {
        Answer {
            result,
            module_digest: None,
            journal_entry: None,
            replayed: false,
            journaled: false,
            memory_peak_bytes: None,
        }
    }
}

/// The answer of a call that ran unjournaled.
impl From<Completed> for Answer {
    fn from(completed: Completed) -> Answer {
        Answer {
            module_digest: Some(completed.module_digest),
            memory_peak_bytes: completed.memory_peak_bytes,
            ..Answer::from_result(completed.result)
        }
    }
}

/// Loads provider modules and runs calls on them.
///
/// Cheap to share behind an `Arc`; every method takes `&self`. Replacing a
/// module ([`Host::load`] under a name already loaded) is atomic: calls in
/// flight finish on the version they started with.
///
/// A module with a rate limit ([`LoadedModule::rate_limit`]) is paced by
/// it on every call: each attempt that reaches the guest waits for its
/// turn, within the call's deadline (a call whose turn would come later is
/// answered `rate-limited` at once, nothing sent), and a provider's
/// Retry-After holds every caller of the module. The pacing belongs to the
/// module's name: a new version swapped in keeps it, at the new version's
/// rate.
///
/// ```no_run
/// # async fn example() -> anyhow::Result<()> {
/// use provisioning_host::{Host, Manifest, Request};
///
/// let host = Host::new()?;
/// host.load_manifest(&Manifest::from_file("provisioning.toml".as_ref())?).await?;
/// match host.call("hostmenow", &Request::TestConnection).await {
///     Ok(response) => println!("{response:?}"),
///     Err(error) => eprintln!("{} ({})", error, error.kind()),
/// }
/// # Ok(()) }
/// ```
pub struct Host {
    runtime: Arc<Runtime>,
    modules: RwLock<BTreeMap<String, Installed>>,
    /// The modules of a manifest that are not in service because their
    /// last load failed, by name, with why.
    not_ready: RwLock<BTreeMap<String, ModuleLoadError>>,
    journal: Option<Journal>,
    /// The sha256 of the journal key [`Host::from_manifest`] opened the
    /// journal with (`Some(None)`: its manifest had no journal; `None`:
    /// the host was not made from a manifest), to notice a changed key in
    /// [`Host::apply_manifest`] without keeping a second copy of it.
    journal_key: Option<Option<String>>,
    /// The rate limiter of each module name whose version in service has
    /// a rate limit. Kept apart from the versions so that a swap does not
    /// start the pacing over, and kept when a module is unloaded: the
    /// provider's window does not end with it.
    limiters: Mutex<HashMap<String, Arc<RateLimiter>>>,
}

/// A module in service, and the manifest entry it was loaded from (`None`
/// when it was loaded from a [`ModuleConfig`] directly). The entry holds
/// no secret: secrets are named there by their variable or file, and
/// their resolved values are the module's own settings.
struct Installed {
    module: Arc<LoadedModule>,
    entry: Option<ModuleEntry>,
}

impl Host {
    /// A host with no module loaded and the default [`HostOptions`].
    pub fn new() -> anyhow::Result<Host> {
        Host::with_options(HostOptions::default())
    }

    /// A host with no module loaded, running modules as `options` say.
    ///
    /// ```no_run
    /// # fn main() -> anyhow::Result<()> {
    /// use provisioning_host::{Host, HostOptions};
    ///
    /// // Compiled components are kept, so a restart loads them in milliseconds.
    /// let host = Host::with_options(HostOptions {
    ///     compile_cache: Some("/var/cache/provisioning".into()),
    ///     ..HostOptions::default()
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn with_options(options: HostOptions) -> anyhow::Result<Host> {
        Ok(Host {
            runtime: Runtime::new(&options)?,
            modules: RwLock::new(BTreeMap::new()),
            not_ready: RwLock::new(BTreeMap::new()),
            journal: None,
            journal_key: None,
            limiters: Mutex::new(HashMap::new()),
        })
    }

    /// A host for a manifest, running modules as `options` say, with the
    /// manifest's journal when it has a `[journal]` section; no module is
    /// loaded yet. The caller chooses how: every module strictly
    /// ([`Host::load_manifest`]), those that load
    /// ([`Host::load_manifest_lenient`]), or only the ones it needs
    /// ([`Host::load_from_manifest`]). Each module's rate limit is part of
    /// its entry, and so of the module once loaded
    /// ([`LoadedModule::rate_limit`]); [`Host::apply_manifest`] later keeps
    /// the host in step with an edited manifest.
    ///
    /// Fails when the journal's key cannot be read or the journal cannot
    /// be opened; a module's entry is not looked at until it is loaded.
    ///
    /// ```no_run
    /// # async fn example() -> anyhow::Result<()> {
    /// use provisioning_host::{Host, HostOptions, Manifest};
    ///
    /// let manifest = Manifest::from_file("provisioning.toml".as_ref())?;
    /// let host = Host::from_manifest(&manifest, HostOptions::default())?;
    /// host.load_from_manifest(&manifest, "hostmenow").await?;
    /// if let Some(journal) = host.journal() {
    ///     println!("{} calls pending", journal.pending().await?.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn from_manifest(manifest: &Manifest, options: HostOptions) -> anyhow::Result<Host> {
        let config = manifest.journal_config()?;
        let key = config
            .as_ref()
            .map(|config| crate::hex::sha256(config.key_hex.as_bytes()));
        let journal = config.map(|config| config.open()).transpose()?;
        let mut host = Host::with_options(options)?;
        host.journal = journal;
        host.journal_key = Some(key);
        Ok(host)
    }

    /// Journals every mutating call from now on: its intent before it
    /// reaches the module, its outcome after, generated credentials sealed
    /// until acknowledged.
    pub fn with_journal(mut self, journal: Journal) -> Host {
        if let Some(budget) = journal.shared_budget() {
            for limiter in self.limiters.lock().expect("rate limiter lock").values() {
                limiter.share(budget.clone());
            }
        }
        self.journal = Some(journal);
        self
    }

    /// The journal, when there is one.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Loads every module of a manifest, strictly: fails on the first
    /// module that does not load, naming it (modules before it in the
    /// manifest stay loaded). For a host that should serve what it can,
    /// see [`Host::load_manifest_lenient`].
    pub async fn load_manifest(&self, manifest: &Manifest) -> anyhow::Result<()> {
        for name in manifest.modules.keys() {
            self.load_from_manifest(manifest, name).await?;
        }
        Ok(())
    }

    /// Loads every module of a manifest that loads, and tells why each of
    /// the others did not (empty when all loaded). A module that fails,
    /// for a missing environment variable, secret file or component, say,
    /// keeps nothing else out of service; loading it again once it is
    /// fixed ([`Host::load_from_manifest`]) brings it up.
    ///
    /// ```no_run
    /// # async fn example() -> anyhow::Result<()> {
    /// use provisioning_host::{Host, Manifest};
    ///
    /// let host = Host::new()?;
    /// let manifest = Manifest::from_file("provisioning.toml".as_ref())?;
    /// for failure in host.load_manifest_lenient(&manifest).await {
    ///     eprintln!("{} is not ready ({}): {}", failure.module, failure.kind, failure.message);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn load_manifest_lenient(&self, manifest: &Manifest) -> Vec<ModuleLoadError> {
        let mut failures = Vec::new();
        for name in manifest.modules.keys() {
            if let Err(failure) = self.load_from_manifest(manifest, name).await {
                failures.push(failure);
            }
        }
        failures
    }

    /// Loads (or swaps in again) the one module of a manifest named
    /// `name`, resolving only its entry: the other modules' settings are
    /// not read, so a broken one stands in nobody's way.
    ///
    /// The host remembers the entry the module was loaded from, for
    /// [`Host::apply_manifest`]; a module that fails to load while no
    /// version of it is in service is [not ready](Host::not_ready) until
    /// one loads.
    pub async fn load_from_manifest(
        &self,
        manifest: &Manifest,
        name: &str,
    ) -> Result<Arc<LoadedModule>, ModuleLoadError> {
        let Some(entry) = manifest.modules.get(name) else {
            return Err(ModuleLoadError::unknown_module(name));
        };
        let loaded = match manifest.module_config(name) {
            Err(error) => Err(ModuleLoadError::invalid_config(name, &error)),
            Ok(config) => self.load_entry(config, entry).await,
        };
        if let Err(failure) = &loaded {
            self.note_failure(failure);
        }
        loaded
    }

    /// Loads a module resolved from `entry` and remembers the entry.
    pub(crate) async fn load_entry(
        &self,
        config: ModuleConfig,
        entry: &ModuleEntry,
    ) -> Result<Arc<LoadedModule>, ModuleLoadError> {
        let name = config.name.clone();
        let module = self
            .prepare(config)
            .await
            .map_err(|error| ModuleLoadError::from_load(&name, &error))?;
        self.install_from(module.clone(), Some(entry.clone()))
            .map_err(|error| ModuleLoadError::from_load(&name, &error))?;
        Ok(module)
    }

    /// Records why a module of the manifest did not load, when no version
    /// of it is in service (a refused new version is not a module not
    /// ready: the old one serves).
    pub(crate) fn note_failure(&self, failure: &ModuleLoadError) {
        let modules = self.modules.read().expect("module registry lock");
        if !modules.contains_key(&failure.module) {
            self.not_ready
                .write()
                .expect("not-ready lock")
                .insert(failure.module.clone(), failure.clone());
        }
    }

    /// The manifest entry the module `name` in service was loaded from
    /// (`None` when none is, or it was loaded from a [`ModuleConfig`]).
    pub(crate) fn entry(&self, name: &str) -> Option<ModuleEntry> {
        self.modules
            .read()
            .expect("module registry lock")
            .get(name)
            .and_then(|installed| installed.entry.clone())
    }

    /// Forgets the modules not ready that `keep` refuses.
    pub(crate) fn retain_not_ready(&self, mut keep: impl FnMut(&str) -> bool) {
        self.not_ready
            .write()
            .expect("not-ready lock")
            .retain(|name, _| keep(name));
    }

    /// The modules of a manifest that are not in service because they did
    /// not load, by name, each with why: what [`Host::load_manifest_lenient`],
    /// [`Host::load_from_manifest`] or [`Host::apply_manifest`] could not
    /// load while no version of it was in service. A module leaves this
    /// list when a version of it is put in service, or when
    /// [`Host::apply_manifest`] is given a manifest without it.
    pub fn not_ready(&self) -> Vec<ModuleLoadError> {
        self.not_ready
            .read()
            .expect("not-ready lock")
            .values()
            .cloned()
            .collect()
    }

    /// Why the module `name` of a manifest is not ready (see
    /// [`Host::not_ready`]), if it is not.
    pub fn not_ready_module(&self, name: &str) -> Option<ModuleLoadError> {
        self.not_ready
            .read()
            .expect("not-ready lock")
            .get(name)
            .cloned()
    }

    /// The sha256 of the journal key the host was made with by
    /// [`Host::from_manifest`] (`Some(None)`: no journal; `None`: not
    /// made from a manifest).
    pub(crate) fn journal_key(&self) -> Option<Option<&str>> {
        self.journal_key.as_ref().map(Option::as_deref)
    }

    /// Loads one module, or swaps in a new version of one already loaded:
    /// [`Host::prepare`] then [`Host::install`].
    ///
    /// ```no_run
    /// # async fn example() -> anyhow::Result<()> {
    /// use provisioning_host::{Host, ModuleConfig};
    ///
    /// let host = Host::new()?;
    /// let config = ModuleConfig::new("hostmenow", "/opt/provisioning/hostmenow_module.wasm")
    ///     .allow_hosts(&["https://hostmenow.org"])?
    ///     .setting("endpoint", "https://hostmenow.org/backstage/modules/addons/products_reseller/api.php")
    ///     .setting("api-key", std::env::var("HOSTMENOW_API_KEY")?);
    /// let module = host.load(config).await?;
    /// println!("{} {} loaded ({})", module.name(), module.info().version, module.digest());
    /// # Ok(()) }
    /// ```
    pub async fn load(&self, config: ModuleConfig) -> anyhow::Result<Arc<LoadedModule>> {
        let module = self.prepare(config).await?;
        self.install(module.clone())?;
        Ok(module)
    }

    /// Compiles, checks and pre-links a module and reads its `info`, without
    /// putting it in service: the slow half of a swap, done while the old
    /// version keeps serving.
    pub async fn prepare(&self, config: ModuleConfig) -> anyhow::Result<Arc<LoadedModule>> {
        Ok(Arc::new(LoadedModule::load(&self.runtime, config).await?))
    }

    /// Puts a prepared module in service under its name, swapping out the
    /// version already there.
    ///
    /// A swap is atomic and drops nothing: calls in flight finish on the
    /// version they started with, calls made after it returns go to the new
    /// one. The new version must say in its `info` that it is the same
    /// module (same id); otherwise this fails and the version already loaded
    /// stays in service (as it does when [`Host::prepare`] fails: a file
    /// that does not compile or does not match its pinned digest).
    pub fn install(&self, module: Arc<LoadedModule>) -> anyhow::Result<()> {
        self.install_from(module, None)
    }

    /// [`Host::install`], remembering the manifest entry the module was
    /// loaded from.
    fn install_from(
        &self,
        module: Arc<LoadedModule>,
        entry: Option<ModuleEntry>,
    ) -> anyhow::Result<()> {
        let name = module.name().to_string();
        let previous = {
            let mut modules = self.modules.write().expect("module registry lock");
            if let Some(old) = modules.get(&name)
                && old.module.info().id != module.info().id
            {
                anyhow::bail!(
                    "module `{name}` is `{}`, but the new component says it is `{}`: not swapped",
                    old.module.info().id,
                    module.info().id
                );
            }
            let installed = Installed {
                module: module.clone(),
                entry,
            };
            let previous = modules.insert(name.clone(), installed);
            self.pace(&name, module.rate_limit());
            self.not_ready
                .write()
                .expect("not-ready lock")
                .remove(&name);
            previous.map(|installed| installed.module)
        };
        match previous {
            Some(old) => {
                tracing::info!(module = %name, old = %old.digest(), new = %module.digest(), "module replaced")
            }
            None => {
                tracing::info!(module = %name, digest = %module.digest(), id = %module.info().id, "module loaded")
            }
        }
        Ok(())
    }

    /// Paces the calls of the module `name` by `rate` from now on: its
    /// limiter, kept or made, at the new rate; none without a rate.
    fn pace(&self, name: &str, rate: Option<RequestRate>) {
        let mut limiters = self.limiters.lock().expect("rate limiter lock");
        match (rate, limiters.get(name)) {
            (Some(rate), Some(limiter)) => limiter.set_rate(rate),
            (Some(rate), None) => {
                let limiter = RateLimiter::new(name, rate);
                // Hosts sharing a journal database share its rate budget.
                if let Some(budget) = self.journal.as_ref().and_then(Journal::shared_budget) {
                    limiter.share(budget);
                }
                limiters.insert(name.to_string(), limiter);
            }
            (None, _) => {
                limiters.remove(name);
            }
        }
    }

    /// The rate limiter of the module `name`, when the version in service
    /// has a rate limit.
    pub(crate) fn rate_limiter(&self, name: &str) -> Option<Arc<RateLimiter>> {
        self.limiters
            .lock()
            .expect("rate limiter lock")
            .get(name)
            .cloned()
    }

    /// Takes a module out of service; calls in flight on it finish. Returns
    /// whether a module of that name was loaded.
    pub fn unload(&self, name: &str) -> bool {
        let removed = self
            .modules
            .write()
            .expect("module registry lock")
            .remove(name)
            .map(|installed| installed.module);
        if let Some(module) = &removed {
            tracing::info!(module = %name, digest = %module.digest(), "module unloaded");
        }
        removed.is_some()
    }

    /// The module loaded under `name`.
    pub fn module(&self, name: &str) -> Option<Arc<LoadedModule>> {
        self.modules
            .read()
            .expect("module registry lock")
            .get(name)
            .map(|installed| installed.module.clone())
    }

    /// Every loaded module, by name.
    pub fn modules(&self) -> Vec<Arc<LoadedModule>> {
        self.modules
            .read()
            .expect("module registry lock")
            .values()
            .map(|installed| installed.module.clone())
            .collect()
    }

    /// Calls a function of a module with the module's configured settings.
    pub async fn call(&self, module: &str, request: &Request) -> Result<Response, CallError> {
        self.call_with(module, request, &[]).await
    }

    /// Calls a function with extra settings for this call, which override
    /// the module's configured ones by name: product-scope settings only
    /// (see [`CallOptions::settings`]).
    ///
    /// With a journal, the call's entry is acknowledged as soon as the
    /// answer is returned; a platform that must not lose a generated
    /// password between this return and its own database uses
    /// [`Host::execute`] and acknowledges once it has stored the answer.
    pub async fn call_with(
        &self,
        module: &str,
        request: &Request,
        settings: &[Setting],
    ) -> Result<Response, CallError> {
        let options = CallOptions {
            settings: settings.to_vec(),
            ..CallOptions::default()
        };
        let answer = self.execute(module, request, &options).await;
        if let (Some(journal), Some(entry), Ok(_)) =
            (&self.journal, answer.journal_entry, &answer.result)
            && let Err(error) = journal.acknowledge(entry).await
        {
            tracing::error!(
                module,
                entry,
                "acknowledging a journal entry failed: {error:#}"
            );
        }
        answer.result
    }

    /// Runs a call and tells, beside its result, which version of the
    /// module answered it and which journal entry records it.
    ///
    /// A mutating call is journaled before it reaches the module; if that
    /// fails, the call is not made. A module with a rate limit is paced by
    /// it: the call waits for its turn within its deadline, or is answered
    /// `rate-limited` with the wait as its Retry-After, nothing sent (for a
    /// journaled call a definite outcome: its key may be used again). A
    /// repeated idempotency key gets the recorded answer of the earlier
    /// call, or `outcome-unknown` when that call never finished (an
    /// operator checks it at the provider).
    ///
    /// A platform stores the answer, then acknowledges the journal entry
    /// (`examples/embed.rs` in the repository shows the whole cycle, with
    /// start-up recovery and what to do about each error kind):
    ///
    /// ```no_run
    /// # async fn example(host: &provisioning_host::Host, service: provisioning_host::types::Service) -> anyhow::Result<()> {
    /// use provisioning_host::{CallOptions, Request, Response};
    ///
    /// let options = CallOptions {
    ///     // One key per action on a service: a retried job gets the
    ///     // recorded answer instead of a second account.
    ///     idempotency_key: Some(format!("create-{}", service.service_id)),
    ///     ..CallOptions::default()
    /// };
    /// let answer = host.execute("webline", &Request::CreateAccount { service }, &options).await;
    /// match answer.result {
    ///     Ok(Response::Created(created)) => {
    ///         // Store created.remote_id and created.credentials (shown only
    ///         // once) in the platform's database first, then acknowledge:
    ///         // the journal destroys its sealed copy of the credentials.
    ///         if let (Some(journal), Some(entry)) = (host.journal(), answer.journal_entry) {
    ///             journal.acknowledge(entry).await?;
    ///         }
    ///     }
    ///     Ok(other) => anyhow::bail!("unexpected answer {other:?}"),
    ///     Err(error) => eprintln!("{} failed: {error}", error.kind()),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn execute(&self, module: &str, request: &Request, options: &CallOptions) -> Answer {
        self.execute_in(module, request, options, FromRun::default())
            .await
    }

    /// [`Host::execute`] with what a bulk usage run gives one of its calls
    /// ([`FromRun`]: a turn it waited for, instances to reuse): the call
    /// built once ([`Call::new`]), journaled when it mutates and the host
    /// keeps a journal, run, and its metrics recorded.
    pub(crate) async fn execute_in(
        &self,
        module: &str,
        request: &Request,
        options: &CallOptions,
        from_run: FromRun,
    ) -> Answer {
        let Some(loaded) = self.module(module) else {
            return Answer::from_result(Err(CallError::UnknownModule(module.to_string())));
        };
        let function = crate::request::function_name(request.function());
        // Every event of the call carries these; the journal entry is
        // filled in once the call has one.
        let span = tracing::info_span!(
            "call",
            module,
            function,
            service_id = request.service().map(|service| service.service_id.as_str()),
            idempotency_key = options.idempotency_key.as_deref(),
            journal_entry = tracing::field::Empty,
        );
        let started = std::time::Instant::now();
        let answer = async {
            let limiter = self.rate_limiter(module);
            let call = match Call::new(
                loaded,
                request.clone(),
                &options.settings,
                limiter,
                from_run,
            ) {
                Ok(call) => call,
                Err(refused) => return Answer::from_result(Err(refused)),
            };
            match self.journal.as_ref().filter(|_| request.is_mutating()) {
                Some(journal) => {
                    let key = options.idempotency_key.as_deref();
                    self.run_journaled(journal, call, key).await
                }
                None => Answer::from(call.run(&self.runtime.guests).await),
            }
        }
        .instrument(span.clone())
        .await;
        if let Some(entry) = answer.journal_entry {
            span.record("journal_entry", entry);
        }
        let outcome = match &answer.result {
            Ok(_) => "ok",
            Err(error) => error.kind(),
        };
        crate::telemetry::record_call(module, function, outcome, started.elapsed());
        if let Some(peak) = answer.memory_peak_bytes {
            crate::telemetry::record_memory_peak(module, peak);
        }
        answer
    }

    /// Runs a mutating `call` under `journal`: admitted under its
    /// idempotency key (a repeated key answered from the record, a call
    /// the journal cannot take in time refused unsent), run, and its
    /// outcome recorded before the caller hears it.
    async fn run_journaled(
        &self,
        journal: &Journal,
        call: Call,
        idempotency_key: Option<&str>,
    ) -> Answer {
        let module = call.module.clone();
        // The call's deadline covers its wait for the journal too; what is
        // left of it is the guest's, its turns under the rate limit
        // included.
        let admitted = journal
            .shared()
            .admit(
                module.name(),
                &call.request,
                &call.own_settings,
                idempotency_key,
                &call.redactor,
                call.deadline,
            )
            .await;
        let ticket = match admitted {
            Err((error, entry)) => {
                return Answer {
                    journal_entry: entry,
                    journaled: entry.is_some(),
                    ..Answer::from_result(Err(error))
                };
            }
            Ok(Admission::Answered(settled)) => {
                tracing::info!(
                    module = module.name(),
                    entry = settled.entry,
                    "idempotency key seen before: answering with the recorded outcome"
                );
                return Answer {
                    module_digest: settled.module_digest,
                    journal_entry: settled.entry,
                    replayed: true,
                    journaled: settled.journaled,
                    ..Answer::from_result(settled.result)
                };
            }
            Ok(Admission::Run(ticket)) => ticket,
        };
        tracing::Span::current().record("journal_entry", ticket.entry());
        let redactor = call.redactor.clone();
        let completed = call.run(&self.runtime.guests).await;
        // The outcome is on record (or the journal is given until the
        // deadline again) before the caller hears it.
        let finish_by = std::time::Instant::now() + module.limits().deadline;
        let settled = ticket
            .finish(
                completed.result,
                Some(completed.module_digest),
                &redactor,
                finish_by,
            )
            .await;
        Answer {
            result: settled.result,
            module_digest: settled.module_digest,
            journal_entry: settled.entry,
            replayed: false,
            journaled: settled.journaled,
            memory_peak_bytes: completed.memory_peak_bytes,
        }
    }

    /// Sets the host's state gauges ([`crate::telemetry`]): instances in use
    /// against the capacity, the journal's pending and unknown entries as
    /// last seen with their age and whether it takes writes
    /// ([`crate::Journal::status`]), the version each module serves.
    /// Called before each scrape.
    pub async fn record_state(&self) {
        // The latest values, never a wait behind the journal's writers.
        let journal = match &self.journal {
            Some(journal) => {
                let status = journal.status().await;
                Some(crate::telemetry::JournalGauges {
                    counts: status
                        .counts
                        .zip(status.counts_age)
                        .map(|(counts, age)| (counts.pending, counts.unknown, age)),
                    writable: status.writable,
                })
            }
            None => None,
        };
        let modules = self.modules();
        let capacity = self.runtime.call_capacity;
        crate::telemetry::record_state(&crate::telemetry::State {
            instances_in_use: capacity - self.runtime.call_slots.available_permits().min(capacity),
            instances_capacity: capacity,
            journal,
            modules: modules
                .iter()
                .map(|module| (module.name(), module.digest()))
                .collect(),
        });
    }

    /// Reads a component file's info, imports and digest without loading it
    /// as a module.
    pub async fn inspect(&self, component: &Path) -> anyhow::Result<Inspection> {
        Inspection::of(&self.runtime, component)
            .await
            .with_context(|| format!("inspecting {}", component.display()))
    }
}
