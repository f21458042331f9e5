// The HostMeNow Products Reseller module in JavaScript: the same functions,
// settings, info and requests as the Rust module (guest/hostmenow), built
// into a component by componentize-js (guest/polyglot's build script).
//
// componentize-js takes one ES module, so the generic part (settings, HTTP
// with a bounded body, the mapping of answers onto the contract's errors,
// guest/support in Rust) comes first and the mapping of HostMeNow's API
// after it. A function that fails throws one case of the contract's
// `error` variant ({tag, val}); anything else thrown is a bug and traps.
//
// HTTP goes through the wasi:http bindings of the contract's
// `provider-http` world, blocking on their pollables, as the Python module
// does: fetch() would hide wasi:http's error codes, so a provider that never
// answers would read as a network error instead of `timeout`.

import { handle } from "wasi:http/outgoing-handler@0.2.12";
import { Fields, OutgoingBody, OutgoingRequest } from "wasi:http/types@0.2.12";

// ---------------------------------------------------------------------------
// The contract's words.

/** The module's version, as its `info` says. */
const VERSION = "0.1.0";

/** The user agent of every request, as the Rust module names its own. */
const USER_AGENT = `provisioning-guest-js/${VERSION}`;

/** A failure as the contract's `error` variant. */
const fail = (tag, val) => ({ tag, val });

// ---------------------------------------------------------------------------
// Text from a provider fit for a message (guest/support text.rs).

/** Longest provider text kept in a message, in characters. */
const MAX_MESSAGE_CHARS = 500;

/** `text` on one line, trimmed, cut at MAX_MESSAGE_CHARS characters. */
function clean(text) {
  const words = String(text)
    .split(/[\s\u0000-\u001f\u007f-\u009f]+/)
    .filter((word) => word.length > 0);
  let out = "";
  let chars = 0;
  for (const word of words) {
    if (out.length > 0) {
      out += " ";
      chars += 1;
    }
    for (const c of word) {
      if (chars === MAX_MESSAGE_CHARS) {
        return out + "…";
      }
      out += c;
      chars += 1;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// JSON answers read tolerantly (guest/support json.rs).

/** `value[key]` unless absent or null. */
function get(value, key) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return undefined;
  }
  const found = Object.prototype.hasOwnProperty.call(value, key) ? value[key] : undefined;
  return found === null ? undefined : found;
}

/** `key` at the top level, or under one of `wrappers`. */
function find(value, key, wrappers) {
  const direct = get(value, key);
  if (direct !== undefined) {
    return direct;
  }
  for (const wrapper of wrappers) {
    const inner = get(value, wrapper);
    const found = inner === undefined ? undefined : get(inner, key);
    if (found !== undefined) {
      return found;
    }
  }
  return undefined;
}

/** A scalar as text: strings trimmed (blank is none), numbers, booleans. */
function text(value) {
  if (typeof value === "string") {
    const trimmed = value.trim();
    return trimmed.length > 0 ? trimmed : undefined;
  }
  if (typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  return undefined;
}

/** A finite number, from a number or a numeric string. */
function number(value) {
  let n;
  if (typeof value === "number") {
    n = value;
  } else if (typeof value === "string" && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(value)) {
    n = Number(value);
  }
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

/** A list, or an object's values (PHP's list with gaps). */
function items(value) {
  if (Array.isArray(value)) {
    return value;
  }
  if (value !== null && typeof value === "object") {
    return Object.values(value);
  }
  return undefined;
}

/** The items under `key`: none when absent, `bad-response` when a scalar. */
function itemsUnder(body, key, what) {
  const list = get(body, key);
  if (list === undefined) {
    return [];
  }
  const found = items(list);
  if (found === undefined) {
    throw fail("bad-response", `the ${what} list in the answer is not a list`);
  }
  return found;
}

/** Keys a provider's human message may sit under, in order. */
const MESSAGE_KEYS = [
  "message",
  "error",
  "msg",
  "response_text",
  "error_message",
  "error_description",
  "description",
  "detail",
];

/** The body's human message, if it has one. */
function message(value) {
  const direct = (v) => {
    for (const key of MESSAGE_KEYS) {
      const found = get(v, key);
      if (found !== null && typeof found === "object" && !Array.isArray(found)) {
        const nested = direct(found);
        if (nested !== undefined) {
          return nested;
        }
      } else if (typeof found === "string" && found.trim().length > 0) {
        return found;
      }
    }
    return undefined;
  };
  let said = direct(value);
  if (said === undefined) {
    for (const wrapper of ["response", "data"]) {
      const inner = get(value, wrapper);
      said = inner === undefined ? undefined : direct(inner);
      if (said !== undefined) {
        break;
      }
    }
  }
  const cleaned = said === undefined ? undefined : clean(said);
  return cleaned ? cleaned : undefined;
}

// ---------------------------------------------------------------------------
// URLs (guest/support url.rs).

/** The origin of an absolute http(s) URL, or why it has none. */
function parseEndpoint(raw) {
  const url = raw.trim();
  if (/[\s\u0000-\u001f\u007f-\u009f"<>\\^`{|}]/.test(url) || url.length === 0) {
    return { why: "is not a valid URL (no spaces or special characters)" };
  }
  const parts = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/.exec(url);
  if (!parts) {
    return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(url) && !/^[^:]*:\d/.test(url)
      ? { why: "must use http or https" }
      : { why: "must be an absolute URL starting with https:// or http://" };
  }
  const scheme = parts[1].toLowerCase();
  if (scheme !== "http" && scheme !== "https") {
    return { why: "must use http or https" };
  }
  const authority = parts[2];
  if (authority.includes("@")) {
    return { why: "must not contain a user name or password" };
  }
  if (authority.length === 0 || authority.startsWith(":")) {
    return { why: "has no host" };
  }
  // What wasi:http's request takes: the path and query, without a fragment.
  const rest = url.slice(parts[0].length).split("#")[0];
  const pathWithQuery = rest.length === 0 ? "/" : rest.startsWith("/") ? rest : `/${rest}`;
  return { url, scheme, authority, pathWithQuery, origin: `${scheme}://${authority.toLowerCase()}` };
}

// ---------------------------------------------------------------------------
// Settings (guest/support settings.rs, spec.rs).

/** A setting spec with the contract's defaults. */
function spec(name, label, kind, extra) {
  return {
    name,
    label,
    kind,
    scope: "server",
    required: false,
    default: undefined,
    help: "",
    choices: [],
    ...extra,
  };
}

function missing(name, label) {
  return fail("invalid-config", `missing required setting \`${name}\` (${label})`);
}

/** A setting's value checked against its kind. */
function normalise(s, raw) {
  const invalid = (what) => fail("invalid-config", `setting \`${s.name}\` (${s.label}) must be ${what}`);
  const trimmed = raw.trim();
  switch (s.kind) {
    case "text":
      return trimmed;
    // A password may start or end with a space: keep it as given.
    case "secret":
      return raw;
    case "number":
      if (number(trimmed) === undefined) {
        throw invalid("a decimal number");
      }
      return trimmed;
    case "boolean":
      if (["true", "1", "yes", "on"].includes(trimmed.toLowerCase())) {
        return "true";
      }
      if (["false", "0", "no", "off"].includes(trimmed.toLowerCase())) {
        return "false";
      }
      throw invalid("true or false");
    default: {
      const choice = s.choices.find((c) => c.toLowerCase() === trimmed.toLowerCase());
      if (choice === undefined) {
        throw invalid(`one of: ${s.choices.join(", ")}`);
      }
      return choice;
    }
  }
}

/** The call's settings checked against `specs`: a map of name to value. */
function parseSettings(given, specs) {
  const values = new Map();
  for (const s of specs) {
    const last = [...given].reverse().find((g) => g.name === s.name);
    const raw = last && last.value.trim().length > 0 ? last.value : s.default;
    if (raw !== undefined) {
      values.set(s.name, normalise(s, raw));
    } else if (s.required) {
      throw missing(s.name, s.label);
    }
  }
  return {
    get: (name) => values.get(name),
    require(name) {
      const value = values.get(name);
      if (value === undefined) {
        const s = specs.find((candidate) => candidate.name === name);
        throw s ? missing(s.name, s.label) : fail("invalid-config", `missing required setting \`${name}\``);
      }
      return value;
    },
    endpoint(name) {
      const parsed = parseEndpoint(this.require(name));
      if (parsed.why) {
        const s = specs.find((candidate) => candidate.name === name);
        throw fail("invalid-config", `setting \`${name}\` (${s ? s.label : name}) ${parsed.why}`);
      }
      return parsed;
    },
  };
}

// ---------------------------------------------------------------------------
// The service record (guest/support input.rs).

/** `value` trimmed, or undefined when absent or blank. */
function optional(value) {
  if (value === undefined || value === null) {
    return undefined;
  }
  const trimmed = value.trim();
  return trimmed.length > 0 ? trimmed : undefined;
}

/** `value` trimmed, or `invalid-input` naming the missing field. */
function required(value, field) {
  const found = optional(value);
  if (found === undefined) {
    throw fail("invalid-input", `the service has no \`${field}\``);
  }
  return found;
}

/** A non-blank argument of the call, or `invalid-input` naming it. */
function argument(value, name) {
  const found = optional(value);
  if (found === undefined) {
    throw fail("invalid-input", `\`${name}\` is empty`);
  }
  return found;
}

/** The first non-blank custom field named one of `names` (any case). */
function customField(service, names) {
  for (const [name, value] of service.customFields) {
    if (names.some((n) => n.toLowerCase() === name.trim().toLowerCase())) {
      const found = optional(value);
      if (found !== undefined) {
        return found;
      }
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// HTTP with a bounded body, and what an answer means (guest/support
// http.rs, response.rs).

/** The largest answer body read, in bytes. */
const BODY_LIMIT = 1024 * 1024;

/** JSON text with every object's keys sorted, as the Rust module sends. */
function sortedJson(value) {
  if (Array.isArray(value)) {
    return `[${value.map(sortedJson).join(",")}]`;
  }
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The contract's error for a wasi:http `error-code`, as the Rust module's. */
function errorCode(code, origin) {
  const tag = code && typeof code.tag === "string" ? code.tag : "unknown";
  switch (tag) {
    case "HTTP-request-denied":
      return fail(
        "transport",
        `request to ${origin} was denied by the host's allow-list (the operator has not granted this module that origin)`,
      );
    case "destination-IP-prohibited":
      return fail("transport", `the host refused to connect to the address of ${origin}`);
    case "DNS-error":
    case "destination-not-found":
      return fail("transport", `the host name of ${origin} could not be resolved`);
    case "connection-refused":
      return fail("transport", `${origin} refused the connection`);
    case "connection-terminated":
      return fail("transport", `the connection to ${origin} was closed before the answer was complete`);
    case "destination-unavailable":
    case "destination-IP-unroutable":
      return fail("transport", `${origin} is unreachable`);
    case "TLS-protocol-error":
    case "TLS-certificate-error":
    case "TLS-alert-received":
      return fail("transport", `TLS with ${origin} failed (${clean(tag)})`);
    case "DNS-timeout":
      return fail("timeout", `resolving the host name of ${origin} timed out`);
    case "connection-timeout":
      return fail("timeout", `connecting to ${origin} timed out`);
    case "connection-read-timeout":
    case "connection-write-timeout":
      return fail("timeout", `the connection to ${origin} stalled (${clean(tag)})`);
    case "HTTP-response-timeout":
      return fail("timeout", `${origin} did not answer in time`);
    case "HTTP-response-incomplete":
    case "HTTP-response-header-section-size":
    case "HTTP-response-header-size":
    case "HTTP-response-body-size":
    case "HTTP-response-trailer-section-size":
    case "HTTP-response-trailer-size":
    case "HTTP-response-transfer-coding":
    case "HTTP-response-content-coding":
    case "HTTP-protocol-error":
    case "HTTP-upgrade-failed":
      return fail("bad-response", `${origin} sent an HTTP answer that cannot be read (${clean(tag)})`);
    default:
      return fail("transport", `request to ${origin} failed (${clean(tag)})`);
  }
}

/** The value an import's `result` error was thrown with. */
const thrown = (error) => (error && error.payload !== undefined ? error.payload : error);

/** An answer's headers, looked up by name in any case as fetch's are. */
function answerHeaders(entries) {
  const byName = new Map();
  const text = new TextDecoder("utf-8", { fatal: true });
  for (const [name, value] of entries) {
    const key = name.toLowerCase();
    if (!byName.has(key)) {
      try {
        byName.set(key, text.decode(value));
      } catch {
        // A header that is not text is no header this module reads.
      }
    }
  }
  return { get: (name) => (byName.has(name.toLowerCase()) ? byName.get(name.toLowerCase()) : null) };
}

/** The bytes written to an output stream per call: wasi:io's guaranteed minimum. */
const WRITE_CHUNK = 4096;

/** The most bytes read from the answer per call. */
const READ_CHUNK = 64 * 1024;

/** POSTs `body` as JSON and reads the answer, its body bounded. wasi:http
 * is called directly, not through fetch(), so its error codes (a timeout
 * above all) reach the contract as the Rust module's do. */
async function postJson(endpoint, body) {
  const origin = endpoint.origin;
  const payload = new TextEncoder().encode(sortedJson(body));
  const request = new OutgoingRequest(
    Fields.fromList([
      ["user-agent", new TextEncoder().encode(USER_AGENT)],
      ["content-type", new TextEncoder().encode("application/json")],
    ]),
  );
  request.setMethod({ tag: "post" });
  request.setScheme({ tag: endpoint.scheme === "https" ? "HTTPS" : "HTTP" });
  request.setAuthority(endpoint.authority);
  request.setPathWithQuery(endpoint.pathWithQuery);
  const outgoing = request.body();
  let future;
  try {
    future = handle(request, undefined);
  } catch (error) {
    throw errorCode(thrown(error), origin);
  }
  const sink = outgoing.write();
  for (let at = 0; at < payload.length; at += WRITE_CHUNK) {
    sink.blockingWriteAndFlush(payload.subarray(at, at + WRITE_CHUNK));
  }
  sink[Symbol.dispose]();
  OutgoingBody.finish(outgoing, undefined);

  let ready = future.get();
  while (ready === undefined) {
    future.subscribe().block();
    ready = future.get();
  }
  if (ready.tag !== "ok") {
    throw fail("transport", `request to ${origin} failed`);
  }
  if (ready.val.tag !== "ok") {
    throw errorCode(ready.val.val, origin);
  }
  const response = ready.val.val;
  const status = response.status();
  const headers = answerHeaders(response.headers().entries());
  const tooLarge = () => fail("bad-response", `${origin} answered with a body larger than ${BODY_LIMIT} bytes`);
  const declared = headers.get("content-length");
  if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > BODY_LIMIT) {
    throw tooLarge();
  }
  const stream = response.consume().stream();
  const chunks = [];
  let length = 0;
  for (;;) {
    let chunk;
    try {
      chunk = stream.blockingRead(BigInt(Math.min(READ_CHUNK, BODY_LIMIT - length + 1)));
    } catch (error) {
      const why = thrown(error);
      if (why && why.tag === "closed") {
        break;
      }
      throw fail("transport", `the connection to ${origin} failed while reading the answer`);
    }
    length += chunk.length;
    if (length > BODY_LIMIT) {
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return { status, headers, bytes, origin };
}

/** The media type of the body, lower-cased, without parameters. */
function mediaType(headers) {
  const value = headers.get("content-type");
  const essence = value === null ? "" : value.split(";")[0].trim();
  return essence.length > 0 ? essence.toLowerCase() : undefined;
}

/** The error for an answer that is an error by its status alone. */
function byStatus(status, said, redirect) {
  if (status >= 300 && status <= 399) {
    return fail(
      "bad-response",
      redirect ? `${said}; it redirects to ${redirect}: check the endpoint setting` : `${said}; check the endpoint setting`,
    );
  }
  if (status === 401 || status === 403) {
    return fail("auth-failed", said);
  }
  if (status === 404) {
    return fail("bad-response", `${said}; check the endpoint setting`);
  }
  if (status === 408 || status === 504) {
    return fail("timeout", said);
  }
  if (status >= 500 && status <= 599) {
    return fail("provider", said);
  }
  return fail("bad-response", said);
}

/** The origin a 3xx answer redirects to, when it says. */
function redirectOrigin(answer) {
  if (answer.status < 300 || answer.status > 399) {
    return undefined;
  }
  const location = answer.headers.get("location");
  if (location === null) {
    return undefined;
  }
  const parsed = parseEndpoint(location);
  return parsed.why ? answer.origin : parsed.origin;
}

/** What a body that is not JSON was, without quoting it. */
function describeNonJson(answer, text, parseError) {
  if (answer.bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d)) {
    return "an empty body";
  }
  const media = mediaType(answer.headers);
  if (media !== undefined && !media.includes("json")) {
    return `a ${media} body`;
  }
  if (text !== undefined && text.trimStart().startsWith("<")) {
    return "an HTML or XML body";
  }
  if (parseError && /end of data|unterminated|end of input/i.test(parseError.message)) {
    // Where the text ends, counted as serde_json counts it (the Rust
    // module's words): the last line, and the characters on it.
    const lines = text.split("\n");
    return `truncated JSON (it ends at line ${lines.length}, column ${[...lines[lines.length - 1]].length})`;
  }
  const where = parseError ? /line (\d+) column (\d+)/.exec(parseError.message) : null;
  const position = where ? `line ${where[1]}, column ${where[2]}` : "an unknown position";
  return `malformed JSON at ${position}`;
}

/**
 * Decodes the answer as JSON whatever its Content-Type, or fails: 429
 * `rate-limited` (Retry-After in seconds), a body that is not JSON by
 * status, never quoting it.
 */
function intoJson(answer) {
  let bytes = answer.bytes;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    bytes = bytes.subarray(3);
  }
  let body;
  let text;
  let parseError;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    body = JSON.parse(text);
  } catch (error) {
    parseError = error;
  }
  if (answer.status === 429) {
    const retry = answer.headers.get("retry-after");
    const seconds = retry !== null && /^\d+$/.test(retry.trim()) ? Number(retry.trim()) : undefined;
    const said = parseError ? undefined : message(body);
    throw fail("rate-limited", {
      retryAfterSeconds: seconds !== undefined && seconds <= 0xffffffff ? seconds : undefined,
      message: said
        ? `HTTP 429 from ${answer.origin}: ${said}`
        : `${answer.origin} answered HTTP 429 (too many requests)`,
    });
  }
  if (parseError) {
    const said = `${answer.origin} answered HTTP ${answer.status} with ${describeNonJson(answer, text, parseError)}`;
    throw byStatus(answer.status, said, redirectOrigin(answer));
  }
  return { status: answer.status, origin: answer.origin, redirect: redirectOrigin(answer), body };
}

/** The error for a JSON reply the provider's mapping did not recognise. */
function unrecognised(reply) {
  const said = message(reply.body);
  const described = `HTTP ${reply.status}: ${said === undefined ? "no message" : said}`;
  const status = reply.status;
  if (status >= 200 && status <= 299) {
    return fail(
      "bad-response",
      said === undefined
        ? `${reply.origin} answered HTTP ${status} with JSON of an unexpected shape`
        : `${reply.origin} answered HTTP ${status} with JSON of an unexpected shape (message: ${said})`,
    );
  }
  if (status === 401 || status === 403) {
    return fail("auth-failed", described);
  }
  if (status === 404) {
    return fail("not-found", described);
  }
  if (status === 408 || status === 504) {
    return fail("timeout", described);
  }
  if (status >= 400 && status <= 599) {
    return fail("provider", described);
  }
  return byStatus(status, described, reply.redirect);
}

// ---------------------------------------------------------------------------
// HostMeNow: settings and info (guest/hostmenow info.rs).

const ENDPOINT = "endpoint";
const API_KEY = "api-key";
const IP_ADDRESS = "ip-address";

const SETTINGS = [
  spec(ENDPOINT, "API endpoint", "text", {
    required: true,
    default: "https://hostmenow.org/backstage/modules/addons/products_reseller/api.php",
    help: "URL of the Products Reseller API (api.php)",
  }),
  spec(API_KEY, "API key", "secret", {
    required: true,
    help: "API key from the HostMeNow reseller dashboard",
  }),
  spec(IP_ADDRESS, "Dedicated IP address", "text", {
    scope: "product",
    help:
      "Sent as ip_address when the product comes with a dedicated IP; " +
      "a service custom field `ip_address` overrides it",
  }),
];

// ---------------------------------------------------------------------------
// HostMeNow: the API (guest/hostmenow api.rs).

const ACTION = {
  GET_PRODUCTS: "Get_Products",
  CREATE: "CreateAccount",
  SUSPEND: "SuspendAccount",
  UNSUSPEND: "UnsuspendAccount",
  TERMINATE: "TerminateAccount",
  CHANGE_PASSWORD: "ChangePassword",
  CHANGE_PACKAGE: "ChangePackage",
  USAGE: "get_Bandwidth_Disk_Usage",
  SERVER_NAME: "GetServerName",
  SSO: "CreateSSOSession",
};

/** The error an answer's `message` stands for, matched loosely. */
function errorFor(said, action) {
  if (said === undefined) {
    return fail("provider", `${action} failed and the provider gave no message`);
  }
  const lower = said.toLowerCase();
  const has = (needle) => lower.includes(needle);
  if (has("invalid api key")) {
    return fail("auth-failed", `the API key was refused: ${said}`);
  }
  if (has("whitelist")) {
    return fail(
      "auth-failed",
      "the API key's IP whitelist rejected this host's address; " +
        `add the host's public IP in the reseller account: ${said}`,
    );
  }
  if (has("does not have permission") || lower.startsWith("forbidden")) {
    return fail("auth-failed", `the reseller account has no permission for ${action}: ${said}`);
  }
  if (has("no product selected")) {
    return fail("invalid-input", `${said}: the product is not assigned to the reseller group; check the package`);
  }
  if (has("insufficient balance")) {
    return fail("insufficient-funds", said);
  }
  if (has("service not found")) {
    return fail("not-found", said);
  }
  return fail("provider", said);
}

/** The answer's `status` word: success (with a 2xx), error, or other. */
function statusWord(reply) {
  const word = typeof get(reply.body, "status") === "string" ? reply.body.status.trim().toLowerCase() : undefined;
  if (word === "success" && reply.status >= 200 && reply.status <= 299) {
    return "success";
  }
  return word === "error" ? "error" : "other";
}

/** A client for one reseller account. */
function openApi(given) {
  const settings = parseSettings(given, SETTINGS);
  const endpoint = settings.endpoint(ENDPOINT);
  // A key pasted with a stray newline is still the key.
  const apiKey = settings.require(API_KEY).trim();
  return {
    settings,
    /** Runs `action`; the whole answer when it says `status: "success"`. */
    async call(action, params) {
      const answer = await postJson(endpoint, { action, api_key: apiKey, params });
      const reply = intoJson(answer);
      switch (statusWord(reply)) {
        case "success":
          return reply.body;
        case "error":
          throw errorFor(message(reply.body), action);
        default:
          if (reply.status === 403) {
            const known = errorFor(message(reply.body), action);
            // A 403 is a refusal even when its words are new to us.
            throw known.tag === "provider" ? fail("auth-failed", known.val) : known;
          }
          throw unrecognised(reply);
      }
    },
  };
}

/** The answer's message, or `fallback`. */
const messageOr = (body, fallback) => message(body) ?? fallback;

// ---------------------------------------------------------------------------
// HostMeNow: params of each action (guest/hostmenow params.rs).

const IP_FIELDS = ["ip_address", "ip-address", "dedicated-ip"];

/** Whether `text` is an IPv4 address in dotted decimal (no leading zeros). */
function isIpv4(text) {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** Whether `text` is an IPv6 address (with `::` and an IPv4 tail allowed). */
function isIpv6(text) {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || (text.match(/::/g) || []).length > 1) {
    return false;
  }
  let groups = text.split(":");
  const tail = groups[groups.length - 1];
  let width = 8;
  if (tail.includes(".")) {
    if (!isIpv4(tail)) {
      return false;
    }
    groups = groups.slice(0, -1);
    width = 6;
  }
  const compressed = text.includes("::");
  const filled = groups.filter((g) => g.length > 0);
  if (!filled.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) {
    return false;
  }
  return compressed ? filled.length < width : filled.length === width && groups.length === width;
}

const isIp = (text) => isIpv4(text) || isIpv6(text);

/** The dedicated IP: the service's custom field, else the product's setting. */
function ipAddress(service, settings) {
  const field = customField(service, IP_FIELDS);
  if (field !== undefined) {
    if (!isIp(field)) {
      throw fail("invalid-input", "the service's custom field `ip_address` is not an IP address");
    }
    return field;
  }
  const setting = settings.get(IP_ADDRESS);
  if (setting !== undefined && !isIp(setting)) {
    throw fail("invalid-config", `setting \`${IP_ADDRESS}\` (Dedicated IP address) must be an IPv4 or IPv6 address`);
  }
  return setting;
}

/** `serviceid` alone: the provider knows services by the platform's id. */
function serviceIdParams(service) {
  return { serviceid: required(service.serviceId, "service-id") };
}

/** `serviceid` plus `domain`, `username` and `ip_address` when known. */
function accountParams(service, settings) {
  const params = serviceIdParams(service);
  const domain = optional(service.domain);
  if (domain !== undefined) {
    params.domain = domain;
  }
  const username = optional(service.username);
  if (username !== undefined) {
    params.username = username;
  }
  const ip = ipAddress(service, settings);
  if (ip !== undefined) {
    params.ip_address = ip;
  }
  return params;
}

/** The billing cycle as the provider spells it ("Semi-Annually" -> "semiannually"). */
const billingCycle = (cycle) => cycle.replace(/[-_ ]/g, "").toLowerCase();

/** `CreateAccount`'s params, or `invalid-input` naming the first missing field. */
function createParams(service, settings) {
  const params = accountParams(service, settings);
  params.billingcycle = billingCycle(required(service.billingCycle, "billing-cycle"));
  params.qty = "1";
  params.domain = required(service.domain, "domain");
  params.username = required(service.username, "username");
  // Passwords are kept exactly as given; only a blank one is missing.
  if (service.password === undefined || service.password === null || service.password.trim().length === 0) {
    throw fail("invalid-input", "the service has no `password`");
  }
  params.password = service.password;
  params.selected_product = required(service.package, "package");
  return params;
}

// ---------------------------------------------------------------------------
// HostMeNow: answers (guest/hostmenow products.rs, usage.rs, sso.rs).

const CYCLES = ["monthly", "quarterly", "semiannually", "annually", "biennially", "triennially"];
const KNOWN_PRODUCT_FIELDS = ["product_id", "product_name", "description", "billing_cycles"];

/** One price per offered cycle; WHMCS prices a cycle it does not offer at -1. */
function prices(product) {
  const cycles = get(product, "billing_cycles");
  if (cycles === undefined || typeof cycles !== "object" || Array.isArray(cycles)) {
    return [];
  }
  const currency = text(get(product, "currency"));
  const listed = [];
  for (const cycle of Object.keys(cycles).sort()) {
    const entry = cycles[cycle];
    const isObject = entry !== null && typeof entry === "object" && !Array.isArray(entry);
    const amount = isObject ? text(get(entry, "price")) : text(entry);
    if (amount === undefined) {
      continue;
    }
    const n = number(amount);
    if (n !== undefined && n < 0) {
      continue;
    }
    const setupFee = text(get(entry, "setup_fee"));
    const ownCurrency = text(get(entry, "currency"));
    listed.push({
      cycle: cycle.toLowerCase(),
      amount,
      setupFee,
      currency: ownCurrency ?? currency,
    });
  }
  const rank = (p) => {
    const at = CYCLES.indexOf(p.cycle);
    return at < 0 ? CYCLES.length : at;
  };
  // A stable sort by rank, then by name, as the Rust module's.
  return listed.sort((a, b) => rank(a) - rank(b) || (a.cycle < b.cycle ? -1 : a.cycle > b.cycle ? 1 : 0));
}

function toPackage(product) {
  if (product === null || typeof product !== "object" || Array.isArray(product)) {
    throw fail("bad-response", "a product in the answer is not an object");
  }
  const id = text(get(product, "product_id"));
  if (id === undefined) {
    throw fail("bad-response", "a product in the answer has no product_id");
  }
  const details = [];
  for (const key of Object.keys(product).sort()) {
    if (!KNOWN_PRODUCT_FIELDS.includes(key)) {
      const value = text(product[key]);
      if (value !== undefined) {
        details.push([key, value]);
      }
    }
  }
  return {
    id,
    name: text(get(product, "product_name")) ?? id,
    description: text(get(product, "description")),
    prices: prices(product),
    details,
  };
}

const products = (body) => itemsUnder(body, "data", "product");

/** `0` or "unlimited" means no limit. */
function limit(value) {
  const t = text(value);
  if (t !== undefined && t.toLowerCase() === "unlimited") {
    return { tag: "unlimited" };
  }
  const n = number(value);
  if (n === undefined) {
    return undefined;
  }
  if (n === 0) {
    return { tag: "unlimited" };
  }
  return n > 0 ? { tag: "value", val: n } : undefined;
}

function figure(name, value, usedKeys) {
  const bad = (what) => fail("bad-response", `the ${name} usage in the answer ${what}`);
  let used;
  for (const key of usedKeys) {
    const found = get(value, key);
    if (found !== undefined) {
      used = number(found);
      break;
    }
  }
  if (used === undefined || !(used >= 0)) {
    throw bad("has no usable used amount");
  }
  const limitValue = get(value, "limit_mb");
  const parsed = limitValue === undefined ? undefined : limit(limitValue);
  if (parsed === undefined) {
    throw bad("has no usable limit_mb");
  }
  return { name, unit: "MB", used, limit: parsed };
}

const WRAPPERS = ["data"];

function usageOf(body) {
  const disk = find(body, "disk_usage", WRAPPERS);
  const bandwidth = find(body, "bandwidth_usage", WRAPPERS);
  if (disk === undefined && bandwidth === undefined) {
    throw fail("bad-response", "the usage answer has neither disk_usage nor bandwidth_usage");
  }
  const figures = [];
  if (disk !== undefined) {
    figures.push(figure("disk", disk, ["used_mb"]));
  }
  if (bandwidth !== undefined) {
    figures.push(figure("bandwidth", bandwidth, ["current_month_mb", "used_mb"]));
  }
  const updated = find(body, "last_updated", WRAPPERS);
  return { figures, updatedAt: updated === undefined ? undefined : text(updated) };
}

function serverName(body) {
  const name = find(body, "server_name", WRAPPERS);
  const found = name === undefined ? undefined : text(name);
  if (found === undefined) {
    throw fail("bad-response", "GetServerName answered without a server_name");
  }
  return found;
}

function requireCpanel(name) {
  if (!name.toLowerCase().includes("cpanel")) {
    throw fail(
      "unsupported",
      `single sign-on is only available for cPanel services; this one runs on ${clean(name)}`,
    );
  }
}

/** The login URL: it must be an http(s) URL, since a browser opens it. */
function loginUrl(body) {
  const found = find(body, "url", WRAPPERS);
  const url = found === undefined ? undefined : text(found);
  if (url === undefined) {
    throw fail("bad-response", "CreateSSOSession answered without a url");
  }
  const parsed = parseEndpoint(url);
  if (parsed.why) {
    // The URL carries a session token: say what is wrong, not what it is.
    throw fail("bad-response", `the single sign-on URL in the answer ${parsed.why}`);
  }
  return url;
}

// ---------------------------------------------------------------------------
// HostMeNow: the functions (guest/hostmenow lib.rs).

/** Runs `action` and reports the provider's own words. */
async function run(api, action, params) {
  const body = await api.call(action, params);
  return { message: messageOr(body, `${action} succeeded`), credentials: [] };
}

/** Runs an account action, `extra` adding to its params. */
async function accountAction(given, service, action, extra) {
  const api = openApi(given);
  const params = accountParams(service, api.settings);
  extra(params);
  return run(api, action, params);
}

/** The contract's `module` interface. */
export const module = {
  info() {
    return {
      id: "hostmenow",
      name: "HostMeNow Products Reseller",
      version: VERSION,
      // No service-status: the API has no call that reports one.
      functions: [
        "test-connection",
        "create-account",
        "suspend",
        "unsuspend",
        "terminate",
        "change-password",
        "change-package",
        "usage-data",
        "list-packages",
        "single-sign-on",
      ],
      settings: SETTINGS,
      outboundHosts: ["https://hostmenow.org"],
    };
  },

  async testConnection(given) {
    const api = openApi(given);
    const body = await api.call(ACTION.GET_PRODUCTS, {});
    const count = products(body).length;
    return {
      message: `Connected; ${count} product(s) available to this reseller account`,
      details: [["products", String(count)]],
    };
  },

  async createAccount(given, service) {
    const api = openApi(given);
    const body = await api.call(ACTION.CREATE, createParams(service, api.settings));
    const orderId = find(body, "order_id", WRAPPERS);
    return {
      remoteId: (orderId === undefined ? undefined : text(orderId)) ?? service.serviceId.trim(),
      alreadyExisted: false,
      status: "active",
      message: messageOr(body, "Account created"),
      // The password came from the platform; nothing new to hand over.
      credentials: [],
    };
  },

  suspend(given, service, reason) {
    return accountAction(given, service, ACTION.SUSPEND, (params) => {
      const why = optional(reason);
      if (why !== undefined) {
        params.suspendreason = why;
      }
    });
  },

  unsuspend(given, service) {
    return accountAction(given, service, ACTION.UNSUSPEND, () => {});
  },

  terminate(given, service) {
    return accountAction(given, service, ACTION.TERMINATE, () => {});
  },

  async changePassword(given, service, newPassword) {
    const api = openApi(given);
    if (newPassword.trim().length === 0) {
      throw fail("invalid-input", "`new-password` is empty");
    }
    const params = accountParams(service, api.settings);
    params.password = newPassword;
    return run(api, ACTION.CHANGE_PASSWORD, params);
  },

  async changePackage(given, service, newPackage) {
    const api = openApi(given);
    const params = accountParams(service, api.settings);
    params.selected_product = argument(newPackage, "new-package");
    // The provider may resolve the package on its side and ignore ours:
    // report only what it says.
    return run(api, ACTION.CHANGE_PACKAGE, params);
  },

  changeDomain() {
    throw fail("unsupported", "the HostMeNow API has no call that moves a service to another domain");
  },

  async usageData(given, service) {
    const api = openApi(given);
    return usageOf(await api.call(ACTION.USAGE, serviceIdParams(service)));
  },

  async listPackages(given) {
    const api = openApi(given);
    return products(await api.call(ACTION.GET_PRODUCTS, {})).map(toPackage);
  },

  async singleSignOn(given, service, app) {
    const api = openApi(given);
    requireCpanel(serverName(await api.call(ACTION.SERVER_NAME, serviceIdParams(service))));
    const params = serviceIdParams(service);
    const chosen = optional(app);
    if (chosen !== undefined) {
      params.app = chosen;
    }
    return loginUrl(await api.call(ACTION.SSO, params));
  },

  serviceStatus() {
    throw fail("unsupported", "the HostMeNow API has no call that reports a service's status");
  },

  listAccounts() {
    throw fail(
      "unsupported",
      "the HostMeNow API has no call that lists the reseller's accounts " +
        "(every account call takes one service id)",
    );
  },
};
