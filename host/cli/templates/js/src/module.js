// A provider module: the contract of `wit/provisioning.wit` (world
// `provider-http`) mapped onto one provider's API, built into a component by
// componentize-js (`npm run build`).
//
// It starts with one function, `testConnection`, which asks the API at the
// `endpoint` setting whether the `api-key` setting is accepted; every other
// function answers `unsupported`. Map the provider's calls one function at
// a time: implement it below, add it to `info().functions`, and declare any
// setting it needs in SETTINGS.
//
// A function returns its record or throws one case of the contract's
// `error` variant ({tag, val}); anything else thrown is a bug and traps.
//
// HTTP goes through the world's wasi:http bindings rather than fetch():
// fetch() hides wasi:http's error codes, so a provider that never answers
// would read as `transport` instead of `timeout`.

import { handle } from "wasi:http/outgoing-handler@0.2.12";
import { Fields, OutgoingRequest } from "wasi:http/types@0.2.12";

/** The module's id: the host checks a new version against it. */
const ID = "{{name}}";
/** The module's version (semver), as its `info` says. */
const VERSION = "0.1.0";

/** The setting holding the base URL of the provider's API. */
const ENDPOINT = "endpoint";
/** The setting holding the API key: a secret, which the host masks in
 * every log, error and answer. */
const API_KEY = "api-key";

/** The settings every call takes, as a billing platform asks the operator
 * for them. */
const SETTINGS = [
  setting(ENDPOINT, "API endpoint", "text", "Base URL of the provider's API, e.g. https://api.example.com/v1"),
  setting(API_KEY, "API key", "secret", "The reseller's API key"),
];

/** A required server setting as the contract's `setting-spec`. */
function setting(name, label, kind, help) {
  return { name, label, kind, scope: "server", required: true, default: undefined, help, choices: [] };
}

/** A failure as the contract's `error` variant. */
const fail = (tag, val) => ({ tag, val });

/** The value of the setting `name` (the last one given), or
 * `invalid-config`. */
function settingValue(given, name) {
  const found = [...given].reverse().find((s) => s.name === name);
  const value = found === undefined ? "" : found.value.trim();
  if (value.length === 0) {
    throw fail("invalid-config", `missing required setting \`${name}\``);
  }
  return value;
}

/** The `endpoint` setting as a URL without its trailing `/`. */
function endpoint(given) {
  const raw = settingValue(given, ENDPOINT);
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw fail("invalid-config", `setting \`${ENDPOINT}\` is not an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw fail("invalid-config", `setting \`${ENDPOINT}\` must use http or https`);
  }
  return raw.replace(/\/+$/, "");
}

/** The largest answer body read, in bytes. */
const BODY_LIMIT = 1024 * 1024;

/** The contract's error for a wasi:http `error-code` (`{tag}`). */
function errorCode(code, origin) {
  const tag = code && typeof code.tag === "string" ? code.tag : "unknown";
  if (tag === "HTTP-request-denied") {
    return fail("transport", `request to ${origin} was denied by the host's allow-list`);
  }
  if (tag.endsWith("-timeout")) {
    return fail("timeout", `${origin} did not answer in time (${tag})`);
  }
  if (tag.startsWith("HTTP-")) {
    return fail("bad-response", `${origin} sent an HTTP answer that cannot be read (${tag})`);
  }
  return fail("transport", `request to ${origin} failed (${tag})`);
}

/** The value an import's `result` error was thrown with. */
const thrown = (error) => (error && error.payload !== undefined ? error.payload : error);

/** GETs `url` over wasi:http: the status, the headers by lower-case name,
 * and the body (at most BODY_LIMIT bytes). */
function get(url, headers) {
  const origin = url.origin;
  const encode = (text) => new TextEncoder().encode(text);
  const request = new OutgoingRequest(Fields.fromList(Object.entries(headers).map(([k, v]) => [k, encode(v)])));
  request.setScheme({ tag: url.protocol === "https:" ? "HTTPS" : "HTTP" });
  request.setAuthority(url.host);
  request.setPathWithQuery(`${url.pathname}${url.search}`);
  let future;
  try {
    future = handle(request, undefined);
  } catch (error) {
    throw errorCode(thrown(error), origin);
  }
  let ready = future.get();
  while (ready === undefined) {
    future.subscribe().block();
    ready = future.get();
  }
  if (ready.tag !== "ok" || ready.val.tag !== "ok") {
    throw errorCode(ready.tag === "ok" ? ready.val.val : undefined, origin);
  }
  const response = ready.val.val;
  const answerHeaders = new Map(response.headers().entries().map(([k, v]) => [k.toLowerCase(), new TextDecoder().decode(v)]));
  const stream = response.consume().stream();
  const chunks = [];
  let length = 0;
  for (;;) {
    let chunk;
    try {
      chunk = stream.blockingRead(BigInt(64 * 1024));
    } catch (error) {
      if (thrown(error)?.tag === "closed") {
        break;
      }
      throw fail("transport", `the connection to ${origin} failed while reading the answer`);
    }
    length += chunk.length;
    if (length > BODY_LIMIT) {
      throw fail("bad-response", `${origin} answered with a body larger than ${BODY_LIMIT} bytes`);
    }
    chunks.push(chunk);
  }
  const body = new Uint8Array(length);
  chunks.reduce((at, chunk) => (body.set(chunk, at), at + chunk.length), 0);
  return { status: response.status(), headers: answerHeaders, body };
}

/** GETs `url` and reads its JSON answer; an answer that is not a 2xx with
 * JSON becomes the contract's error for it. The provider's words are
 * quoted only from a JSON `message`, never the raw body. */
function getJson(url, headers) {
  const parsed = new URL(url);
  const origin = parsed.origin;
  const response = get(parsed, headers);
  let body;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(response.body));
  } catch {
    body = undefined;
  }
  const said = body && typeof body.message === "string" ? body.message.trim().slice(0, 500) : "";
  const what = `${origin} answered HTTP ${response.status}${said ? `: ${said}` : ""}`;
  const status = response.status;
  if (status === 429) {
    const retry = Number.parseInt(response.headers.get("retry-after") ?? "", 10);
    throw fail("rate-limited", { retryAfterSeconds: Number.isNaN(retry) ? undefined : retry, message: what });
  }
  if (status === 401 || status === 403) {
    throw fail("auth-failed", what);
  }
  if (status === 408 || status === 504) {
    throw fail("timeout", what);
  }
  if (status >= 500) {
    throw fail("provider", what);
  }
  if (status < 200 || status > 299 || body === undefined) {
    throw fail("bad-response", body === undefined ? `${what} without a JSON body` : what);
  }
  return { body, said, origin };
}

/** What every function the module does not support throws. */
function unsupported(fn) {
  return () => {
    throw fail("unsupported", `${fn} is not supported by this module`);
  };
}

/** The contract's `module` interface. */
export const module = {
  info() {
    return {
      id: ID,
      name: ID,
      version: VERSION,
      functions: ["test-connection"],
      settings: SETTINGS,
      // The endpoint is a setting, so the module names no origin of its
      // own: the operator's allow-list grants the endpoint's.
      outboundHosts: [],
    };
  },

  testConnection(given) {
    const url = `${endpoint(given)}/status`;
    const { said, origin } = getJson(url, { authorization: `Bearer ${settingValue(given, API_KEY)}` });
    return { message: said || `connected to ${origin}`, details: [] };
  },

  createAccount: unsupported("create-account"),
  suspend: unsupported("suspend"),
  unsuspend: unsupported("unsuspend"),
  terminate: unsupported("terminate"),
  changePassword: unsupported("change-password"),
  changePackage: unsupported("change-package"),
  changeDomain: unsupported("change-domain"),
  usageData: unsupported("usage-data"),
  listPackages: unsupported("list-packages"),
  singleSignOn: unsupported("single-sign-on"),
  serviceStatus: unsupported("service-status"),
  listAccounts: unsupported("list-accounts"),
};
