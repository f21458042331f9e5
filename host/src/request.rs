//! One call of a module as Rust sees it: the function with its arguments
//! ([`Request`]), the answer ([`Response`]), and the one table of the
//! contract's functions ([`FUNCTIONS`]). How a call fails is in
//! [`crate::error`].

use serde::{Deserialize, Serialize};

use anyhow::Context as _;
use wasmtime::AsContextMut;
use wasmtime::component::{
    Component, ComponentExportIndex, ComponentNamedList, Instance, Lift, Lower,
};

use crate::bindings::types::{
    ConnectionStatus, CreatedAccount, Credential, Error as ModuleError, Function, ListedAccount,
    Outcome, Package, Service, ServiceState, Setting, SettingKind, SettingScope, StatusReport,
    Usage,
};
use crate::wire::{self, Contract};

/// The one table of the contract's functions. Each line gives a function's
/// `Request` variant (named as the WIT's `Function` case), its WIT name, its
/// [`Effect`], its arguments after the settings (the service first, when it
/// takes one, then the rest with how each is passed to the export) and the
/// [`Response`] case of its answer. The export is the function's WIT name
/// in the module interface; its argument and answer types follow from
/// these.
///
/// From it come [`Request`] and its `function`, `service` and
/// `service_mut`, [`FUNCTIONS`] and the call of the export
/// (`call_export`): adding a function to the WIT means one line here.
macro_rules! contract_functions {
    (@some) => { None };
    (@some $service:ident) => { Some($service) };
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $name:literal, $effect:ident -> $answer:ident
        $({
            $(#[doc = $service_doc:literal])*
            $service:ident
            $(, $(#[$field_meta:meta])* $field:ident: $field_type:ty => $argument:expr)*
            $(,)?
        })?;
    )*) => {
        /// A function of the contract with its arguments (the call's
        /// settings travel separately, see [`crate::Host::call_with`]).
        ///
        /// In JSON: `{"function": "suspend", "service": {...}, "reason":
        /// "unpaid"}`. What the contract makes optional may be left out: a
        /// service's `option` fields and its `custom_fields` (empty),
        /// `reason` and `app`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(tag = "function", rename_all = "kebab-case")]
        pub enum Request {
            $(
                $(#[doc = $doc])*
                $variant $({
                    $(#[doc = $service_doc])*
                    #[serde(with = "crate::wire::as_json")]
                    $service: Service,
                    $($(#[$field_meta])* $field: $field_type,)*
                })?,
            )*
        }

        impl Request {
            /// The contract function this request calls.
            pub fn function(&self) -> Function {
                match self {
                    $(Request::$variant { .. } => Function::$variant,)*
                }
            }

            /// The service the request acts on, if any.
            pub fn service(&self) -> Option<&Service> {
                match self {
                    $(Request::$variant $({ $service, .. })? => {
                        contract_functions!(@some $($service)?)
                    })*
                }
            }

            /// The service the request acts on, to fill in what the
            /// platform has learnt since (the provider's remote id, say).
            pub fn service_mut(&mut self) -> Option<&mut Service> {
                match self {
                    $(Request::$variant $({ $service, .. })? => {
                        contract_functions!(@some $($service)?)
                    })*
                }
            }
        }

        /// Every function of the contract with its (kebab-case) name and
        /// its effect.
        pub const FUNCTIONS: &[(Function, &str, Effect)] = &[
            $((Function::$variant, $name, Effect::$effect),)*
        ];

        /// Calls the export a request names on an instance of a module,
        /// the settings first, then the request's arguments in the
        /// table's order. Only the called function is looked up and
        /// type-checked: the generated bindings' `Provider` checks every
        /// export on every instance, about 7% of a call's instructions.
        pub(crate) async fn call_export<S>(
            instance: &Instance,
            exports: &ExportIndices,
            mut store: S,
            settings: &[Setting],
            request: &Request,
        ) -> wasmtime::Result<Result<Response, ModuleError>>
        where
            S: AsContextMut<Data: Send>,
        {
            let index = exports.get(request.function());
            Ok(match request {
                $(Request::$variant $({ $service, $($field,)* })? => call_typed(
                    instance,
                    &mut store,
                    index,
                    (settings, $($service, $($argument,)*)?),
                )
                .await?
                .map(Response::$answer),)*
            })
        }
    };
}

contract_functions! {
    /// Checks the settings reach and authenticate with the provider.
    TestConnection = "test-connection", Read -> Connection;
    /// Creates the service.
    CreateAccount = "create-account", Change -> Created {
        /// The service to create.
        service
    };
    /// Suspends the service.
    Suspend = "suspend", Change -> Done {
        /// The service.
        service,
        /// The platform's reason, when it has one.
        #[serde(default)]
        reason: Option<String> => reason.as_deref(),
    };
    /// Lifts a suspension.
    Unsuspend = "unsuspend", Change -> Done {
        /// The service.
        service
    };
    /// Removes the service for good.
    Terminate = "terminate", Change -> Done {
        /// The service.
        service
    };
    /// Sets a new password.
    ChangePassword = "change-password", Change -> Done {
        /// The service (its `password` is the old one, when known).
        service,
        /// The new password.
        new_password: String => new_password,
    };
    /// Moves the service to another package.
    ChangePackage = "change-package", Change -> Done {
        /// The service.
        service,
        /// The provider's id of the new package.
        new_package: String => new_package,
    };
    /// Moves the service to another domain.
    ChangeDomain = "change-domain", Change -> Done {
        /// The service (its `domain` is the current one).
        service,
        /// The new domain.
        new_domain: String => new_domain,
    };
    /// Reads resource usage.
    UsageData = "usage-data", Read -> Usage {
        /// The service.
        service
    };
    /// Lists the packages on offer.
    ListPackages = "list-packages", Read -> Packages;
    /// Makes a control-panel login URL. Not repeated by the host: each
    /// call may mint a one-time login.
    SingleSignOn = "single-sign-on", OneTimeRead -> SignOn {
        /// The service.
        service,
        /// The control-panel application to open, if any.
        #[serde(default)]
        app: Option<String> => app.as_deref(),
    };
    /// Reads where the service stands.
    ServiceStatus = "service-status", Read -> Status {
        /// The service.
        service
    };
    /// Lists the accounts the provider has for the reseller.
    ListAccounts = "list-accounts", Read -> Accounts;
}

impl Request {
    /// Whether the request changes something at the provider. Mutating
    /// calls are journaled and never retried by the host.
    pub fn is_mutating(&self) -> bool {
        function_effect(self.function()) == Effect::Change
    }

    /// Whether the request only reads, so that repeating it after a
    /// transient failure cannot change anything. Single sign-on is left
    /// out: each call may mint a one-time login.
    pub fn is_safe_to_repeat(&self) -> bool {
        function_effect(self.function()) == Effect::Read
    }

    /// Secret values the request carries (passwords), for the redactor.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        let mut secrets: Vec<&str> = self
            .service()
            .and_then(|s| s.password.as_deref())
            .into_iter()
            .collect();
        if let Request::ChangePassword { new_password, .. } = self {
            secrets.push(new_password);
        }
        secrets
    }
}

/// The successful answer of a call, one case per kind of result. In JSON
/// (and as an OpenAPI schema) it is [`crate::wire::Response`]: `{"kind":
/// "status", "value": {"state": "active", ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "crate::wire::Response", from = "crate::wire::Response")]
pub enum Response {
    /// From test-connection.
    Connection(ConnectionStatus),
    /// From create-account.
    Created(CreatedAccount),
    /// From suspend, unsuspend, terminate, change-password, change-package,
    /// change-domain.
    Done(Outcome),
    /// From usage-data.
    Usage(Usage),
    /// From list-packages.
    Packages(Vec<Package>),
    /// From single-sign-on: the login URL.
    SignOn(String),
    /// From service-status.
    Status(StatusReport),
    /// From list-accounts.
    Accounts(Vec<ListedAccount>),
}

impl Response {
    /// The credentials the answer hands over (generated passwords, license
    /// keys), which the provider may show only once.
    pub fn credentials(&self) -> &[Credential] {
        match self {
            Response::Created(created) => &created.credentials,
            Response::Done(outcome) => &outcome.credentials,
            _ => &[],
        }
    }

    /// The credentials, to fill in or mask.
    pub(crate) fn credentials_mut(&mut self) -> Option<&mut Vec<Credential>> {
        match self {
            Response::Created(created) => Some(&mut created.credentials),
            Response::Done(outcome) => Some(&mut outcome.credentials),
            _ => None,
        }
    }
}

/// An answer's JSON form, converted case by case both ways (matched
/// exhaustively: a new case breaks the build here).
macro_rules! response_json {
    ($($case:ident),* $(,)?) => {
        impl Contract for Response {
            type Json = wire::Response;
            fn into_json(self) -> wire::Response {
                match self {
                    $(Response::$case(value) => wire::Response::$case(value.into_json()),)*
                }
            }
            fn from_json(json: wire::Response) -> Response {
                match json {
                    $(wire::Response::$case(value) => Response::$case(Contract::from_json(value)),)*
                }
            }
        }
    };
}

response_json!(
    Connection, Created, Done, Usage, Packages, SignOn, Status, Accounts
);

impl From<Response> for wire::Response {
    fn from(response: Response) -> wire::Response {
        response.into_json()
    }
}

impl From<wire::Response> for Response {
    fn from(json: wire::Response) -> Response {
        Response::from_json(json)
    }
}

wire::schema_of_json!(Response);

/// What calling a function does at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Only reads: repeating it after a transient failure changes nothing,
    /// so the host may try it again.
    Read,
    /// Reads, but may mint something each time (a one-time login): not
    /// journaled, never repeated by the host.
    OneTimeRead,
    /// Changes something at the provider: journaled, never repeated by the
    /// host.
    Change,
}

/// Where each function of the contract sits among a component's exports,
/// found once at load so that a call looks up only the one it makes.
pub(crate) struct ExportIndices(Vec<(Function, ComponentExportIndex)>);

impl ExportIndices {
    /// The index of every function of [`FUNCTIONS`] in `component`'s
    /// `billing:provisioning/module` export (whatever its version).
    pub(crate) fn find(component: &Component) -> anyhow::Result<ExportIndices> {
        let engine = component.engine();
        let interface = component
            .component_type()
            .exports(engine)
            .map(|(name, _)| name.to_owned())
            .find(|name| name.starts_with(MODULE_INTERFACE))
            .with_context(|| format!("the component does not export {MODULE_INTERFACE}"))?;
        let (_, interface_index) = component
            .get_export(None, &interface)
            .with_context(|| format!("the component does not export {interface}"))?;
        FUNCTIONS
            .iter()
            .map(|(function, name, _)| {
                let (_, index) = component
                    .get_export(Some(&interface_index), name)
                    .with_context(|| format!("{interface} has no function `{name}`"))?;
                Ok((*function, index))
            })
            .collect::<anyhow::Result<_>>()
            .map(ExportIndices)
    }

    fn get(&self, function: Function) -> &ComponentExportIndex {
        self.0
            .iter()
            .find_map(|(f, index)| (*f == function).then_some(index))
            .expect("find gives every function of FUNCTIONS an index")
    }
}

/// The contract's interface a provider component exports, without its
/// version.
const MODULE_INTERFACE: &str = "billing:provisioning/module@";

/// Calls the export at `index` with `params`; its one result is the
/// module's answer or its typed error.
async fn call_typed<P, T>(
    instance: &Instance,
    mut store: impl AsContextMut<Data: Send>,
    index: &ComponentExportIndex,
    params: P,
) -> wasmtime::Result<Result<T, ModuleError>>
where
    P: ComponentNamedList + Lower + Send + Sync,
    (Result<T, ModuleError>,): ComponentNamedList + Lift + Send + Sync + 'static,
{
    // Cannot fail on a loaded module: `ProviderPre::new` checked every
    // export's type at load.
    let func = instance.get_typed_func::<P, (Result<T, ModuleError>,)>(&mut store, index)?;
    let (answer,) = func.call_async(&mut store, params).await?;
    Ok(answer)
}

fn function_entry(function: Function) -> &'static (Function, &'static str, Effect) {
    FUNCTIONS
        .iter()
        .find(|(f, _, _)| *f == function)
        .expect("FUNCTIONS lists every function of the contract (tested)")
}

/// The contract's (kebab-case) name of a function, e.g. `create-account`.
pub fn function_name(function: Function) -> &'static str {
    function_entry(function).1
}

/// What calling a function does at the provider.
pub fn function_effect(function: Function) -> Effect {
    function_entry(function).2
}

/// The contract's name of a setting's kind: `text`, `secret`, `number`,
/// `boolean` or `choice`.
pub fn setting_kind_name(kind: SettingKind) -> &'static str {
    match kind {
        SettingKind::Text => "text",
        SettingKind::Secret => "secret",
        SettingKind::Number => "number",
        SettingKind::Boolean => "boolean",
        SettingKind::Choice => "choice",
    }
}

/// The contract's name of a setting's scope: `server` or `product`.
pub fn setting_scope_name(scope: SettingScope) -> &'static str {
    match scope {
        SettingScope::Server => "server",
        SettingScope::Product => "product",
    }
}

/// The contract's name of a service's state: `pending`, `active`,
/// `suspended`, `terminated`, `failed` or `unknown`.
pub fn service_state_name(state: ServiceState) -> &'static str {
    match state {
        ServiceState::Pending => "pending",
        ServiceState::Active => "active",
        ServiceState::Suspended => "suspended",
        ServiceState::Terminated => "terminated",
        ServiceState::Failed => "failed",
        ServiceState::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_table_lists_every_function_once_with_its_wit_name() {
        // Every name appears in the contract as a function of the module
        // interface, and every function there appears here once.
        let wit = include_str!("../../wit/provisioning.wit");
        for (function, name, _) in FUNCTIONS {
            assert!(
                wit.contains(&format!("    {name}: func(")),
                "{name} is not in the WIT"
            );
            assert_eq!(
                FUNCTIONS.iter().filter(|(f, _, _)| f == function).count(),
                1,
                "{name} is listed once"
            );
        }
        let in_wit = wit
            .lines()
            .filter(|line| line.starts_with("    ") && line.contains(": func("))
            .filter(|line| !line.trim_start().starts_with("info:"))
            .count();
        assert_eq!(
            in_wit,
            FUNCTIONS.len(),
            "every function of the WIT is in the table"
        );
        assert!(Request::ListPackages.is_safe_to_repeat());
        assert!(!Request::ListPackages.is_mutating());
        assert!(Request::ListAccounts.is_safe_to_repeat());
        assert!(!Request::ListAccounts.is_mutating());
    }
}
