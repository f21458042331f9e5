"""The HostMeNow Products Reseller module in Python: the same functions,
settings, info and requests as the Rust module (guest/hostmenow), built into
a component by componentize-py (guest/polyglot's build script).

The generic part (settings, HTTP over wasi:http with a bounded body, the
mapping of answers onto the contract's errors; guest/support in Rust) comes
first, then the mapping of HostMeNow's API. A function that fails raises
`Err(<a case of the contract's error>)`; anything else raised is a bug and
traps. HTTP goes through wasi:http directly (blocking on its pollables), so
its error codes map exactly as the Rust module maps them.
"""

import ipaddress
import json
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import billing_provisioning_types as t
from wit_world.imports import wasi_http_types as http

# The module's version, as its `info` says.
VERSION = "0.1.0"

# ---------------------------------------------------------------------------
# Text from a provider fit for a message (guest/support text.rs).

MAX_MESSAGE_CHARS = 500
_SEPARATORS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def clean(text: str) -> str:
    """`text` on one line, trimmed, cut at MAX_MESSAGE_CHARS characters."""
    words = [w for w in _SEPARATORS.split(str(text)) if w]
    out = " ".join(words)
    if len(out) > MAX_MESSAGE_CHARS:
        return out[:MAX_MESSAGE_CHARS] + "…"
    return out


# ---------------------------------------------------------------------------
# JSON answers read tolerantly (guest/support json.rs).


def get(value: Any, key: str) -> Any:
    """`value[key]` unless absent or null."""
    if isinstance(value, dict):
        return value.get(key)
    return None


def find(value: Any, key: str, wrappers: List[str]) -> Any:
    """`key` at the top level, or under one of `wrappers`."""
    direct = get(value, key)
    if direct is not None:
        return direct
    for wrapper in wrappers:
        found = get(get(value, wrapper), key)
        if found is not None:
            return found
    return None


def text(value: Any) -> Optional[str]:
    """A scalar as text: strings trimmed (blank is none), numbers, booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        trimmed = value.strip()
        return trimmed or None
    if isinstance(value, (int, float)):
        return str(value)
    return None


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def number(value: Any) -> Optional[float]:
    """A finite number, from a number or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        n = float(value)
    elif isinstance(value, str) and _NUMBER.match(value.strip()):
        n = float(value.strip())
    else:
        return None
    return n if n == n and n not in (float("inf"), float("-inf")) else None


def items(value: Any) -> Optional[List[Any]]:
    """A list, or an object's values (PHP's list with gaps)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    return None


def items_under(body: Any, key: str, what: str) -> List[Any]:
    """The items under `key`: none when absent, `bad-response` when a scalar."""
    listed = get(body, key)
    if listed is None:
        return []
    found = items(listed)
    if found is None:
        raise Err(t.Error_BadResponse(f"the {what} list in the answer is not a list"))
    return found


MESSAGE_KEYS = [
    "message",
    "error",
    "msg",
    "response_text",
    "error_message",
    "error_description",
    "description",
    "detail",
]


def message(value: Any) -> Optional[str]:
    """The body's human message, if it has one."""

    def direct(v: Any) -> Optional[str]:
        for key in MESSAGE_KEYS:
            found = get(v, key)
            if isinstance(found, dict):
                nested = direct(found)
                if nested is not None:
                    return nested
            elif isinstance(found, str) and found.strip():
                return found
        return None

    said = direct(value)
    if said is None:
        for wrapper in ("response", "data"):
            said = direct(get(value, wrapper))
            if said is not None:
                break
    cleaned = clean(said) if said is not None else ""
    return cleaned or None


# ---------------------------------------------------------------------------
# URLs (guest/support url.rs).

_INVALID_URL_CHARS = re.compile(r"[\s\x00-\x1f\x7f-\x9f\"<>\\^`{|}]")
_ABSOLUTE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)$")


class Endpoint:
    """An absolute http(s) URL with a host and no user credentials."""

    def __init__(self, url: str, scheme: str, authority: str, rest: str):
        self.url = url
        self.scheme = scheme
        self.authority = authority
        self.origin = f"{scheme}://{authority.lower()}"
        self.path_with_query = rest.split("#", 1)[0] or "/"


def parse_endpoint(raw: str) -> Tuple[Optional[Endpoint], Optional[str]]:
    """The endpoint `raw` names, or why it names none."""
    url = raw.strip()
    if not url or _INVALID_URL_CHARS.search(url):
        return None, "is not a valid URL (no spaces or special characters)"
    parts = _ABSOLUTE.match(url)
    if parts is None:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", url) and not re.match(r"^[^:]*:\d", url):
            return None, "must use http or https"
        return None, "must be an absolute URL starting with https:// or http://"
    scheme = parts.group(1).lower()
    if scheme not in ("http", "https"):
        return None, "must use http or https"
    authority = parts.group(2)
    if "@" in authority:
        return None, "must not contain a user name or password"
    if not authority or authority.startswith(":"):
        return None, "has no host"
    return Endpoint(url, scheme, authority, parts.group(3)), None


# ---------------------------------------------------------------------------
# Settings (guest/support settings.rs, spec.rs).


def spec(name: str, label: str, kind: t.SettingKind, **extra: Any) -> t.SettingSpec:
    """A setting spec with the contract's defaults."""
    fields: Dict[str, Any] = dict(
        name=name,
        label=label,
        kind=kind,
        scope=t.SettingScope.SERVER,
        required=False,
        default=None,
        help="",
        choices=[],
    )
    fields.update(extra)
    return t.SettingSpec(**fields)


def _missing(name: str, label: str) -> Err:
    return Err(t.Error_InvalidConfig(f"missing required setting `{name}` ({label})"))


def _normalise(s: t.SettingSpec, raw: str) -> str:
    def invalid(what: str) -> Err:
        return Err(t.Error_InvalidConfig(f"setting `{s.name}` ({s.label}) must be {what}"))

    trimmed = raw.strip()
    if s.kind == t.SettingKind.TEXT:
        return trimmed
    if s.kind == t.SettingKind.SECRET:
        # A password may start or end with a space: keep it as given.
        return raw
    if s.kind == t.SettingKind.NUMBER:
        if number(trimmed) is None:
            raise invalid("a decimal number")
        return trimmed
    if s.kind == t.SettingKind.BOOLEAN:
        lower = trimmed.lower()
        if lower in ("true", "1", "yes", "on"):
            return "true"
        if lower in ("false", "0", "no", "off"):
            return "false"
        raise invalid("true or false")
    for choice in s.choices:
        if choice.lower() == trimmed.lower():
            return choice
    raise invalid("one of: " + ", ".join(s.choices))


class Settings:
    """The call's settings checked against the module's specs."""

    def __init__(self, given: List[t.Setting], specs: List[t.SettingSpec]):
        self.specs = specs
        self.values: Dict[str, str] = {}
        for s in specs:
            last = next((g for g in reversed(given) if g.name == s.name), None)
            raw = last.value if last is not None and last.value.strip() else s.default
            if raw is not None:
                self.values[s.name] = _normalise(s, raw)
            elif s.required:
                raise _missing(s.name, s.label)

    def get(self, name: str) -> Optional[str]:
        return self.values.get(name)

    def require(self, name: str) -> str:
        value = self.values.get(name)
        if value is None:
            s = next((c for c in self.specs if c.name == name), None)
            if s is None:
                raise Err(t.Error_InvalidConfig(f"missing required setting `{name}`"))
            raise _missing(s.name, s.label)
        return value

    def endpoint(self, name: str) -> Endpoint:
        endpoint, why = parse_endpoint(self.require(name))
        if endpoint is None:
            s = next((c for c in self.specs if c.name == name), None)
            label = s.label if s is not None else name
            raise Err(t.Error_InvalidConfig(f"setting `{name}` ({label}) {why}"))
        return endpoint


# ---------------------------------------------------------------------------
# The service record (guest/support input.rs).


def optional(value: Optional[str]) -> Optional[str]:
    """`value` trimmed, or None when absent or blank."""
    if value is None:
        return None
    return value.strip() or None


def required(value: Optional[str], field: str) -> str:
    """`value` trimmed, or `invalid-input` naming the missing field."""
    found = optional(value)
    if found is None:
        raise Err(t.Error_InvalidInput(f"the service has no `{field}`"))
    return found


def argument(value: str, name: str) -> str:
    """A non-blank argument of the call, or `invalid-input` naming it."""
    found = optional(value)
    if found is None:
        raise Err(t.Error_InvalidInput(f"`{name}` is empty"))
    return found


def custom_field(service: t.Service, names: List[str]) -> Optional[str]:
    """The first non-blank custom field named one of `names` (any case)."""
    wanted = [n.lower() for n in names]
    for name, value in service.custom_fields:
        if name.strip().lower() in wanted:
            found = optional(value)
            if found is not None:
                return found
    return None


# ---------------------------------------------------------------------------
# HTTP over wasi:http with a bounded body (guest/support http.rs).

BODY_LIMIT = 1024 * 1024
READ_CHUNK = 64 * 1024
USER_AGENT = "provisioning-guest-py/" + VERSION


class Answer:
    """An HTTP answer, its body read whole (within BODY_LIMIT)."""

    def __init__(self, status: int, headers: List[Tuple[str, str]], body: bytes, origin: str):
        self.status = status
        self.headers = headers
        self.body = body
        self.origin = origin

    def header(self, name: str) -> Optional[str]:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def _error_code(code: Any, origin: str) -> Err:
    """The contract's error for a wasi:http error code, as the Rust module's."""
    detail = clean(type(code).__name__.removeprefix("ErrorCode_"))
    if isinstance(code, http.ErrorCode_HttpRequestDenied):
        return Err(
            t.Error_Transport(
                f"request to {origin} was denied by the host's allow-list "
                "(the operator has not granted this module that origin)"
            )
        )
    if isinstance(code, http.ErrorCode_DestinationIpProhibited):
        return Err(t.Error_Transport(f"the host refused to connect to the address of {origin}"))
    if isinstance(code, (http.ErrorCode_DnsError, http.ErrorCode_DestinationNotFound)):
        return Err(t.Error_Transport(f"the host name of {origin} could not be resolved"))
    if isinstance(code, http.ErrorCode_ConnectionRefused):
        return Err(t.Error_Transport(f"{origin} refused the connection"))
    if isinstance(code, http.ErrorCode_ConnectionTerminated):
        return Err(
            t.Error_Transport(f"the connection to {origin} was closed before the answer was complete")
        )
    if isinstance(code, (http.ErrorCode_DestinationUnavailable, http.ErrorCode_DestinationIpUnroutable)):
        return Err(t.Error_Transport(f"{origin} is unreachable"))
    if isinstance(
        code,
        (http.ErrorCode_TlsProtocolError, http.ErrorCode_TlsCertificateError, http.ErrorCode_TlsAlertReceived),
    ):
        return Err(t.Error_Transport(f"TLS with {origin} failed ({detail})"))
    if isinstance(code, http.ErrorCode_DnsTimeout):
        return Err(t.Error_Timeout(f"resolving the host name of {origin} timed out"))
    if isinstance(code, http.ErrorCode_ConnectionTimeout):
        return Err(t.Error_Timeout(f"connecting to {origin} timed out"))
    if isinstance(code, (http.ErrorCode_ConnectionReadTimeout, http.ErrorCode_ConnectionWriteTimeout)):
        return Err(t.Error_Timeout(f"the connection to {origin} stalled ({detail})"))
    if isinstance(code, http.ErrorCode_HttpResponseTimeout):
        return Err(t.Error_Timeout(f"{origin} did not answer in time"))
    if isinstance(
        code,
        (
            http.ErrorCode_HttpResponseIncomplete,
            http.ErrorCode_HttpResponseHeaderSectionSize,
            http.ErrorCode_HttpResponseHeaderSize,
            http.ErrorCode_HttpResponseBodySize,
            http.ErrorCode_HttpResponseTrailerSectionSize,
            http.ErrorCode_HttpResponseTrailerSize,
            http.ErrorCode_HttpResponseTransferCoding,
            http.ErrorCode_HttpResponseContentCoding,
            http.ErrorCode_HttpProtocolError,
            http.ErrorCode_HttpUpgradeFailed,
        ),
    ):
        return Err(t.Error_BadResponse(f"{origin} sent an HTTP answer that cannot be read ({detail})"))
    return Err(t.Error_Transport(f"request to {origin} failed ({detail})"))


def post_json(endpoint: Endpoint, body: Any) -> Answer:
    """POSTs `body` as JSON (keys sorted, as the Rust module sends) and reads
    the answer, its body bounded."""
    origin = endpoint.origin
    payload = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    headers = http.Fields.from_list(
        [("user-agent", USER_AGENT.encode()), ("content-type", b"application/json")]
    )
    request = http.OutgoingRequest(headers)
    request.set_method(http.Method_Post())
    request.set_scheme(http.Scheme_Https() if endpoint.scheme == "https" else http.Scheme_Http())
    request.set_authority(endpoint.authority)
    request.set_path_with_query(endpoint.path_with_query)
    outgoing = request.body()
    try:
        future = outgoing_handler.handle(request, None)
    except Err as refused:
        raise _error_code(refused.value, origin)
    sink = outgoing.write()
    for at in range(0, len(payload), 4096):
        sink.blocking_write_and_flush(payload[at : at + 4096])
    sink.__exit__(None, None, None)
    http.OutgoingBody.finish(outgoing, None)

    while True:
        ready = future.get()
        if ready is not None:
            break
        future.subscribe().block()
    if isinstance(ready, Err) or isinstance(ready.value, Err):
        code = ready.value.value if isinstance(ready, Ok) else None
        if code is None:
            raise Err(t.Error_Transport(f"request to {origin} failed"))
        raise _error_code(code, origin)
    response = ready.value.value
    status = response.status()
    answer_headers = []
    for name, value in response.headers().entries():
        try:
            answer_headers.append((name, value.decode()))
        except UnicodeDecodeError:
            continue
    answer = Answer(status, answer_headers, b"", origin)

    too_large = Err(t.Error_BadResponse(f"{origin} answered with a body larger than {BODY_LIMIT} bytes"))
    declared = answer.header("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared.strip()) > BODY_LIMIT:
        raise too_large
    incoming = response.consume()
    stream = incoming.stream()
    chunks = []
    length = 0
    while True:
        try:
            chunk = stream.blocking_read(min(READ_CHUNK, BODY_LIMIT - length + 1))
        except Err as failed:
            if isinstance(failed.value, streams.StreamError_Closed):
                break
            raise Err(t.Error_Transport(f"the connection to {origin} failed while reading the answer"))
        length += len(chunk)
        if length > BODY_LIMIT:
            raise too_large
        chunks.append(chunk)
    answer.body = b"".join(chunks)
    return answer


# ---------------------------------------------------------------------------
# What an answer means (guest/support response.rs).


def _media_type(answer: Answer) -> Optional[str]:
    value = answer.header("content-type")
    essence = (value or "").split(";")[0].strip()
    return essence.lower() if essence else None


def _by_status(status: int, said: str, redirect: Optional[str]) -> Err:
    if 300 <= status <= 399:
        if redirect is not None:
            return Err(t.Error_BadResponse(f"{said}; it redirects to {redirect}: check the endpoint setting"))
        return Err(t.Error_BadResponse(f"{said}; check the endpoint setting"))
    if status in (401, 403):
        return Err(t.Error_AuthFailed(said))
    if status == 404:
        return Err(t.Error_BadResponse(f"{said}; check the endpoint setting"))
    if status in (408, 504):
        return Err(t.Error_Timeout(said))
    if 500 <= status <= 599:
        return Err(t.Error_Provider(said))
    return Err(t.Error_BadResponse(said))


def _redirect_origin(answer: Answer) -> Optional[str]:
    if not 300 <= answer.status <= 399:
        return None
    location = answer.header("location")
    if location is None:
        return None
    endpoint, _ = parse_endpoint(location)
    return endpoint.origin if endpoint is not None else answer.origin


def _describe_non_json(answer: Answer, error: ValueError) -> str:
    body = answer.body
    if all(b in b" \t\n\x0c\r" for b in body):
        return "an empty body"
    media = _media_type(answer)
    if media is not None and "json" not in media:
        return f"a {media} body"
    if body.lstrip().startswith(b"<"):
        return "an HTML or XML body"
    if isinstance(error, json.JSONDecodeError):
        if error.pos >= len(error.doc) or error.msg.startswith("Unterminated"):
            # Where the text ends, counted as serde_json counts it (the Rust
            # module's words): the last line, and the characters on it.
            lines = error.doc.split("\n")
            return f"truncated JSON (it ends at line {len(lines)}, column {len(lines[-1])})"
        return f"malformed JSON at line {error.lineno}, column {error.colno}"
    return "malformed JSON at line 1, column 1"


class Reply:
    """An answer whose body is JSON."""

    def __init__(self, status: int, origin: str, redirect: Optional[str], body: Any):
        self.status = status
        self.origin = origin
        self.redirect = redirect
        self.body = body


def into_json(answer: Answer) -> Reply:
    """Decodes the body as JSON whatever its Content-Type, or fails: 429
    `rate-limited` (Retry-After in seconds), a body that is not JSON by
    status, never quoting it."""
    raw = answer.body
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    body: Any = None
    error: Optional[ValueError] = None
    try:
        body = json.loads(raw.decode("utf-8"))
    except ValueError as failed:
        error = failed
    if answer.status == 429:
        retry = (answer.header("retry-after") or "").strip()
        seconds = int(retry) if retry.isdigit() and int(retry) <= 0xFFFFFFFF else None
        said = message(body) if error is None else None
        text_of = (
            f"HTTP 429 from {answer.origin}: {said}"
            if said is not None
            else f"{answer.origin} answered HTTP 429 (too many requests)"
        )
        raise Err(t.Error_RateLimited(t.RateLimit(retry_after_seconds=seconds, message=text_of)))
    if error is not None:
        said = f"{answer.origin} answered HTTP {answer.status} with {_describe_non_json(answer, error)}"
        raise _by_status(answer.status, said, _redirect_origin(answer))
    return Reply(answer.status, answer.origin, _redirect_origin(answer), body)


def unrecognised(reply: Reply) -> Err:
    """The error for a JSON reply the provider's mapping did not recognise."""
    said = message(reply.body)
    described = f"HTTP {reply.status}: {said if said is not None else 'no message'}"
    status = reply.status
    if 200 <= status <= 299:
        shape = f"{reply.origin} answered HTTP {status} with JSON of an unexpected shape"
        return Err(t.Error_BadResponse(shape if said is None else f"{shape} (message: {said})"))
    if status in (401, 403):
        return Err(t.Error_AuthFailed(described))
    if status == 404:
        return Err(t.Error_NotFound(described))
    if status in (408, 504):
        return Err(t.Error_Timeout(described))
    if 400 <= status <= 599:
        return Err(t.Error_Provider(described))
    return _by_status(status, described, reply.redirect)


# ---------------------------------------------------------------------------
# HostMeNow: settings (guest/hostmenow info.rs).

ENDPOINT = "endpoint"
API_KEY = "api-key"
IP_ADDRESS = "ip-address"

SETTINGS = [
    spec(
        ENDPOINT,
        "API endpoint",
        t.SettingKind.TEXT,
        required=True,
        default="https://hostmenow.org/backstage/modules/addons/products_reseller/api.php",
        help="URL of the Products Reseller API (api.php)",
    ),
    spec(
        API_KEY,
        "API key",
        t.SettingKind.SECRET,
        required=True,
        help="API key from the HostMeNow reseller dashboard",
    ),
    spec(
        IP_ADDRESS,
        "Dedicated IP address",
        t.SettingKind.TEXT,
        scope=t.SettingScope.PRODUCT,
        help="Sent as ip_address when the product comes with a dedicated IP; "
        "a service custom field `ip_address` overrides it",
    ),
]

# ---------------------------------------------------------------------------
# HostMeNow: the API (guest/hostmenow api.rs).

GET_PRODUCTS = "Get_Products"
CREATE = "CreateAccount"
SUSPEND = "SuspendAccount"
UNSUSPEND = "UnsuspendAccount"
TERMINATE = "TerminateAccount"
CHANGE_PASSWORD = "ChangePassword"
CHANGE_PACKAGE = "ChangePackage"
USAGE = "get_Bandwidth_Disk_Usage"
SERVER_NAME = "GetServerName"
SSO = "CreateSSOSession"


def error_for(said: Optional[str], action: str) -> Err:
    """The error an answer's `message` stands for, matched loosely."""
    if said is None:
        return Err(t.Error_Provider(f"{action} failed and the provider gave no message"))
    lower = said.lower()
    if "invalid api key" in lower:
        return Err(t.Error_AuthFailed(f"the API key was refused: {said}"))
    if "whitelist" in lower:
        return Err(
            t.Error_AuthFailed(
                "the API key's IP whitelist rejected this host's address; "
                f"add the host's public IP in the reseller account: {said}"
            )
        )
    if "does not have permission" in lower or lower.startswith("forbidden"):
        return Err(t.Error_AuthFailed(f"the reseller account has no permission for {action}: {said}"))
    if "no product selected" in lower:
        return Err(
            t.Error_InvalidInput(f"{said}: the product is not assigned to the reseller group; check the package")
        )
    if "insufficient balance" in lower:
        return Err(t.Error_InsufficientFunds(said))
    if "service not found" in lower:
        return Err(t.Error_NotFound(said))
    return Err(t.Error_Provider(said))


def _status_word(reply: Reply) -> str:
    word = get(reply.body, "status")
    word = word.strip().lower() if isinstance(word, str) else None
    if word == "success" and 200 <= reply.status <= 299:
        return "success"
    return "error" if word == "error" else "other"


class Api:
    """A client for one reseller account."""

    def __init__(self, given: List[t.Setting]):
        self.settings = Settings(given, SETTINGS)
        self.endpoint = self.settings.endpoint(ENDPOINT)
        # A key pasted with a stray newline is still the key.
        self.api_key = self.settings.require(API_KEY).strip()

    def call(self, action: str, params: Dict[str, str]) -> Any:
        """Runs `action`; the whole answer when it says `status: "success"`."""
        envelope = {"action": action, "api_key": self.api_key, "params": params}
        reply = into_json(post_json(self.endpoint, envelope))
        word = _status_word(reply)
        if word == "success":
            return reply.body
        if word == "error":
            raise error_for(message(reply.body), action)
        if reply.status == 403:
            known = error_for(message(reply.body), action)
            # A 403 is a refusal even when its words are new to us.
            if isinstance(known.value, t.Error_Provider):
                raise Err(t.Error_AuthFailed(known.value.value))
            raise known
        raise unrecognised(reply)


def message_or(body: Any, fallback: str) -> str:
    said = message(body)
    return said if said is not None else fallback


# ---------------------------------------------------------------------------
# HostMeNow: params of each action (guest/hostmenow params.rs).

IP_FIELDS = ["ip_address", "ip-address", "dedicated-ip"]


def _ip(text_value: str) -> Optional[str]:
    """The address as Rust's IpAddr writes it, or None when not an address."""
    if not re.match(r"^[0-9A-Fa-f:.]+$", text_value):
        return None
    try:
        parsed = ipaddress.ip_address(text_value)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return f"::ffff:{parsed.ipv4_mapped}"
    return str(parsed)


def ip_address(service: t.Service, settings: Settings) -> Optional[str]:
    """The dedicated IP: the service's custom field, else the product's setting."""
    field = custom_field(service, IP_FIELDS)
    if field is not None:
        ip = _ip(field)
        if ip is None:
            raise Err(t.Error_InvalidInput("the service's custom field `ip_address` is not an IP address"))
        return ip
    value = settings.get(IP_ADDRESS)
    if value is None:
        return None
    ip = _ip(value)
    if ip is None:
        raise Err(
            t.Error_InvalidConfig(
                f"setting `{IP_ADDRESS}` (Dedicated IP address) must be an IPv4 or IPv6 address"
            )
        )
    return ip


def service_id_params(service: t.Service) -> Dict[str, str]:
    """`serviceid` alone: the provider knows services by the platform's id."""
    return {"serviceid": required(service.service_id, "service-id")}


def account_params(service: t.Service, settings: Settings) -> Dict[str, str]:
    """`serviceid` plus `domain`, `username` and `ip_address` when known."""
    params = service_id_params(service)
    domain = optional(service.domain)
    if domain is not None:
        params["domain"] = domain
    username = optional(service.username)
    if username is not None:
        params["username"] = username
    ip = ip_address(service, settings)
    if ip is not None:
        params["ip_address"] = ip
    return params


def billing_cycle(cycle: str) -> str:
    """The billing cycle as the provider spells it ("Semi-Annually" -> "semiannually")."""
    return re.sub(r"[-_ ]", "", cycle).lower()


def create_params(service: t.Service, settings: Settings) -> Dict[str, str]:
    """`CreateAccount`'s params, or `invalid-input` naming the first missing field."""
    params = account_params(service, settings)
    params["billingcycle"] = billing_cycle(required(service.billing_cycle, "billing-cycle"))
    params["qty"] = "1"
    params["domain"] = required(service.domain, "domain")
    params["username"] = required(service.username, "username")
    # Passwords are kept exactly as given; only a blank one is missing.
    if service.password is None or not service.password.strip():
        raise Err(t.Error_InvalidInput("the service has no `password`"))
    params["password"] = service.password
    params["selected_product"] = required(service.package, "package")
    return params


# ---------------------------------------------------------------------------
# HostMeNow: answers (guest/hostmenow products.rs, usage.rs, sso.rs).

CYCLES = ["monthly", "quarterly", "semiannually", "annually", "biennially", "triennially"]
KNOWN_PRODUCT_FIELDS = ["product_id", "product_name", "description", "billing_cycles"]
WRAPPERS = ["data"]


def prices(product: Any) -> List[t.Price]:
    """One price per offered cycle; WHMCS prices a cycle it does not offer at -1."""
    cycles = get(product, "billing_cycles")
    if not isinstance(cycles, dict):
        return []
    currency = text(get(product, "currency"))
    listed = []
    for cycle in sorted(cycles):
        entry = cycles[cycle]
        amount = text(get(entry, "price")) if isinstance(entry, dict) else text(entry)
        if amount is None:
            continue
        n = number(amount)
        if n is not None and n < 0:
            continue
        own = text(get(entry, "currency"))
        listed.append(
            t.Price(
                cycle=cycle.lower(),
                amount=amount,
                setup_fee=text(get(entry, "setup_fee")),
                currency=own if own is not None else currency,
            )
        )

    def rank(p: t.Price) -> Tuple[int, str]:
        return (CYCLES.index(p.cycle) if p.cycle in CYCLES else len(CYCLES), p.cycle)

    return sorted(listed, key=rank)


def to_package(product: Any) -> t.Package:
    if not isinstance(product, dict):
        raise Err(t.Error_BadResponse("a product in the answer is not an object"))
    ident = text(get(product, "product_id"))
    if ident is None:
        raise Err(t.Error_BadResponse("a product in the answer has no product_id"))
    details = []
    for key in sorted(product):
        if key not in KNOWN_PRODUCT_FIELDS:
            value = text(product[key])
            if value is not None:
                details.append((key, value))
    name = text(get(product, "product_name"))
    return t.Package(
        id=ident,
        name=name if name is not None else ident,
        description=text(get(product, "description")),
        prices=prices(product),
        details=details,
    )


def products(body: Any) -> List[Any]:
    return items_under(body, "data", "product")


def limit(value: Any) -> Optional[t.Limit]:
    """`0` or "unlimited" means no limit."""
    as_text = text(value)
    if as_text is not None and as_text.lower() == "unlimited":
        return t.Limit_Unlimited()
    n = number(value)
    if n is None:
        return None
    if n == 0:
        return t.Limit_Unlimited()
    return t.Limit_Value(n) if n > 0 else None


def figure(name: str, value: Any, used_keys: List[str]) -> t.UsageFigure:
    def bad(what: str) -> Err:
        return Err(t.Error_BadResponse(f"the {name} usage in the answer {what}"))

    found = next((get(value, k) for k in used_keys if get(value, k) is not None), None)
    used = number(found) if found is not None else None
    if used is None or used < 0:
        raise bad("has no usable used amount")
    limit_value = get(value, "limit_mb")
    parsed = limit(limit_value) if limit_value is not None else None
    if parsed is None:
        raise bad("has no usable limit_mb")
    return t.UsageFigure(name=name, unit="MB", used=used, limit=parsed)


def usage_of(body: Any) -> t.Usage:
    disk = find(body, "disk_usage", WRAPPERS)
    bandwidth = find(body, "bandwidth_usage", WRAPPERS)
    if disk is None and bandwidth is None:
        raise Err(t.Error_BadResponse("the usage answer has neither disk_usage nor bandwidth_usage"))
    figures = []
    if disk is not None:
        figures.append(figure("disk", disk, ["used_mb"]))
    if bandwidth is not None:
        figures.append(figure("bandwidth", bandwidth, ["current_month_mb", "used_mb"]))
    updated = find(body, "last_updated", WRAPPERS)
    return t.Usage(figures=figures, updated_at=text(updated) if updated is not None else None)


def server_name(body: Any) -> str:
    found = find(body, "server_name", WRAPPERS)
    name = text(found) if found is not None else None
    if name is None:
        raise Err(t.Error_BadResponse("GetServerName answered without a server_name"))
    return name


def require_cpanel(name: str) -> None:
    if "cpanel" not in name.lower():
        raise Err(
            t.Error_Unsupported(
                f"single sign-on is only available for cPanel services; this one runs on {clean(name)}"
            )
        )


def login_url(body: Any) -> str:
    """The login URL: it must be an http(s) URL, since a browser opens it."""
    found = find(body, "url", WRAPPERS)
    url = text(found) if found is not None else None
    if url is None:
        raise Err(t.Error_BadResponse("CreateSSOSession answered without a url"))
    _, why = parse_endpoint(url)
    if why is not None:
        # The URL carries a session token: say what is wrong, not what it is.
        raise Err(t.Error_BadResponse(f"the single sign-on URL in the answer {why}"))
    return url


# ---------------------------------------------------------------------------
# HostMeNow: the functions (guest/hostmenow lib.rs).


def run(api: Api, action: str, params: Dict[str, str]) -> t.Outcome:
    """Runs `action` and reports the provider's own words."""
    body = api.call(action, params)
    return t.Outcome(message=message_or(body, f"{action} succeeded"), credentials=[])


def account_action(
    given: List[t.Setting], service: t.Service, action: str, extra: Callable[[Dict[str, str]], None]
) -> t.Outcome:
    api = Api(given)
    params = account_params(service, api.settings)
    extra(params)
    return run(api, action, params)


def unsupported(why: str) -> Err:
    return Err(t.Error_Unsupported(why))


class Module(exports.Module):
    """The contract's `module` interface."""

    def info(self) -> t.ModuleInfo:
        F = t.Function
        return t.ModuleInfo(
            id="hostmenow",
            name="HostMeNow Products Reseller",
            version=VERSION,
            # No service-status: the API has no call that reports one.
            functions=[
                F.TEST_CONNECTION,
                F.CREATE_ACCOUNT,
                F.SUSPEND,
                F.UNSUSPEND,
                F.TERMINATE,
                F.CHANGE_PASSWORD,
                F.CHANGE_PACKAGE,
                F.USAGE_DATA,
                F.LIST_PACKAGES,
                F.SINGLE_SIGN_ON,
            ],
            settings=SETTINGS,
            outbound_hosts=["https://hostmenow.org"],
        )

    def test_connection(self, settings: List[t.Setting]) -> t.ConnectionStatus:
        api = Api(settings)
        count = len(products(api.call(GET_PRODUCTS, {})))
        return t.ConnectionStatus(
            message=f"Connected; {count} product(s) available to this reseller account",
            details=[("products", str(count))],
        )

    def create_account(self, settings: List[t.Setting], service: t.Service) -> t.CreatedAccount:
        api = Api(settings)
        body = api.call(CREATE, create_params(service, api.settings))
        order_id = find(body, "order_id", WRAPPERS)
        remote_id = text(order_id) if order_id is not None else None
        return t.CreatedAccount(
            remote_id=remote_id if remote_id is not None else service.service_id.strip(),
            already_existed=False,
            status=t.ServiceState.ACTIVE,
            message=message_or(body, "Account created"),
            # The password came from the platform; nothing new to hand over.
            credentials=[],
        )

    def suspend(self, settings: List[t.Setting], service: t.Service, reason: Optional[str]) -> t.Outcome:
        def with_reason(params: Dict[str, str]) -> None:
            why = optional(reason)
            if why is not None:
                params["suspendreason"] = why

        return account_action(settings, service, SUSPEND, with_reason)

    def unsuspend(self, settings: List[t.Setting], service: t.Service) -> t.Outcome:
        return account_action(settings, service, UNSUSPEND, lambda _: None)

    def terminate(self, settings: List[t.Setting], service: t.Service) -> t.Outcome:
        return account_action(settings, service, TERMINATE, lambda _: None)

    def change_password(self, settings: List[t.Setting], service: t.Service, new_password: str) -> t.Outcome:
        api = Api(settings)
        if not new_password.strip():
            raise Err(t.Error_InvalidInput("`new-password` is empty"))
        params = account_params(service, api.settings)
        params["password"] = new_password
        return run(api, CHANGE_PASSWORD, params)

    def change_package(self, settings: List[t.Setting], service: t.Service, new_package: str) -> t.Outcome:
        api = Api(settings)
        params = account_params(service, api.settings)
        params["selected_product"] = argument(new_package, "new-package")
        # The provider may resolve the package on its side and ignore ours:
        # report only what it says.
        return run(api, CHANGE_PACKAGE, params)

    def change_domain(self, settings: List[t.Setting], service: t.Service, new_domain: str) -> t.Outcome:
        raise unsupported("the HostMeNow API has no call that moves a service to another domain")

    def usage_data(self, settings: List[t.Setting], service: t.Service) -> t.Usage:
        api = Api(settings)
        return usage_of(api.call(USAGE, service_id_params(service)))

    def list_packages(self, settings: List[t.Setting]) -> List[t.Package]:
        api = Api(settings)
        return [to_package(p) for p in products(api.call(GET_PRODUCTS, {}))]

    def single_sign_on(self, settings: List[t.Setting], service: t.Service, app: Optional[str]) -> str:
        api = Api(settings)
        require_cpanel(server_name(api.call(SERVER_NAME, service_id_params(service))))
        params = service_id_params(service)
        chosen = optional(app)
        if chosen is not None:
            params["app"] = chosen
        return login_url(api.call(SSO, params))

    def service_status(self, settings: List[t.Setting], service: t.Service) -> t.StatusReport:
        raise unsupported("the HostMeNow API has no call that reports a service's status")

    def list_accounts(self, settings: List[t.Setting]) -> List[t.ListedAccount]:
        raise unsupported(
            "the HostMeNow API has no call that lists the reseller's accounts "
            "(every account call takes one service id)"
        )
