//! The API's OpenAPI document: its frame (title, servers, the bearer
//! scheme, the refusals several routes share) around what utoipa derives
//! from the routes' `path` attributes and the answer types.

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::error::ErrorBody;
use crate::{BodyLimits, api, observe, responses};

/// The document's frame: what the routes' own descriptions leave out.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Provisioning host, serve mode",
        description = "A billing platform's local API to the sandboxed provisioning modules: list the modules, call any function of any module, read and acknowledge the journal. Every request needs `Authorization: Bearer <token>`, except the operator's liveness, readiness and metrics routes, which show no secret and no service. A call that ran answers 200 with either `ok` (the function's answer) or `error` (the typed error); other 4xx answers, and 503 for a module that did not load (`module-not-ready`), mean the request itself was refused and nothing was called.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "http://127.0.0.1:8790")),
    security(("bearer" = [])),
    modifiers(&BearerScheme),
    components(
        schemas(ErrorBody),
        responses(
            responses::Unauthorized,
            responses::BadRequest,
            responses::NotFound,
            responses::JournalUnavailable,
            responses::NotReady,
            responses::TooLarge,
        )
    )
)]
struct Frame;

/// The `bearer` security scheme every route but the open ones requires.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        scheme.description = Some(
            "The token the operator gave `provisioning serve` (environment variable or file)."
                .into(),
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The API's version, `info.version` of the document: README's "API
/// changes" says what each changed.
pub const API_VERSION: &str = "0.2.0";

/// The API's OpenAPI 3.1 document, derived from the answer types and the
/// routes: what `openapi.json` holds.
pub fn openapi() -> utoipa::openapi::OpenApi {
    // The caps shape the router's layers only, not the document.
    let limits = BodyLimits {
        max_body_bytes: 0,
        max_usage_body_bytes: 0,
    };
    let mut document = Frame::openapi();
    document.info.version = API_VERSION.into();
    document.merge(api::routes(limits).into_openapi());
    document.merge(observe::routes().into_openapi());
    document
}

/// Where the repository keeps the document: beside the CLI, whose `serve`
/// subcommand answers it (the adapters' sources point there).
pub const OPENAPI_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../cli/openapi.json");

/// [`openapi`] as the kept file holds it: pretty JSON, a newline at the
/// end.
pub fn openapi_json() -> String {
    let mut json = openapi().to_pretty_json().expect("the document serializes");
    json.push('\n');
    json
}
