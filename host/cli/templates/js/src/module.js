// A provider module: the contract of `wit/provisioning.wit` (world
// `provider`) mapped onto one provider's API, built into a component by
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

/** GETs `url` and reads its JSON answer; an answer that is not a 2xx with
 * JSON becomes the contract's error for it. The provider's words are
 * quoted only from a JSON `message`, never the raw body. */
async function getJson(url, headers) {
  const origin = new URL(url).origin;
  let response;
  try {
    response = await fetch(url, { headers });
  } catch {
    // fetch() hides why no answer came (refused, unknown name, denied by
    // the host's allow-list): all of them are `transport`.
    throw fail("transport", `request to ${origin} failed`);
  }
  let body;
  try {
    body = await response.json();
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

  async testConnection(given) {
    const url = `${endpoint(given)}/status`;
    const { said, origin } = await getJson(url, { authorization: `Bearer ${settingValue(given, API_KEY)}` });
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
