//! The contract's records as JSON: the one place where a record, enum or
//! variant of `wit/provisioning.wit` gets its JSON form, for every wire
//! (serve's API, `--json` output, usage lines, the journal's API; what the
//! journal stores is its own frozen format).
//!
//! Every enum and variant case is the WIT's own kebab-case word (`active`,
//! `create-account`, `unlimited`, `{"value": 5000.0}`); record fields keep
//! their snake_case Rust names (`remote_id`, `custom_fields`), which every
//! adapter sends. The types here mirror the generated ones of
//! [`crate::types`] field by field; [`Contract`] converts both ways, each
//! record destructured whole, so that a change of the WIT breaks the build
//! here instead of changing the JSON silently. Each type also describes
//! itself as an OpenAPI schema ([`utoipa::ToSchema`]), its doc comments
//! (the WIT's) as the descriptions.
//!
//! A type of the host holding a contract record serializes it through here
//! with `#[serde(with = "crate::wire::as_json")]`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::bindings::types;

/// A contract type with a JSON form in this module: converts to it and back
/// without loss.
pub trait Contract: Sized {
    /// The JSON form.
    type Json;
    /// The JSON form of this value.
    fn into_json(self) -> Self::Json;
    /// The value of a JSON form.
    fn from_json(json: Self::Json) -> Self;
}

/// Serializes a contract type through its JSON form, for
/// `#[serde(with = "provisioning_host::wire::as_json")]` on a field of a
/// contract type (or a list or option of them).
pub mod as_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Contract;

    /// Serializes `value` as its JSON form.
    pub fn serialize<T, S>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Contract + Clone,
        T::Json: Serialize,
        S: Serializer,
    {
        value.clone().into_json().serialize(serializer)
    }

    /// Reads a value from its JSON form.
    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
    where
        T: Contract,
        T::Json: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        T::Json::deserialize(deserializer).map(T::from_json)
    }
}

/// Types whose JSON form is themselves.
macro_rules! as_is {
    ($($type:ty),*) => {$(
        impl Contract for $type {
            type Json = $type;
            fn into_json(self) -> $type {
                self
            }
            fn from_json(json: $type) -> $type {
                json
            }
        }
    )*};
}

as_is!(String, bool, f64, u32, (String, String));

impl<T: Contract> Contract for Vec<T> {
    type Json = Vec<T::Json>;
    fn into_json(self) -> Self::Json {
        self.into_iter().map(T::into_json).collect()
    }
    fn from_json(json: Self::Json) -> Self {
        json.into_iter().map(T::from_json).collect()
    }
}

impl<T: Contract> Contract for Option<T> {
    type Json = Option<T::Json>;
    fn into_json(self) -> Self::Json {
        self.map(T::into_json)
    }
    fn from_json(json: Self::Json) -> Self {
        json.map(T::from_json)
    }
}

/// The conversions of records: each field converted, the record
/// destructured whole both ways (a field added to or gone from the WIT
/// fails to build here).
macro_rules! records {
    ($($record:ident { $($field:ident),* $(,)? })*) => {$(
        impl Contract for types::$record {
            type Json = $record;
            fn into_json(self) -> $record {
                let types::$record { $($field),* } = self;
                $record { $($field: $field.into_json()),* }
            }
            fn from_json(json: $record) -> types::$record {
                let $record { $($field),* } = json;
                types::$record { $($field: Contract::from_json($field)),* }
            }
        }
    )*};
}

/// The conversions of enums: case by case, both ways, matched
/// exhaustively.
macro_rules! enums {
    ($($enum:ident { $($case:ident),* $(,)? })*) => {$(
        impl Contract for types::$enum {
            type Json = $enum;
            fn into_json(self) -> $enum {
                match self {
                    $(types::$enum::$case => $enum::$case,)*
                }
            }
            fn from_json(json: $enum) -> types::$enum {
                match json {
                    $($enum::$case => types::$enum::$case,)*
                }
            }
        }
    )*};
}

/// One of the functions a module may support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Function {
    /// `test-connection`.
    TestConnection,
    /// `create-account`.
    CreateAccount,
    /// `suspend`.
    Suspend,
    /// `unsuspend`.
    Unsuspend,
    /// `terminate`.
    Terminate,
    /// `change-password`.
    ChangePassword,
    /// `change-package`.
    ChangePackage,
    /// `change-domain`.
    ChangeDomain,
    /// `usage-data`.
    UsageData,
    /// `list-packages`.
    ListPackages,
    /// `single-sign-on`.
    SingleSignOn,
    /// `service-status`.
    ServiceStatus,
    /// `list-accounts`.
    ListAccounts,
}

/// How a setting is entered and kept by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SettingKind {
    /// Free text.
    Text,
    /// Text that must never be logged, echoed or stored in clear (API keys,
    /// passwords).
    Secret,
    /// A decimal number.
    Number,
    /// "true" or "false".
    Boolean,
    /// One of the `choices` of the setting.
    Choice,
}

/// Where a setting belongs on a billing platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SettingScope {
    /// Set once per provider account (endpoint, credentials).
    Server,
    /// Set per product sold (plan, order, options).
    Product,
}

/// A setting the module needs, as the platform should ask for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SettingSpec {
    /// Key used in the `settings` list of every call.
    pub name: String,
    /// Label shown to the operator.
    pub label: String,
    /// How the setting is entered and kept.
    pub kind: SettingKind,
    /// Where the setting belongs.
    pub scope: SettingScope,
    /// Whether the setting must be given.
    pub required: bool,
    /// Value used when the setting is absent.
    pub default: Option<String>,
    /// One line of help for the operator.
    pub help: String,
    /// Allowed values when `kind` is `choice`.
    pub choices: Vec<String>,
}

/// What a module is and what it can do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModuleInfo {
    /// Stable identifier, e.g. "hostmenow".
    pub id: String,
    /// Human name, e.g. "HostMeNow Products Reseller".
    pub name: String,
    /// The module's own version (semver).
    pub version: String,
    /// Functions this module supports; every other function answers
    /// `unsupported`.
    pub functions: Vec<Function>,
    /// The settings the module needs.
    pub settings: Vec<SettingSpec>,
    /// Origins the module talks to by default, as `scheme://host[:port]`.
    /// The operator's allow-list in the host decides what is reachable.
    pub outbound_hosts: Vec<String>,
}

/// A setting's value for one call: `name` matches a `setting-spec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Setting {
    /// The setting's name.
    pub name: String,
    /// Its value, as text.
    pub value: String,
}

/// The billing client who owns a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company name.
    pub company: Option<String>,
    /// Email address.
    pub email: String,
    /// Phone number.
    pub phone: Option<String>,
    /// Street address.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or region.
    pub state: Option<String>,
    /// Postal code.
    pub postcode: Option<String>,
    /// ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
    /// ISO 639-1 code.
    pub language: Option<String>,
}

/// The service a call acts on, as the billing platform knows it. What the
/// contract makes optional may be left out: every `option` field and
/// `custom_fields` (empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Service {
    /// The platform's own id for the service.
    pub service_id: String,
    /// The provider's id for it, once known (license key, order id...).
    pub remote_id: Option<String>,
    /// The service's domain.
    pub domain: Option<String>,
    /// The service's login name.
    pub username: Option<String>,
    /// The service's password.
    pub password: Option<String>,
    /// The provider's package/product id.
    pub package: Option<String>,
    /// monthly, quarterly, semiannually, annually, biennially, triennially.
    pub billing_cycle: Option<String>,
    /// The billing client who owns the service.
    pub client: Option<Contact>,
    /// The platform's custom fields of the service, as name and value.
    #[serde(default)]
    pub custom_fields: Vec<(String, String)>,
}

/// A value the provider generated and may show only once (a password, a
/// username, a license key). The host keeps these out of logs and hands
/// them to the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Credential {
    /// What the value is ("password", "license_key"...).
    pub name: String,
    /// The value.
    pub value: String,
    /// Whether the value is secret (a password) or only one-time (a
    /// username).
    pub secret: bool,
}

/// The answer of a mutating function that succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Outcome {
    /// The provider's own words, for the platform's log.
    pub message: String,
    /// Values the provider generated during the call.
    pub credentials: Vec<Credential>,
}

/// The answer of create-account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedAccount {
    /// The provider's id for the new service.
    pub remote_id: String,
    /// True when the provider already had this service and the module
    /// returned it instead of creating a second one.
    pub already_existed: bool,
    /// State the provider reports right after creation.
    pub status: ServiceState,
    /// The provider's own words.
    pub message: String,
    /// Values the provider generated during the call.
    pub credentials: Vec<Credential>,
}

/// A resource limit: explicit about "no limit". In JSON `"unlimited"` or
/// `{"value": 5000.0}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// No limit.
    Unlimited,
    /// The limit, in the figure's unit.
    Value(f64),
}

impl Contract for types::Limit {
    type Json = Limit;
    fn into_json(self) -> Limit {
        match self {
            types::Limit::Unlimited => Limit::Unlimited,
            types::Limit::Value(value) => Limit::Value(value),
        }
    }
    fn from_json(json: Limit) -> types::Limit {
        match json {
            Limit::Unlimited => types::Limit::Unlimited,
            Limit::Value(value) => types::Limit::Value(value),
        }
    }
}

/// One usage figure, e.g. disk or bandwidth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageFigure {
    /// "disk", "bandwidth", ...
    pub name: String,
    /// "MB", "GB", "count", ...
    pub unit: String,
    /// How much is used, in `unit`.
    pub used: f64,
    /// The limit, in `unit`.
    pub limit: Limit,
}

/// The answer of usage-data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    /// The figures.
    pub figures: Vec<UsageFigure>,
    /// When the provider last measured, in its own format.
    pub updated_at: Option<String>,
}

/// A price of a package for one billing cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Price {
    /// The billing cycle (monthly, annually...).
    pub cycle: String,
    /// Decimal amount as the provider gives it.
    pub amount: String,
    /// The setup fee, as the provider gives it.
    pub setup_fee: Option<String>,
    /// The currency, as the provider names it.
    pub currency: Option<String>,
}

/// A package (product, plan) the provider sells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Package {
    /// The provider's id of the package.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Its prices, one per billing cycle.
    pub prices: Vec<Price>,
    /// Other facts the provider gives (disk, bandwidth...), as text.
    pub details: Vec<(String, String)>,
}

/// Where a service stands at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceState {
    /// Ordered, not running yet.
    Pending,
    /// Running.
    Active,
    /// Suspended.
    Suspended,
    /// Removed.
    Terminated,
    /// The provider failed to set it up.
    Failed,
    /// The provider's word for it is none of these.
    Unknown,
}

/// The answer of service-status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusReport {
    /// Where the service stands.
    pub state: ServiceState,
    /// Facts the provider gives (limits, server...), as text.
    pub details: Vec<(String, String)>,
}

/// One account (service) the provider has for the reseller, as
/// list-accounts answers it: what a billing platform needs to match it to a
/// service it knows or to import it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ListedAccount {
    /// The provider's id for the service: the same value create-account
    /// answers as `remote_id`.
    pub remote_id: String,
    /// The domain the service is bound to.
    pub domain: Option<String>,
    /// The service's login name at the provider.
    pub username: Option<String>,
    /// The client's email, when the provider's list gives it.
    pub email: Option<String>,
    /// The provider's package id, as list-packages gives it.
    pub package: Option<String>,
    /// Where the service stands.
    pub state: ServiceState,
    /// When the provider created the service: an RFC 3339 timestamp when
    /// the provider gives a time with its offset, else the date alone,
    /// `YYYY-MM-DD` (a time without a time zone is cut to its date).
    pub created: Option<String>,
}

/// The answer of test-connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConnectionStatus {
    /// The provider's own words.
    pub message: String,
    /// Facts the provider gives (account, balance...), as text.
    pub details: Vec<(String, String)>,
}

/// A rate limit the provider answered with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RateLimit {
    /// Seconds to wait, when the provider said (Retry-After).
    pub retry_after_seconds: Option<u32>,
    /// The provider's own words.
    pub message: String,
}

enums! {
    Function {
        TestConnection, CreateAccount, Suspend, Unsuspend, Terminate, ChangePassword,
        ChangePackage, ChangeDomain, UsageData, ListPackages, SingleSignOn, ServiceStatus,
        ListAccounts,
    }
    SettingKind { Text, Secret, Number, Boolean, Choice }
    SettingScope { Server, Product }
    ServiceState { Pending, Active, Suspended, Terminated, Failed, Unknown }
}

records! {
    SettingSpec { name, label, kind, scope, required, default, help, choices }
    ModuleInfo { id, name, version, functions, settings, outbound_hosts }
    Setting { name, value }
    Contact {
        first_name, last_name, company, email, phone, address, city, state, postcode, country,
        language,
    }
    Service {
        service_id, remote_id, domain, username, password, package, billing_cycle, client,
        custom_fields,
    }
    Credential { name, value, secret }
    Outcome { message, credentials }
    CreatedAccount { remote_id, already_existed, status, message, credentials }
    UsageFigure { name, unit, used, limit }
    Usage { figures, updated_at }
    Price { cycle, amount, setup_fee, currency }
    Package { id, name, description, prices, details }
    StatusReport { state, details }
    ListedAccount { remote_id, domain, username, email, package, state, created }
    ConnectionStatus { message, details }
    RateLimit { retry_after_seconds, message }
}

/// The successful answer of a call, one case per kind of result: in JSON
/// `{"kind": "status", "value": {"state": "active", ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
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

/// A contract type's OpenAPI schema is its JSON form's, under the same
/// name: a type of the host holding one (serialized through [`as_json`])
/// derives its own schema without naming the JSON form.
macro_rules! schema_of_json {
    ($($type:ty),* $(,)?) => {$(
        impl utoipa::PartialSchema for $type {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <<$type as $crate::wire::Contract>::Json as utoipa::PartialSchema>::schema()
            }
        }

        impl utoipa::ToSchema for $type {
            fn name() -> std::borrow::Cow<'static, str> {
                <<$type as $crate::wire::Contract>::Json as utoipa::ToSchema>::name()
            }
            fn schemas(
                schemas: &mut Vec<(
                    String,
                    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
                )>,
            ) {
                <<$type as $crate::wire::Contract>::Json as utoipa::ToSchema>::schemas(schemas)
            }
        }
    )*};
}

pub(crate) use schema_of_json;

schema_of_json!(
    types::Function,
    types::SettingKind,
    types::SettingScope,
    types::SettingSpec,
    types::ModuleInfo,
    types::Setting,
    types::Contact,
    types::Service,
    types::Credential,
    types::Outcome,
    types::CreatedAccount,
    types::Limit,
    types::UsageFigure,
    types::Usage,
    types::Price,
    types::Package,
    types::ServiceState,
    types::StatusReport,
    types::ListedAccount,
    types::ConnectionStatus,
    types::RateLimit,
);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::request;

    /// The cases of a WIT `enum` or `variant`, in order.
    fn wit_cases(kind: &str, name: &str) -> Vec<String> {
        let wit = include_str!("../../wit/provisioning.wit");
        let body = &wit[wit.find(&format!("{kind} {name} {{")).expect(name)..];
        let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
        body.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("//"))
            .map(|line| {
                line.trim_end_matches(',')
                    .split('(')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    /// The JSON word of each value.
    fn words<T: Serialize>(values: &[T]) -> Vec<String> {
        values
            .iter()
            .map(|value| match serde_json::to_value(value).unwrap() {
                serde_json::Value::String(word) => word,
                serde_json::Value::Object(case) => case.keys().next().unwrap().clone(),
                other => panic!("{other} is not a case"),
            })
            .collect()
    }

    #[test]
    fn every_enum_and_variant_case_is_the_wit_word() {
        use types::{Function as F, ServiceState as S, SettingKind as K, SettingScope as P};
        let functions = [
            F::TestConnection,
            F::CreateAccount,
            F::Suspend,
            F::Unsuspend,
            F::Terminate,
            F::ChangePassword,
            F::ChangePackage,
            F::ChangeDomain,
            F::UsageData,
            F::ListPackages,
            F::SingleSignOn,
            F::ServiceStatus,
            F::ListAccounts,
        ];
        assert_eq!(
            words(&functions.map(Contract::into_json)),
            wit_cases("enum", "function")
        );
        let kinds = [K::Text, K::Secret, K::Number, K::Boolean, K::Choice];
        assert_eq!(
            words(&kinds.map(Contract::into_json)),
            wit_cases("enum", "setting-kind")
        );
        let scopes = [P::Server, P::Product];
        assert_eq!(
            words(&scopes.map(Contract::into_json)),
            wit_cases("enum", "setting-scope")
        );
        let states = [
            S::Pending,
            S::Active,
            S::Suspended,
            S::Terminated,
            S::Failed,
            S::Unknown,
        ];
        assert_eq!(
            words(&states.map(Contract::into_json)),
            wit_cases("enum", "service-state")
        );
        let limits = [types::Limit::Unlimited, types::Limit::Value(1.0)];
        assert_eq!(
            words(&limits.map(Contract::into_json)),
            wit_cases("variant", "limit")
        );
        // The host's own names of the same cases say the same words.
        for state in states {
            assert_eq!(
                json!(crate::service_state_name(state)),
                json!(state.into_json())
            );
        }
        for kind in kinds {
            assert_eq!(
                json!(crate::setting_kind_name(kind)),
                json!(kind.into_json())
            );
        }
        for scope in scopes {
            assert_eq!(
                json!(crate::setting_scope_name(scope)),
                json!(scope.into_json())
            );
        }
        for function in functions {
            assert_eq!(
                json!(crate::function_name(function)),
                json!(function.into_json())
            );
        }
    }

    #[test]
    fn an_answer_says_the_contract_words_and_reads_back_only_from_them() {
        let status = request::Response::Status(types::StatusReport {
            state: types::ServiceState::Active,
            details: vec![("plan".into(), "basic".into())],
        });
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(
            json,
            json!({"kind": "status", "value": {"state": "active", "details": [["plan", "basic"]]}})
        );
        assert_eq!(
            serde_json::from_value::<request::Response>(json).unwrap(),
            status
        );
        let usage = request::Response::Usage(types::Usage {
            figures: vec![
                types::UsageFigure {
                    name: "disk".into(),
                    unit: "MB".into(),
                    used: 120.0,
                    limit: types::Limit::Value(5000.0),
                },
                types::UsageFigure {
                    name: "bandwidth".into(),
                    unit: "GB".into(),
                    used: 3.5,
                    limit: types::Limit::Unlimited,
                },
            ],
            updated_at: None,
        });
        let json = serde_json::to_value(&usage).unwrap();
        assert_eq!(
            json["value"]["figures"][0]["limit"],
            json!({"value": 5000.0})
        );
        assert_eq!(json["value"]["figures"][1]["limit"], json!("unlimited"));
        assert_eq!(
            serde_json::from_value::<request::Response>(json).unwrap(),
            usage
        );
        // Rust's names of the cases, as the JSON said before, are not read.
        let old = json!({"kind": "status", "value": {"state": "Active", "details": []}});
        assert!(serde_json::from_value::<request::Response>(old).is_err());
        let old = json!({"name": "disk", "unit": "MB", "used": 1.0, "limit": {"Value": 5.0}});
        assert!(serde_json::from_value::<UsageFigure>(old).is_err());
    }

    #[test]
    fn a_request_reads_a_service_without_what_the_contract_makes_optional() {
        let request: request::Request = serde_json::from_value(json!({
            "function": "create-account",
            "service": {"service_id": "42", "domain": "example.com"},
        }))
        .unwrap();
        let request::Request::CreateAccount { service } = &request else {
            panic!("{request:?}")
        };
        assert_eq!(service.service_id, "42");
        assert_eq!(service.domain.as_deref(), Some("example.com"));
        assert!(service.custom_fields.is_empty() && service.client.is_none());
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["function"], "create-account");
        assert_eq!(json["service"]["custom_fields"], json!([]));
        assert_eq!(
            serde_json::from_value::<request::Request>(json).unwrap(),
            request
        );
    }

    #[test]
    fn the_schemas_give_the_contract_words_and_the_wit_docs() {
        use utoipa::openapi::{ComponentsBuilder, OpenApiBuilder};
        let mut schemas = Vec::new();
        <request::Response as ToSchema>::schemas(&mut schemas);
        <request::Request as ToSchema>::schemas(&mut schemas);
        let components = ComponentsBuilder::new()
            .schemas_from_iter(schemas)
            .schema(
                <request::Response as ToSchema>::name(),
                <request::Response as utoipa::PartialSchema>::schema(),
            )
            .schema(
                <request::Request as ToSchema>::name(),
                <request::Request as utoipa::PartialSchema>::schema(),
            )
            .build();
        let document = OpenApiBuilder::new().components(Some(components)).build();
        let document = serde_json::to_value(&document).unwrap();
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            schemas["ServiceState"]["enum"],
            json!(wit_cases("enum", "service-state"))
        );
        assert_eq!(
            schemas["ServiceState"]["description"],
            "Where a service stands at the provider."
        );
        assert_eq!(
            schemas["ListedAccount"]["properties"]["remote_id"]["description"],
            "The provider's id for the service: the same value create-account\nanswers as `remote_id`."
        );
        let text = schemas.to_string();
        for name in ["StatusReport", "Usage", "Limit", "Service", "Contact"] {
            assert!(schemas.get(name).is_some(), "{name} is described: {text}");
        }
        for word in ["\"unlimited\"", "\"status\"", "\"create-account\""] {
            assert!(text.contains(word), "{word} is in the schemas: {text}");
        }
        assert!(!text.contains("\"Active\""), "{text}");
    }
}
