<?php

/**
 * The client of `provisioning serve`'s JSON API (host/cli/openapi.json):
 * where the host is (the WHMCS server record), one HTTP request with its
 * bearer token, the loaded modules and their info (read once per WHMCS
 * request), and the API's calls the module makes: a module function
 * (`POST /v1/modules/{module}/call`), a service's live status, and a whole
 * server's usage (`POST /v1/usage`). Every exchange is logged through
 * sandboxed_log, its secrets masked.
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

/** Default port of `provisioning serve`. */
const SANDBOXED_DEFAULT_PORT = 8790;

/** The most services one `POST /v1/usage` may name (the host's cap). */
const SANDBOXED_USAGE_BATCH = 10000;

/** Seconds a `POST /v1/usage` may take: a whole server's usage. */
const SANDBOXED_USAGE_TIMEOUT = 1800;

/**
 * What the module learns once per WHMCS request (each page load or cron
 * run is a PHP process of its own): the hosts' module lists, so one page
 * asks each host once, and each service's pending journal entries, so a
 * service's admin page (its buttons, then its tab, both asking) reads them
 * once. Any request that may change the journal (every POST) forgets the
 * entries.
 */
final class SandboxedRequestCache
{
    /** @var array<string, array<string, array<string, mixed>>> module lists by host and token digest */
    public static array $modules = [];

    /** @var array<string, list<array<string, mixed>>> pending entries by host, token digest, module and service */
    public static array $entries = [];
}

/**
 * Where the host is and its token: the WHMCS server record (hostname or
 * IP, port, secure; the access hash, else the password, as the token).
 *
 * @param array<string, mixed> $params module or server parameters
 *
 * @return array{url: string, token: string}
 */
function sandboxed_connection(array $params): array
{
    $host = trim((string) ($params['serverhostname'] ?? ''));
    if ($host === '') {
        $host = trim((string) ($params['serverip'] ?? ''));
    }
    if ($host === '') {
        throw new SandboxedFailure('invalid-config', 'no provisioning serve to call: assign the product a server'
            . ' group with a "Sandboxed provisioning modules" server (hostname, port, the token as password)');
    }
    if (preg_match('#^https?://#i', $host)) {
        $url = rtrim($host, '/');
    } else {
        $secure = in_array(strtolower((string) ($params['serversecure'] ?? '')), ['1', 'on', 'true', 'yes'], true)
            || strtolower((string) ($params['serverhttpprefix'] ?? '')) === 'https';
        if (str_contains($host, ':') && !str_starts_with($host, '[')) {
            $host = '[' . $host . ']';
        }
        $port = (int) ($params['serverport'] ?? 0);
        if ($port <= 0) {
            $port = $secure ? 443 : SANDBOXED_DEFAULT_PORT;
        }
        $url = ($secure ? 'https' : 'http') . '://' . $host . ':' . $port;
    }
    $token = (string) ($params['serveraccesshash'] ?? '');
    if (trim($token) === '') {
        $token = (string) ($params['serverpassword'] ?? '');
    }
    if (trim($token) === '') {
        throw new SandboxedFailure('invalid-config', "no token for provisioning serve: set the server's"
            . ' password or access hash');
    }
    return ['url' => $url, 'token' => trim($token)];
}

/**
 * One request to the host. Answers the raw body and the decoded JSON of a
 * 200; throws on transport errors, non-JSON and refusals (4xx, 5xx), with
 * the API's error kind when it gave one.
 *
 * @param array{url: string, token: string} $connection the host
 * @param string                             $method     GET or POST
 * @param string                             $path       e.g. /v1/modules
 * @param array<string, mixed>|object|null   $body       JSON body to send
 * @param int                                $timeout    seconds the whole request may take
 *
 * @return array{0: string, 1: array<string, mixed>}
 */
function sandboxed_http(array $connection, string $method, string $path, array|object|null $body = null, int $timeout = 120): array
{
    if (!function_exists('curl_init')) {
        throw new SandboxedFailure('invalid-config', "PHP's curl extension is not installed");
    }
    if ($method !== 'GET') {
        // A call or an acknowledgement may change what is pending.
        SandboxedRequestCache::$entries = [];
    }
    $handle = curl_init($connection['url'] . $path);
    $headers = ['Authorization: Bearer ' . $connection['token'], 'Accept: application/json'];
    $options = [
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_CUSTOMREQUEST => $method,
        CURLOPT_CONNECTTIMEOUT => 5,
        // A call is bounded by its module's deadline (30 s by default).
        CURLOPT_TIMEOUT => $timeout,
        CURLOPT_FOLLOWLOCATION => false,
        CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
    ];
    if ($body !== null) {
        $headers[] = 'Content-Type: application/json';
        $options[CURLOPT_POSTFIELDS] = sandboxed_json($body);
    }
    $options[CURLOPT_HTTPHEADER] = $headers;
    curl_setopt_array($handle, $options);
    $raw = curl_exec($handle);
    $errno = curl_errno($handle);
    $error = curl_error($handle);
    $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
    curl_close($handle);
    $where = 'provisioning serve at ' . $connection['url'];
    if ($raw === false || $errno !== 0) {
        if ($errno === CURLE_OPERATION_TIMEDOUT) {
            throw new SandboxedFailure('timeout', "{$where} did not answer in time; a mutating call may still"
                . ' finish, and its outcome will be in the journal (`provisioning journal pending`)');
        }
        throw new SandboxedFailure('transport', "could not reach {$where}: {$error}");
    }
    $decoded = json_decode((string) $raw, true);
    if (!is_array($decoded)) {
        throw new SandboxedFailure('bad-response', "{$where} answered HTTP {$status} with something that is not JSON");
    }
    if ($status === 401) {
        throw new SandboxedFailure('unauthorized', "{$where} refused the token (the server's access hash or password)");
    }
    if ($status !== 200) {
        $kind = (string) ($decoded['error']['kind'] ?? 'http-' . $status);
        $message = (string) ($decoded['error']['message'] ?? "HTTP {$status}");
        throw new SandboxedFailure($kind, "{$where} refused the request (HTTP {$status}): {$message}");
    }
    return [(string) $raw, $decoded];
}

/**
 * JSON as sent to the host.
 *
 * @param mixed $value any value
 */
function sandboxed_json(mixed $value): string
{
    try {
        return json_encode($value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
    } catch (JsonException $error) {
        throw new SandboxedFailure('invalid-input', 'a value cannot be sent as JSON: ' . $error->getMessage());
    }
}

/**
 * The loaded modules by name, each with its info, read once per request.
 *
 * @param array{url: string, token: string} $connection the host
 *
 * @return array<string, array{name: string, info: array<string, mixed>}>
 */
function sandboxed_modules(array $connection): array
{
    $cache = &SandboxedRequestCache::$modules;
    $cacheKey = $connection['url'] . "\0" . hash('sha256', $connection['token']);
    if (!isset($cache[$cacheKey])) {
        [, $list] = sandboxed_http($connection, 'GET', '/v1/modules');
        $modules = [];
        foreach ($list['modules'] ?? [] as $module) {
            $modules[(string) $module['name']] = [
                'name' => (string) $module['name'],
                'info' => sandboxed_normalize_info($module['info'] ?? []),
            ];
        }
        ksort($modules);
        $cache[$cacheKey] = $modules;
        sandboxed_remember_info(array_map(static fn (array $m): array => $m['info'], $modules));
    }
    return $cache[$cacheKey];
}

/**
 * One module's normalized info.
 *
 * @param array{url: string, token: string} $connection the host
 * @param string                             $module     module name
 *
 * @return array<string, mixed>
 */
function sandboxed_module_info(array $connection, string $module): array
{
    $modules = sandboxed_modules($connection);
    if (!isset($modules[$module])) {
        throw new SandboxedFailure('unknown-module', "no module named `{$module}` is loaded by provisioning serve");
    }
    return $modules[$module]['info'];
}

/**
 * The info as serve describes it (every enum value the contract's word,
 * "test-connection", "secret"), its name a string and its lists present.
 *
 * @param array<string, mixed> $info module info as served
 *
 * @return array<string, mixed>
 */
function sandboxed_normalize_info(array $info): array
{
    $info['name'] = (string) ($info['name'] ?? '');
    $info['functions'] ??= [];
    $info['settings'] ??= [];
    return $info;
}

/**
 * The modules a server stands for: every module its host loads, or only
 * the one named as the server's username.
 *
 * @param array{url: string, token: string} $connection the host
 * @param array<string, mixed>              $params     server parameters
 *
 * @return array<string, array<string, mixed>> by module name
 */
function sandboxed_server_modules(array $connection, array $params): array
{
    $modules = sandboxed_modules($connection);
    $only = trim((string) ($params['serverusername'] ?? ''));
    if ($only !== '') {
        if (!isset($modules[$only])) {
            throw new SandboxedFailure('unknown-module', "no module named `{$only}` is loaded");
        }
        $modules = [$only => $modules[$only]];
    }
    if ($modules === []) {
        throw new SandboxedFailure('invalid-config', 'the host has no module loaded');
    }
    return $modules;
}

/**
 * Calls one function of a module and logs the exchange. Answers the
 * CallResult (`ok` or `error`, `journal_entry`, `replayed`); throws when the
 * host refused the request or could not be reached.
 *
 * @param array{url: string, token: string}             $connection the host
 * @param string                                         $module     module name in the manifest
 * @param array<string, mixed>                           $request    the contract's request
 * @param list<array{name: string, value: string}>       $settings   per-call settings
 * @param string|null                                    $key        idempotency key
 * @param string                                         $action     the WHMCS function, for the log
 * @param list<string>                                   $secrets    values to mask in the log
 *
 * @return array<string, mixed>
 */
function sandboxed_call(
    array $connection,
    string $module,
    array $request,
    array $settings,
    ?string $key,
    string $action,
    array $secrets
): array {
    $body = ['request' => $request];
    if ($settings !== []) {
        $body['settings'] = $settings;
    }
    if ($key !== null) {
        $body['idempotency_key'] = $key;
    }
    $path = '/v1/modules/' . rawurlencode($module) . '/call';
    // Whatever the caller named, the passwords the request carries are secret.
    $secrets[] = $connection['token'];
    $secrets[] = (string) ($request['service']['password'] ?? '');
    $secrets[] = (string) ($request['new_password'] ?? '');
    try {
        [$raw, $result] = sandboxed_http($connection, 'POST', $path, $body);
    } catch (SandboxedFailure $failure) {
        sandboxed_log($action, "POST {$path}\n" . sandboxed_json($body), $failure->describe(), [], $secrets);
        throw $failure;
    }
    if (!isset($result['ok']) && !isset($result['error'])) {
        sandboxed_log($action, "POST {$path}\n" . sandboxed_json($body), $raw, $result, $secrets);
        throw new SandboxedFailure('bad-response', 'provisioning serve answered neither `ok` nor `error`');
    }
    // Credentials and login URLs the answer carries are secrets too.
    foreach ($result['ok']['value']['credentials'] ?? [] as $credential) {
        if (!empty($credential['secret'])) {
            $secrets[] = (string) $credential['value'];
        }
    }
    if (($result['ok']['kind'] ?? '') === 'sign-on') {
        $secrets[] = (string) $result['ok']['value'];
    }
    sandboxed_log($action, "POST {$path}\n" . sandboxed_json($body), $raw, $result, $secrets);
    return $result;
}

/**
 * The live status at the provider: state (the contract's word) and details.
 *
 * @param array<string, mixed>              $params     module parameters
 * @param array{url: string, token: string} $connection the host
 * @param array<string, mixed>              $info       normalized module info
 * @param string                            $action     the WHMCS function, for the log
 *
 * @return array{state: string, details: list<array{0: string, 1: string}>}
 */
function sandboxed_status(array $params, array $connection, array $info, string $action): array
{
    $module = sandboxed_module_name($params);
    if (!in_array('service-status', $info['functions'], true)) {
        throw new SandboxedFailure('unsupported', $info['name'] . ' reports no status');
    }
    [$settings, $secrets] = sandboxed_product_settings($params, $info);
    $service = sandboxed_service($params);
    $service['custom_fields'] = sandboxed_custom_fields($params, $info);
    $result = sandboxed_call($connection, $module, ['function' => 'service-status', 'service' => $service], $settings, null, $action, array_merge($secrets, sandboxed_param_secrets($params)));
    if (isset($result['error'])) {
        throw sandboxed_error_failure($result['error'], $module);
    }
    $value = $result['ok']['value'] ?? [];
    $details = [];
    foreach ($value['details'] ?? [] as $detail) {
        $details[] = [(string) ($detail[0] ?? ''), (string) ($detail[1] ?? '')];
    }
    return ['state' => (string) ($value['state'] ?? 'unknown'), 'details' => $details];
}

/**
 * One `POST /v1/usage`: every job's report, in the jobs' order, logged as
 * one exchange.
 *
 * @param array{url: string, token: string} $connection the host
 * @param list<array<string, mixed>>         $jobs       {module, service, settings?}
 * @param list<string>                       $secrets    values to mask in the log
 *
 * @return list<array<string, mixed>>
 */
function sandboxed_read_usage(array $connection, array $jobs, array $secrets): array
{
    $body = ['services' => $jobs];
    $request = 'POST /v1/usage (' . count($jobs) . " services)\n" . sandboxed_json($body);
    try {
        // However many services, the host paces each module's provider:
        // allow the request the time a large server takes.
        [$raw, $answer] = sandboxed_http($connection, 'POST', '/v1/usage', $body, SANDBOXED_USAGE_TIMEOUT);
    } catch (SandboxedFailure $failure) {
        sandboxed_log('UsageUpdate', $request, $failure->describe(), [], $secrets);
        throw $failure;
    }
    sandboxed_log('UsageUpdate', $request, $raw, $answer, $secrets);
    $results = $answer['results'] ?? null;
    if (!is_array($results) || count($results) !== count($jobs)) {
        throw new SandboxedFailure('bad-response', 'provisioning serve answered ' . (is_array($results) ? count($results) : 'no')
            . ' usage results for ' . count($jobs) . ' services');
    }
    return $results;
}
