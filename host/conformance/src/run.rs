//! One run of the kit: the module loaded behind the proxies, its functions
//! called in a fixed order, and each check judged from what the calls
//! answered and what the proxies saw.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use provisioning_host::types::{
    Error as ModuleError, Function, ListedAccount, ModuleInfo, Service, SettingKind,
};
use provisioning_host::{
    CallError, CallOptions, Effect, FUNCTIONS, Host, Limits, MASK, ModuleConfig, Origin, Redactor,
    Request, Response, error_kind, error_message, function_effect, function_name,
};

use crate::fault::{FAULTS, FaultSpec, RETRY_AFTER_SECONDS};
use crate::proxy::{Mode, Proxy, Seen, Shared};
use crate::report::{Check, ModuleSummary, Report};
use crate::{GuestOutput, Kit};

/// The name the module is loaded under in the kit's host.
const MODULE: &str = "module-under-test";

/// The functions that change things, in the order the lifecycle runs them
/// after create-account (and its retry).
const LIFECYCLE: &[Function] = &[
    Function::Suspend,
    Function::Unsuspend,
    Function::ChangePassword,
    Function::ChangePackage,
    Function::ChangeDomain,
    Function::Terminate,
];

/// The failures that show a module out of its bounds (memory, deadline,
/// output, answer size) or broken (a trap), whatever the provider did.
const OUT_OF_BOUNDS: &[&str] = &[
    "trap",
    "deadline-exceeded",
    "memory-exhausted",
    "output-exceeded",
    "result-too-large",
];

/// Methods no read may use.
const CHANGING_METHODS: &[&str] = &["DELETE", "PUT", "PATCH"];

/// Words that make a setting a secret when its name or label has one.
const SECRET_WORDS: &[&str] = &["key", "password", "passwd", "secret", "token"];

/// The longest error message quoted in a reason.
const MAX_QUOTE: usize = 120;

/// Runs every check on the module `kit` names. An error is the kit's own
/// failure (no loopback port, no host); a module that does not load is a
/// failed check `load`. `output`, when given, is where the process's
/// subscriber records the guest's output ([`GuestOutput::layer`]): the
/// `secrets` check searches it too.
pub async fn run(kit: Kit, output: Option<&GuestOutput>) -> anyhow::Result<Report> {
    let shared = Shared::new(kit.deadline + Duration::from_secs(1), &kit.upstream_roots)?;
    let mut proxies: BTreeMap<String, Proxy> = BTreeMap::new();
    let mut settings = Vec::new();
    for (name, value) in &kit.settings {
        let value = match url_origin(value) {
            Some(origin) => {
                if !proxies.contains_key(origin) {
                    let proxy = Proxy::start(shared.clone(), origin.to_owned()).await?;
                    proxies.insert(origin.to_owned(), proxy);
                }
                format!("{}{}", proxies[origin].origin(), &value[origin.len()..])
            }
            None => value.clone(),
        };
        settings.push((name.clone(), value));
    }
    let granted: Vec<&str> = proxies.values().map(Proxy::origin).collect();
    let mut config = ModuleConfig::new(MODULE, &kit.component)
        .allow_hosts(&granted)?
        .limits(Limits {
            memory_bytes: kit.memory_bytes,
            deadline: kit.deadline,
            // Each fault must reach the module once, as the provider gave
            // it, not be retried away by the host.
            read_retries: 0,
            ..Limits::default()
        });
    for (name, value) in settings {
        config = config.setting(name, value);
    }
    let host = Host::with_options(kit.host_options.clone())?;
    let module = match host.load(config).await {
        Ok(module) => module,
        Err(error) => {
            let summary = ModuleSummary {
                id: String::new(),
                version: String::new(),
                sha256: String::new(),
            };
            let check = Check::fail("load", format!("the module did not load: {error:#}"));
            return Ok(Report::new(summary, kit.allow_changes, vec![check]));
        }
    };
    let summary = ModuleSummary {
        id: module.info().id.clone(),
        version: module.info().version.clone(),
        sha256: module.digest().to_owned(),
    };
    let mut runner = Runner {
        host,
        shared,
        info: module.info().clone(),
        calls: Vec::new(),
        _proxies: proxies,
    };
    let checks = runner.checks(&kit, output).await;
    Ok(Report::new(summary, kit.allow_changes, checks))
}

/// The origin (`scheme://authority`) of an http(s) URL, as it is spelt at
/// the start of `value`; `None` for anything else.
fn url_origin(value: &str) -> Option<&str> {
    let lower = value.get(..8)?.to_ascii_lowercase();
    let scheme_end = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else {
        return None;
    };
    let end = value[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(value.len(), |i| scheme_end + i);
    let origin = &value[..end];
    Origin::parse(origin).ok().map(|_| origin)
}

/// Why a call was made: against the healthy provider, blocked at the
/// proxy, or under a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Healthy,
    Blocked,
    Fault,
}

/// One call of the run.
struct Call {
    function: Function,
    phase: Phase,
    result: Result<Response, CallError>,
    memory_peak: Option<u64>,
}

/// The arguments beyond the service a request may take.
struct Extras {
    new_password: String,
    new_package: String,
    new_domain: String,
}

struct Runner {
    host: Host,
    shared: Arc<Shared>,
    info: ModuleInfo,
    calls: Vec<Call>,
    /// Kept until the run ends: dropping one stops it.
    _proxies: BTreeMap<String, Proxy>,
}

impl Runner {
    fn declares(&self, function: Function) -> bool {
        self.info.functions.contains(&function)
    }

    /// Calls the module with the proxy in `mode`, recording the call.
    async fn call(
        &mut self,
        phase: Phase,
        mode: Mode,
        request: Request,
    ) -> Result<Response, CallError> {
        self.shared.begin(self.calls.len(), mode);
        let answer = self
            .host
            .execute(MODULE, &request, &CallOptions::default())
            .await;
        self.shared.end();
        self.calls.push(Call {
            function: request.function(),
            phase,
            result: answer.result.clone(),
            memory_peak: answer.memory_peak_bytes,
        });
        answer.result
    }

    /// A call against the healthy provider.
    async fn healthy(&mut self, request: Request) -> Result<Response, CallError> {
        self.call(Phase::Healthy, Mode::Forward, request).await
    }

    /// The provider's accounts, when the module declares list-accounts and
    /// it answers.
    async fn accounts(&mut self) -> Option<Result<Vec<ListedAccount>, String>> {
        if !self.declares(Function::ListAccounts) {
            return None;
        }
        Some(match self.healthy(Request::ListAccounts).await {
            Ok(Response::Accounts(accounts)) => Ok(accounts),
            other => Err(describe(&other)),
        })
    }

    /// What the provider holds, as the reads that tell it answer: the
    /// accounts (`list-accounts`) and the service's status
    /// (`service-status`), each the module declares, as comparable lines.
    async fn provider_state(&mut self, service: &Service) -> Vec<StateSeen> {
        let mut state = Vec::new();
        if let Some(accounts) = self.accounts().await {
            state.push(StateSeen {
                read: "list-accounts",
                lines: accounts.map(|accounts| account_lines(&accounts)),
            });
        }
        if self.declares(Function::ServiceStatus) {
            let request = Request::ServiceStatus {
                service: service.clone(),
            };
            let lines = match self.healthy(request).await {
                Ok(Response::Status(status)) => Ok(std::iter::once(
                    provisioning_host::service_state_name(status.state).to_owned(),
                )
                .chain(status.details.iter().map(|(k, v)| format!("{k}={v}")))
                .collect()),
                other => Err(describe(&other)),
            };
            state.push(StateSeen {
                read: "service-status",
                lines,
            });
        }
        state
    }

    /// The requests the proxy saw during call `index`.
    fn seen_in(&self, seen: &[Seen], index: usize) -> Vec<Seen> {
        seen.iter().filter(|s| s.call == index).cloned().collect()
    }

    /// The calls of `function` in `phase`, with their indices.
    fn calls_of(&self, function: Function, phase: Phase) -> impl Iterator<Item = (usize, &Call)> {
        self.calls
            .iter()
            .enumerate()
            .filter(move |(_, c)| c.function == function && c.phase == phase)
    }

    /// Runs the calls in order, then judges every check.
    async fn checks(&mut self, kit: &Kit, output: Option<&GuestOutput>) -> Vec<Check> {
        let mut checks = vec![self.info_settings(), self.info_outbound_hosts()];

        let mut service = kit.service.clone();
        let mut packages = Vec::new();
        if self.declares(Function::ListPackages)
            && let Ok(Response::Packages(offered)) = self.healthy(Request::ListPackages).await
        {
            packages = offered.into_iter().map(|p| p.id).collect::<Vec<_>>();
        }
        if service.package.is_none() {
            service.package = packages.first().cloned();
        }

        // Changes first, so that the reads below act on a live service.
        let mut lifecycle = Lifecycle::default();
        let mut create_retry = None;
        if kit.allow_changes && self.declares(Function::CreateAccount) {
            create_retry = Some(self.create_and_retry(&mut service, &mut lifecycle).await);
        }

        // Reads, between two looks at the provider's accounts.
        let state_before = self.provider_state(&service).await;
        let extras = Extras {
            new_password: format!("{}-New7!", service.password.as_deref().unwrap_or("Ck")),
            new_package: kit.new_package.clone().unwrap_or_else(|| {
                packages
                    .iter()
                    .find(|p| Some(p.as_str()) != service.package.as_deref())
                    .cloned()
                    .unwrap_or_default()
            }),
            new_domain: format!("moved-{}.example.test", service.service_id),
        };
        for (function, _, effect) in FUNCTIONS {
            if *effect != Effect::Change && self.declares(*function) {
                self.healthy(request_for(*function, &service, &extras))
                    .await
                    .ok();
            }
        }
        let state_after = self.provider_state(&service).await;

        // Undeclared functions: nothing they send reaches the provider.
        for (function, _, _) in FUNCTIONS {
            if !self.declares(*function) {
                let request = request_for(*function, &service, &extras);
                self.call(Phase::Blocked, Mode::Block, request).await.ok();
            }
        }

        let faults = self.faults(&service, &extras).await;

        if kit.allow_changes && lifecycle.create_failed.is_none() {
            self.rest_of_lifecycle(&mut service, &extras, &mut lifecycle)
                .await;
        }

        let seen = self.shared.seen();
        checks.push(self.connection());
        checks.push(self.functions_answer(kit.allow_changes));
        checks.push(self.undeclared_unsupported(&seen));
        checks.extend(faults);
        checks.push(create_retry.unwrap_or_else(|| {
            Check::skip(
                "create-retry",
                if self.declares(Function::CreateAccount) {
                    "create-account runs only with --allow-changes (point the module at a test endpoint)"
                } else {
                    "the module declares no create-account"
                },
            )
        }));
        checks.push(self.lifecycle_check(kit.allow_changes, &lifecycle));
        checks.push(self.reads_change_nothing(&seen, &state_before, &state_after));
        checks.push(self.secrets(kit, output));
        checks.push(self.limits(kit));
        // A reason may quote a module's message; whatever secret it leaked
        // (one the host did not know to mask, say) stops here.
        let mask = Redactor::new().with(self.secret_settings(kit).into_iter().map(|(_, v)| v));
        for check in &mut checks {
            check.reason = mask.redact(&check.reason);
        }
        checks
    }

    fn info_settings(&self) -> Check {
        let mut problems = Vec::new();
        for spec in &self.info.settings {
            if spec.kind != SettingKind::Secret
                && (looks_secret(&spec.name) || looks_secret(&spec.label))
            {
                problems.push(format!(
                    "setting `{}` ({}) names a secret but is declared `{}`, not `secret`",
                    spec.name,
                    spec.label,
                    provisioning_host::setting_kind_name(spec.kind)
                ));
            }
            if let Some(default) = &spec.default {
                let fits = match spec.kind {
                    SettingKind::Number => default.trim().parse::<f64>().is_ok(),
                    SettingKind::Boolean => default == "true" || default == "false",
                    SettingKind::Choice => spec.choices.contains(default),
                    SettingKind::Text | SettingKind::Secret => true,
                };
                if !fits {
                    problems.push(format!(
                        "setting `{}` defaults to `{default}`, which is not a {}",
                        spec.name,
                        provisioning_host::setting_kind_name(spec.kind)
                    ));
                }
            }
        }
        let secrets = self
            .info
            .settings
            .iter()
            .filter(|s| s.kind == SettingKind::Secret)
            .count();
        Check::from_problems(
            "info-settings",
            &problems,
            format!(
                "{} settings, each with a kind; {secrets} secret, none left unmarked",
                self.info.settings.len()
            ),
        )
    }

    fn info_outbound_hosts(&self) -> Check {
        let problems: Vec<String> = self
            .info
            .outbound_hosts
            .iter()
            .filter_map(|host| {
                Origin::parse(host)
                    .err()
                    .map(|e| format!("outbound host `{host}`: {e:#}"))
            })
            .collect();
        Check::from_problems(
            "info-outbound-hosts",
            &problems,
            format!(
                "{} declared origins parse as scheme://host[:port]",
                self.info.outbound_hosts.len()
            ),
        )
    }

    /// create-account, then the same create again: the second must answer
    /// the same account or be refused, and the provider must not count one
    /// more account.
    async fn create_and_retry(
        &mut self,
        service: &mut Service,
        lifecycle: &mut Lifecycle,
    ) -> Check {
        const NAME: &str = "create-retry";
        let first = self
            .healthy(Request::CreateAccount {
                service: service.clone(),
            })
            .await;
        let created = match first {
            Ok(Response::Created(created)) => created,
            other => {
                let why = format!("create-account answered {}", describe(&other));
                lifecycle.create_failed = Some(why.clone());
                return Check::skip(NAME, format!("{why}: nothing to retry"));
            }
        };
        lifecycle.done.push("create-account");
        let count_before = self.accounts().await;
        let retry = self
            .healthy(Request::CreateAccount {
                service: service.clone(),
            })
            .await;
        let count_after = self.accounts().await;
        service.remote_id = Some(created.remote_id.clone());
        let mut problems = Vec::new();
        let answered = match &retry {
            Ok(Response::Created(again)) if again.already_existed => {
                if again.remote_id != created.remote_id {
                    problems.push(format!(
                        "the retry answered already-existed with remote id `{}`, the first `{}`",
                        again.remote_id, created.remote_id
                    ));
                }
                "already-existed with the same remote id".to_owned()
            }
            Ok(Response::Created(again)) => {
                problems.push(format!(
                    "the retry answered a new account (remote id `{}`, already-existed false): a second account",
                    again.remote_id
                ));
                String::new()
            }
            Err(CallError::Module { error, .. }) => match error {
                ModuleError::AlreadyExists(_) => "refused: already-exists".to_owned(),
                other => format!(
                    "refused: {} ({}; already-exists would say why)",
                    error_kind(other),
                    quote(error_message(other))
                ),
            },
            other => {
                problems.push(format!("the retry answered {}", describe(other)));
                String::new()
            }
        };
        if let (Some(Ok(before)), Some(Ok(after))) = (&count_before, &count_after)
            && after.len() > before.len()
        {
            problems.push(format!(
                "list-accounts lists {} accounts after the retry, {} before it: a second account",
                after.len(),
                before.len()
            ));
        }
        let counted = match (&count_before, &count_after) {
            (Some(Ok(_)), Some(Ok(after))) => {
                format!("; list-accounts still lists {}", after.len())
            }
            _ => String::new(),
        };
        Check::from_problems(NAME, &problems, format!("{answered}{counted}"))
    }

    /// Suspend, unsuspend, change-*, terminate, each the module declares.
    async fn rest_of_lifecycle(
        &mut self,
        service: &mut Service,
        extras: &Extras,
        lifecycle: &mut Lifecycle,
    ) {
        for function in LIFECYCLE {
            if !self.declares(*function) {
                continue;
            }
            if *function == Function::ChangePackage && extras.new_package.is_empty() {
                lifecycle
                    .not_run
                    .push("change-package (no second package: give --new-package)".to_owned());
                continue;
            }
            let request = request_for(*function, service, extras);
            match self.healthy(request).await {
                Ok(Response::Done(_)) => {
                    lifecycle.done.push(function_name(*function));
                    match function {
                        Function::ChangePassword => {
                            service.password = Some(extras.new_password.clone());
                        }
                        Function::ChangePackage => {
                            service.package = Some(extras.new_package.clone());
                        }
                        Function::ChangeDomain => {
                            service.domain = Some(extras.new_domain.clone());
                        }
                        _ => {}
                    }
                }
                other => lifecycle.problems.push(format!(
                    "{} answered {}",
                    function_name(*function),
                    describe(&other)
                )),
            }
        }
    }

    /// Each fault of [`FAULTS`] against one read function.
    async fn faults(&mut self, service: &Service, extras: &Extras) -> Vec<Check> {
        let read = std::iter::once(Function::TestConnection)
            .chain(
                FUNCTIONS
                    .iter()
                    .filter(|(_, _, effect)| *effect == Effect::Read)
                    .map(|(function, _, _)| *function),
            )
            .find(|f| self.declares(*f));
        let mut checks = Vec::new();
        for spec in FAULTS {
            let name = format!("fault-{}", spec.name);
            let Some(read) = read else {
                checks.push(Check::skip(name, "the module declares no read function"));
                continue;
            };
            let index = self.calls.len();
            let result = self
                .call(
                    Phase::Fault,
                    Mode::Fault(spec.fault),
                    request_for(read, service, extras),
                )
                .await;
            let sent = self.shared.seen().iter().any(|s| s.call == index);
            checks.push(judge_fault(&name, spec, function_name(read), sent, &result));
        }
        checks
    }

    /// test-connection, when declared, succeeded against the healthy
    /// provider: the settings reach it, so the other checks test the module
    /// and not a wrong endpoint, key or certificate authority.
    fn connection(&self) -> Check {
        const NAME: &str = "connection";
        if !self.declares(Function::TestConnection) {
            return Check::skip(NAME, "the module declares no test-connection");
        }
        match self
            .calls_of(Function::TestConnection, Phase::Healthy)
            .next()
        {
            Some((_, Call { result: Ok(_), .. })) => {
                Check::pass(NAME, "test-connection succeeded against the provider")
            }
            Some((_, call)) => Check::fail(
                NAME,
                format!(
                    "test-connection answered {} against the healthy provider: check the \
                     endpoint and credentials (and --ca-file for a private CA); the other \
                     checks mean little until it succeeds",
                    describe(&call.result)
                ),
            ),
            None => Check::fail(NAME, "test-connection was not run"),
        }
    }

    fn functions_answer(&self, changes_allowed: bool) -> Check {
        let mut problems = Vec::new();
        let mut answered = Vec::new();
        let mut not_run = Vec::new();
        for function in &self.info.functions {
            let mut calls = self.calls_of(*function, Phase::Healthy).peekable();
            if calls.peek().is_none() {
                not_run.push(function_name(*function));
                continue;
            }
            if let Some((_, call)) = calls.find(|(_, c)| {
                matches!(
                    c.result,
                    Err(CallError::Module {
                        error: ModuleError::Unsupported(_),
                        ..
                    })
                )
            }) {
                problems.push(format!(
                    "{} is declared but answered {}",
                    function_name(*function),
                    describe(&call.result)
                ));
            } else {
                answered.push(function_name(*function));
            }
        }
        let mut reason = format!("{} declared functions answered", answered.len());
        if !not_run.is_empty() {
            let why = if changes_allowed {
                "not reached"
            } else {
                "they change things: --allow-changes runs them"
            };
            reason.push_str(&format!("; not run: {} ({why})", not_run.join(", ")));
        }
        Check::from_problems("info-functions-answer", &problems, reason)
    }

    fn undeclared_unsupported(&self, seen: &[Seen]) -> Check {
        let mut problems = Vec::new();
        let mut count = 0;
        for (index, call) in self.calls.iter().enumerate() {
            if call.phase != Phase::Blocked {
                continue;
            }
            count += 1;
            let name = function_name(call.function);
            if !matches!(
                call.result,
                Err(CallError::Module {
                    error: ModuleError::Unsupported(_),
                    ..
                })
            ) {
                problems.push(format!(
                    "{name} is not declared but answered {}",
                    describe(&call.result)
                ));
            }
            let sent = self.seen_in(seen, index);
            if let Some(first) = sent.first() {
                problems.push(format!(
                    "{name} is not declared but sent {} request(s) ({})",
                    sent.len(),
                    first.operation()
                ));
            }
        }
        Check::from_problems(
            "info-undeclared-unsupported",
            &problems,
            format!("{count} undeclared functions answered unsupported and sent nothing"),
        )
    }

    fn lifecycle_check(&self, changes_allowed: bool, lifecycle: &Lifecycle) -> Check {
        const NAME: &str = "lifecycle";
        let changing: Vec<&str> = self
            .info
            .functions
            .iter()
            .filter(|f| function_effect(**f) == Effect::Change)
            .map(|f| function_name(*f))
            .collect();
        if changing.is_empty() {
            return Check::skip(NAME, "the module declares no function that changes things");
        }
        if !changes_allowed {
            return Check::skip(
                NAME,
                format!(
                    "{} run only with --allow-changes (point the module at a test endpoint)",
                    changing.join(", ")
                ),
            );
        }
        let mut problems = lifecycle.problems.clone();
        if let Some(why) = &lifecycle.create_failed {
            problems.insert(0, format!("{why}; the rest of the lifecycle did not run"));
        }
        let mut reason = format!("in order: {}", lifecycle.done.join(", "));
        if !lifecycle.not_run.is_empty() {
            reason.push_str(&format!("; not run: {}", lifecycle.not_run.join(", ")));
        }
        Check::from_problems(NAME, &problems, reason)
    }

    fn reads_change_nothing(
        &self,
        seen: &[Seen],
        before: &[StateSeen],
        after: &[StateSeen],
    ) -> Check {
        // What each changing function asked the provider to do: its first
        // request (what follows may be its own reads, a status poll say).
        let mut changing: BTreeMap<String, &str> = BTreeMap::new();
        for (index, call) in self.calls.iter().enumerate() {
            if call.phase == Phase::Healthy
                && function_effect(call.function) == Effect::Change
                && let Some(first) = seen.iter().find(|s| s.call == index)
            {
                changing
                    .entry(first.operation())
                    .or_insert(function_name(call.function));
            }
        }
        let mut problems = Vec::new();
        let mut reads = 0;
        for (index, call) in self.calls.iter().enumerate() {
            if call.phase == Phase::Blocked || function_effect(call.function) == Effect::Change {
                continue;
            }
            for request in seen.iter().filter(|s| s.call == index) {
                reads += 1;
                let name = function_name(call.function);
                if CHANGING_METHODS.contains(&request.method.as_str()) {
                    problems.push(format!("{name} sent {}", request.operation()));
                } else if let Some(by) = changing.get(&request.operation()) {
                    problems.push(format!(
                        "{name} sent {}, the request {by} changes things with",
                        request.operation()
                    ));
                }
            }
        }
        problems.dedup();
        let mut compared = Vec::new();
        for (before, after) in before.iter().zip(after) {
            match (&before.lines, &after.lines) {
                (Ok(lines_before), Ok(lines_after)) => {
                    if lines_before == lines_after {
                        compared.push(before.read.to_owned());
                    } else {
                        problems.push(format!(
                            "{} answered otherwise after the reads than before them",
                            before.read
                        ));
                    }
                }
                (Err(why), _) | (_, Err(why)) => {
                    compared.push(format!("{} not compared (it answered {why})", before.read));
                }
            }
        }
        let state = if compared.is_empty() {
            "the provider's state not compared (no list-accounts, no service-status)".to_owned()
        } else {
            format!("the same before and after them: {}", compared.join(", "))
        };
        Check::from_problems(
            "reads-change-nothing",
            &problems,
            format!(
                "{reads} read requests, none a changing operation ({} seen); {state}",
                changing.len()
            ),
        )
    }

    /// The settings given whose values are secrets: those the module
    /// declares `secret`, and those whose name or label says they are
    /// (declared or not), by name.
    fn secret_settings<'k>(&self, kit: &'k Kit) -> Vec<(&'k str, &'k str)> {
        let secret_names: Vec<&str> = self
            .info
            .settings
            .iter()
            .filter(|s| {
                s.kind == SettingKind::Secret || looks_secret(&s.name) || looks_secret(&s.label)
            })
            .map(|s| s.name.as_str())
            .collect();
        kit.settings
            .iter()
            .filter(|(name, _)| secret_names.contains(&name.as_str()))
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect()
    }

    fn secrets(&self, kit: &Kit, output: Option<&GuestOutput>) -> Check {
        let secrets: Vec<(&str, Redactor)> = self
            .secret_settings(kit)
            .into_iter()
            .map(|(name, value)| (name, Redactor::new().with([value])))
            .collect();
        let mut problems = Vec::new();
        let mut texts: Vec<(String, String)> = self
            .calls
            .iter()
            .map(|call| {
                let (what, text) = match &call.result {
                    Ok(response) => (
                        "answer",
                        serde_json::to_string(response).unwrap_or_default(),
                    ),
                    Err(error) => ("error", error.to_string()),
                };
                (format!("{}'s {what}", function_name(call.function)), text)
            })
            .collect();
        let lines = output.map(GuestOutput::lines).unwrap_or_default();
        texts.extend(
            lines
                .into_iter()
                .map(|line| ("the module's output".to_owned(), line)),
        );
        for (place, text) in &texts {
            for (name, redactor) in &secrets {
                if redactor.redact(text) != *text {
                    problems.push(format!("{place} holds secret setting `{name}`"));
                }
            }
            if text.contains(MASK) {
                problems.push(format!("{place} held a secret (the host masked it)"));
            }
        }
        problems.dedup();
        let searched = if output.is_some() {
            "answers, errors and the module's output"
        } else {
            "answers and errors (the module's output not searched)"
        };
        Check::from_problems(
            "secrets",
            &problems,
            format!(
                "no secret setting ({}) in {} of {} calls",
                if secrets.is_empty() {
                    "none given".to_owned()
                } else {
                    secrets
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                searched,
                self.calls.len()
            ),
        )
    }

    fn limits(&self, kit: &Kit) -> Check {
        let mut problems = Vec::new();
        let mut peak = 0;
        let mut healthy = 0;
        for call in &self.calls {
            if call.phase != Phase::Healthy {
                continue;
            }
            healthy += 1;
            peak = peak.max(call.memory_peak.unwrap_or(0));
            if let Err(error) = &call.result
                && OUT_OF_BOUNDS.contains(&error.kind())
            {
                problems.push(format!(
                    "{} answered {}",
                    function_name(call.function),
                    describe(&call.result)
                ));
            }
        }
        problems.dedup();
        Check::from_problems(
            "limits",
            &problems,
            format!(
                "{healthy} calls within {} MiB (peak {:.1} MiB) and {} s each",
                kit.memory_bytes >> 20,
                peak as f64 / f64::from(1 << 20),
                kit.deadline.as_secs_f64()
            ),
        )
    }
}

/// One read of the provider's state, as lines to compare.
struct StateSeen {
    read: &'static str,
    lines: Result<Vec<String>, String>,
}

/// What the lifecycle did.
#[derive(Default)]
struct Lifecycle {
    done: Vec<&'static str>,
    problems: Vec<String>,
    not_run: Vec<String>,
    /// Why the first create-account failed, when it did.
    create_failed: Option<String>,
}

/// Whether the module's answer to a fault is one the fault's spec accepts.
fn judge_fault(
    name: &str,
    spec: &FaultSpec,
    function: &str,
    sent: bool,
    result: &Result<Response, CallError>,
) -> Check {
    let accepted = spec.accepted.join(" or ");
    if !sent {
        return Check::fail(
            name,
            format!(
                "{function} sent no request, so never met {} (it answered {})",
                spec.answer,
                describe(result)
            ),
        );
    }
    let Err(error) = result else {
        return Check::fail(
            name,
            format!("{function} answered a success to {}", spec.answer),
        );
    };
    let kind = error.kind();
    if error.module_error().is_none() || !spec.accepted.contains(&kind) {
        return Check::fail(
            name,
            format!(
                "{function} answered {} to {}; expected {accepted}",
                describe(result),
                spec.answer
            ),
        );
    }
    if let Some(ModuleError::RateLimited(limit)) = error.module_error()
        && limit.retry_after_seconds != Some(RETRY_AFTER_SECONDS)
    {
        return Check::fail(
            name,
            format!(
                "{function} answered rate-limited with retry-after {:?}, not the provider's {RETRY_AFTER_SECONDS}",
                limit.retry_after_seconds
            ),
        );
    }
    Check::pass(name, format!("{function}: {}", describe(result)))
}

/// A call's result in a reason: `ok`, or its kind and message, cut short.
fn describe(result: &Result<Response, CallError>) -> String {
    match result {
        Ok(_) => "ok (a success)".to_owned(),
        Err(CallError::Module { error, .. }) => {
            format!("{}: {}", error_kind(error), quote(error_message(error)))
        }
        Err(error) => {
            let text = error.to_string();
            // Every host error starts with the module's name, here always
            // the kit's.
            let text = text.strip_prefix(&format!("{MODULE}: ")).unwrap_or(&text);
            format!("{}: {}", error.kind(), quote(text))
        }
    }
}

/// `text` cut to [`MAX_QUOTE`] characters.
fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTE) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Whether a setting's name or label says it holds a secret: one of its
/// words is, or ends in, one of [`SECRET_WORDS`] (`api-key`, `apikey`,
/// `API token`).
fn looks_secret(text: &str) -> bool {
    text.to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| SECRET_WORDS.iter().any(|secret| word.ends_with(secret)))
}

/// The accounts as comparable lines, in a stable order.
fn account_lines(accounts: &[ListedAccount]) -> Vec<String> {
    let mut lines: Vec<String> = accounts
        .iter()
        .map(|a| {
            format!(
                "{}|{:?}|{:?}|{:?}|{:?}|{}|{:?}",
                a.remote_id,
                a.domain,
                a.username,
                a.email,
                a.package,
                provisioning_host::service_state_name(a.state),
                a.created
            )
        })
        .collect();
    lines.sort();
    lines
}

/// The request of `function` on `service`.
fn request_for(function: Function, service: &Service, extras: &Extras) -> Request {
    let service = service.clone();
    match function {
        Function::TestConnection => Request::TestConnection,
        Function::CreateAccount => Request::CreateAccount { service },
        Function::Suspend => Request::Suspend {
            service,
            reason: Some("conformance kit".to_owned()),
        },
        Function::Unsuspend => Request::Unsuspend { service },
        Function::Terminate => Request::Terminate { service },
        Function::ChangePassword => Request::ChangePassword {
            service,
            new_password: extras.new_password.clone(),
        },
        Function::ChangePackage => Request::ChangePackage {
            service,
            new_package: extras.new_package.clone(),
        },
        Function::ChangeDomain => Request::ChangeDomain {
            service,
            new_domain: extras.new_domain.clone(),
        },
        Function::UsageData => Request::UsageData { service },
        Function::ListPackages => Request::ListPackages,
        Function::SingleSignOn => Request::SingleSignOn { service, app: None },
        Function::ServiceStatus => Request::ServiceStatus { service },
        Function::ListAccounts => Request::ListAccounts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_setting_has_its_origin_and_nothing_else_does() {
        assert_eq!(
            url_origin("https://api.example.com/v1/x?y=1"),
            Some("https://api.example.com")
        );
        assert_eq!(
            url_origin("http://127.0.0.1:8080"),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(url_origin("HTTP://a.test?x"), Some("HTTP://a.test"));
        assert_eq!(url_origin("ftp://a.test/"), None);
        assert_eq!(url_origin("hunter2"), None);
        assert_eq!(url_origin("http://"), None);
    }

    #[test]
    fn names_and_labels_of_secrets_are_recognised() {
        for secret in [
            "api-key",
            "API key",
            "apikey",
            "password",
            "Access token",
            "client_secret",
        ] {
            assert!(looks_secret(secret), "{secret}");
        }
        for plain in ["endpoint", "Reseller ID", "uid", "order-id", "keyboard"] {
            assert!(!looks_secret(plain), "{plain}");
        }
    }
}
