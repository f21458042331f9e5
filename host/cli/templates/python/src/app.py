"""A provider module: the contract of `wit/provisioning.wit` (world
`provider-http`) mapped onto one provider's API, built into a component by
componentize-py.

It starts with one function, `test_connection`, which asks the API at the
`endpoint` setting whether the `api-key` setting is accepted; every other
function answers `unsupported`. Map the provider's calls one function at a
time: implement it below, add it to `info().functions`, and declare any
setting it needs in SETTINGS.

A function that fails raises `Err(<a case of the contract's error>)`;
anything else raised is a bug and traps. HTTP goes through the wasi:http
bindings the world imports (`get_json` below), so the host's allow-list
and its error codes reach the module as they are.
"""

import json
from typing import Any, List, NoReturn, Optional, Tuple
from urllib.parse import urlsplit

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import billing_provisioning_types as t
from wit_world.imports import wasi_http_types as http

# The module's id: the host checks a new version against it.
ID = "{{name}}"
# The module's version (semver), as its `info` says.
VERSION = "0.1.0"

# The setting holding the base URL of the provider's API.
ENDPOINT = "endpoint"
# The setting holding the API key: a secret, which the host masks in every
# log, error and answer.
API_KEY = "api-key"

# The largest answer body read, in bytes.
BODY_LIMIT = 1024 * 1024


def setting(name: str, label: str, kind: t.SettingKind, help: str) -> t.SettingSpec:
    """A required server setting as the contract's `setting-spec`."""
    return t.SettingSpec(
        name=name,
        label=label,
        kind=kind,
        scope=t.SettingScope.SERVER,
        required=True,
        default=None,
        help=help,
        choices=[],
    )


# The settings every call takes, as a billing platform asks the operator for
# them.
SETTINGS = [
    setting(ENDPOINT, "API endpoint", t.SettingKind.TEXT, "Base URL of the provider's API, e.g. https://api.example.com/v1"),
    setting(API_KEY, "API key", t.SettingKind.SECRET, "The reseller's API key"),
]


def setting_value(given: List[t.Setting], name: str) -> str:
    """The value of the setting `name` (the last one given), or `invalid-config`."""
    value = next((s.value.strip() for s in reversed(given) if s.name == name), "")
    if not value:
        raise Err(t.Error_InvalidConfig(f"missing required setting `{name}`"))
    return value


def get_json(url: str, headers: List[Tuple[str, str]]) -> Tuple[Any, str]:
    """GETs `url` over wasi:http and returns its JSON answer and origin; an
    answer that is not a 2xx with JSON becomes the contract's error for it.
    The provider's words are quoted only from a JSON `message`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Err(t.Error_InvalidConfig(f"setting `{ENDPOINT}` must be an absolute http(s) URL"))
    origin = f"{parts.scheme}://{parts.netloc}"
    request = http.OutgoingRequest(http.Fields.from_list([(k, v.encode()) for k, v in headers]))
    request.set_method(http.Method_Get())
    request.set_scheme(http.Scheme_Https() if parts.scheme == "https" else http.Scheme_Http())
    request.set_authority(parts.netloc)
    request.set_path_with_query(parts.path + (f"?{parts.query}" if parts.query else ""))
    try:
        future = outgoing_handler.handle(request, None)
    except Err as refused:
        transport_failed(refused.value, origin)
    while (ready := future.get()) is None:
        future.subscribe().block()
    # `ready` is Ok(Ok(response)), Ok(Err(error-code)) or Err(()).
    if isinstance(ready, Err) or isinstance(ready.value, Err):
        transport_failed(None if isinstance(ready, Err) else ready.value.value, origin)
    response = ready.value.value
    status = response.status()
    body = read_body(response, origin)
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    said = answer.get("message") if isinstance(answer, dict) else None
    said = said.strip()[:500] if isinstance(said, str) else ""
    what = f"{origin} answered HTTP {status}" + (f": {said}" if said else "")
    if status == 429:
        with response.headers() as fields:
            retry = dict(fields.entries()).get("retry-after", b"").strip()
        seconds = int(retry) if retry.isdigit() else None
        raise Err(t.Error_RateLimited(t.RateLimit(retry_after_seconds=seconds, message=what)))
    if status in (401, 403):
        raise Err(t.Error_AuthFailed(what))
    if status in (408, 504):
        raise Err(t.Error_Timeout(what))
    if status >= 500:
        raise Err(t.Error_Provider(what))
    if not 200 <= status <= 299 or answer is None:
        raise Err(t.Error_BadResponse(what if answer is not None else f"{what} without a JSON body"))
    return answer, origin


def read_body(response: http.IncomingResponse, origin: str) -> bytes:
    """The answer's body, read whole up to BODY_LIMIT bytes."""
    chunks: List[bytes] = []
    length = 0
    # The stream is the body's child: the host traps when a resource is
    # dropped before its children, so `with` drops them in order.
    with response.consume() as body, body.stream() as stream:
        while True:
            try:
                chunk = stream.blocking_read(64 * 1024)
            except Err as failed:
                if isinstance(failed.value, streams.StreamError_Closed):
                    return b"".join(chunks)
                raise Err(t.Error_Transport(f"the connection to {origin} failed while reading the answer"))
            length += len(chunk)
            if length > BODY_LIMIT:
                raise Err(t.Error_BadResponse(f"{origin} answered with a body larger than {BODY_LIMIT} bytes"))
            chunks.append(chunk)


def transport_failed(code: Optional[http.ErrorCode], origin: str) -> NoReturn:
    """Raises the contract's error for a request that got no answer."""
    if isinstance(code, http.ErrorCode_HttpRequestDenied):
        raise Err(t.Error_Transport(f"request to {origin} was denied by the host's allow-list"))
    # Every way a provider can be too slow: to resolve, to accept, to
    # answer, between the bytes of its answer.
    timeouts = (
        http.ErrorCode_DnsTimeout,
        http.ErrorCode_ConnectionTimeout,
        http.ErrorCode_ConnectionReadTimeout,
        http.ErrorCode_ConnectionWriteTimeout,
        http.ErrorCode_HttpResponseTimeout,
    )
    what = type(code).__name__.removeprefix("ErrorCode_") if code is not None else "no answer"
    if isinstance(code, timeouts):
        raise Err(t.Error_Timeout(f"{origin} did not answer in time ({what})"))
    raise Err(t.Error_Transport(f"request to {origin} failed ({what})"))


def unsupported(function: str) -> NoReturn:
    """What every function the module does not support raises."""
    raise Err(t.Error_Unsupported(f"{function} is not supported by this module"))


class Module(exports.Module):
    """The contract's `module` interface."""

    def info(self) -> t.ModuleInfo:
        return t.ModuleInfo(
            id=ID,
            name=ID,
            version=VERSION,
            functions=[t.Function.TEST_CONNECTION],
            settings=SETTINGS,
            # The endpoint is a setting, so the module names no origin of
            # its own: the operator's allow-list grants the endpoint's.
            outbound_hosts=[],
        )

    def test_connection(self, settings: List[t.Setting]) -> t.ConnectionStatus:
        url = setting_value(settings, ENDPOINT).rstrip("/") + "/status"
        key = setting_value(settings, API_KEY)
        answer, origin = get_json(url, [("authorization", f"Bearer {key}")])
        said = answer.get("message") if isinstance(answer, dict) else None
        message = said.strip() if isinstance(said, str) and said.strip() else f"connected to {origin}"
        return t.ConnectionStatus(message=message, details=[])

    def create_account(self, settings, service):
        unsupported("create-account")

    def suspend(self, settings, service, reason):
        unsupported("suspend")

    def unsuspend(self, settings, service):
        unsupported("unsuspend")

    def terminate(self, settings, service):
        unsupported("terminate")

    def change_password(self, settings, service, new_password):
        unsupported("change-password")

    def change_package(self, settings, service, new_package):
        unsupported("change-package")

    def change_domain(self, settings, service, new_domain):
        unsupported("change-domain")

    def usage_data(self, settings, service):
        unsupported("usage-data")

    def list_packages(self, settings):
        unsupported("list-packages")

    def single_sign_on(self, settings, service, app):
        unsupported("single-sign-on")

    def service_status(self, settings, service):
        unsupported("service-status")

    def list_accounts(self, settings):
        unsupported("list-accounts")
