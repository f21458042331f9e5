<?php

/**
 * The journal discipline of the `sandboxed` server module: how a mutating
 * call's outcome reaches WHMCS and the host's journal.
 *
 * A mutating call's answer (and any credentials the provider generated) is
 * first stored in WHMCS (service username/password through
 * `localAPI('UpdateClientProduct')`, the remote id in the service's "Remote
 * ID" custom field through `serviceProperties`), then its journal entry is
 * acknowledged. A refused call's entry is acknowledged too; a call whose
 * outcome is unknown stays pending for the operator, who resolves it from
 * the service's buttons with a finding (done or not done). A service's
 * pending entries are asked of the host for that service alone.
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

/** What the host puts in place of credentials already acknowledged. */
const SANDBOXED_MASK = '[redacted]';

/**
 * Runs one mutating function: the call, then (on success) the remote id and
 * credentials into WHMCS, then the journal acknowledgement.
 *
 * @param array<string, mixed> $params  module parameters
 * @param string               $action  the WHMCS function, for the module log
 * @param array<string, mixed> $request the contract's request
 * @param string|null          $key       idempotency key, if the call has one
 * @param callable|null        $onSuccess stores what the caller must before the answer's own values
 *
 * @return string "success" or "kind: message"
 */
function sandboxed_mutate(array $params, string $action, array $request, ?string $key, ?callable $onSuccess = null): string
{
    $secrets = sandboxed_param_secrets($params);
    try {
        $connection = sandboxed_connection($params);
        $secrets[] = $connection['token'];
        $module = sandboxed_module_name($params);
        $info = sandboxed_module_info($connection, $module);
        [$settings, $settingSecrets] = sandboxed_product_settings($params, $info);
        $secrets = array_merge($secrets, $settingSecrets);
        if (isset($request['service'])) {
            // Configurable options that became settings are not sent twice.
            $request['service']['custom_fields'] = sandboxed_custom_fields($params, $info);
        }
        $result = sandboxed_call($connection, $module, $request, $settings, $key, $action, $secrets);
        $entry = isset($result['journal_entry']) ? (int) $result['journal_entry'] : null;
        sandboxed_note_digest($params, $result);
        if (isset($result['error'])) {
            $error = $result['error'];
            $text = sandboxed_error_text($error, $module);
            if ($entry !== null) {
                if ((bool) ($error['uncertain'] ?? false)) {
                    $text .= " (whether the provider acted is unknown: check it, then resolve journal entry {$entry}"
                        . ' as done or not done with `provisioning journal ack --found-done` or `--found-not-done`'
                        . ' before retrying)';
                } elseif (!in_array($error['kind'], ['outcome-unknown', 'in-progress'], true)) {
                    // A refusal: nothing happened, and the journal knows it.
                    // (The other two name an earlier call's entry, not ours.)
                    sandboxed_ack($connection, $entry, $action, $secrets);
                }
            }
            return sandboxed_mask($text, $secrets);
        }
        if ($onSuccess !== null) {
            $onSuccess($result['ok']);
        }
        sandboxed_keep($params, $result['ok'], (bool) ($result['replayed'] ?? false), $entry);
        if ($entry !== null) {
            sandboxed_ack($connection, $entry, $action, $secrets);
        }
        return 'success';
    } catch (SandboxedFailure $failure) {
        return sandboxed_mask($failure->describe(), $secrets);
    } catch (Throwable $error) {
        return sandboxed_mask('platform: ' . $error->getMessage(), $secrets);
    }
}

/**
 * Stores what a successful answer hands over: the remote id of a created
 * service (custom field "Remote ID") and generated credentials (the
 * service's username and password). Throws when WHMCS refuses, so that the
 * journal entry stays pending with the credentials.
 *
 * @param array<string, mixed> $params   module parameters
 * @param array<string, mixed> $answer   the call's `ok`
 * @param bool                 $replayed the recorded answer of an earlier call
 * @param int|null             $entry    the journal entry, for messages
 */
function sandboxed_keep(array $params, array $answer, bool $replayed, ?int $entry): void
{
    $value = $answer['value'] ?? [];
    $remote = null;
    if (($answer['kind'] ?? '') === 'created') {
        $remote = (string) $value['remote_id'];
        if ($remote !== '') {
            sandboxed_keep_remote_id((int) $params['serviceid'], sandboxed_addon_id($params), $remote, $entry);
        }
        if ($remote !== '' && $remote !== sandboxed_property($params, SANDBOXED_REMOTE_ID_FIELD)) {
            sandboxed_save_property($params, SANDBOXED_REMOTE_ID_FIELD, $remote, $entry);
        }
    }
    $update = [];
    foreach ($value['credentials'] ?? [] as $credential) {
        $credentialValue = (string) $credential['value'];
        if ($credentialValue === '' || $credentialValue === $remote || ($replayed && $credentialValue === SANDBOXED_MASK)) {
            continue;
        }
        match ((string) $credential['name']) {
            'username' => $update['serviceusername'] = $credentialValue,
            'password' => $update['servicepassword'] = $credentialValue,
            default => sandboxed_save_property($params, (string) $credential['name'], $credentialValue, $entry),
        };
    }
    if ($update === []) {
        return;
    }
    if (sandboxed_addon_id($params) > 0) {
        // tblhosting's username and password are the parent service's: an
        // addon keeps what its provider issued in its own properties.
        foreach (['serviceusername' => SANDBOXED_ADDON_USERNAME_FIELD, 'servicepassword' => SANDBOXED_ADDON_PASSWORD_FIELD] as $column => $field) {
            if (isset($update[$column])) {
                sandboxed_save_property($params, $field, $update[$column], $entry);
            }
        }
        return;
    }
    $stored = localAPI('UpdateClientProduct', ['serviceid' => (int) $params['serviceid']] + $update);
    if (($stored['result'] ?? '') !== 'success') {
        throw new SandboxedFailure('platform', 'the provider issued credentials but WHMCS did not store them ('
            . ($stored['message'] ?? 'no message') . '); they stay in journal entry ' . ($entry ?? '-')
            . ' (`provisioning journal pending`)');
    }
}

/**
 * Acknowledges a journal entry; an entry acknowledged already is fine. A
 * failure is logged, not returned: the answer is stored, and the entry only
 * stays listed as answered.
 *
 * @param array{url: string, token: string} $connection the host
 * @param int                                $entry      the entry
 * @param string                             $action     the WHMCS function, for the log
 * @param list<string>                       $secrets    values to mask in the log
 */
function sandboxed_ack(array $connection, int $entry, string $action, array $secrets): void
{
    try {
        sandboxed_http($connection, 'POST', "/v1/journal/{$entry}/ack", new stdClass());
    } catch (SandboxedFailure $failure) {
        if ($failure->kind !== 'not-pending') {
            sandboxed_log($action, "POST /v1/journal/{$entry}/ack", $failure->describe(), [], $secrets);
        }
    }
}

/**
 * The journal entries still pending for this service (or addon) at its
 * module, oldest first, asked of the host for this service alone
 * (`GET /v1/modules/{module}/services/{service}/pending`) and once per
 * WHMCS request. Every call that names a service records the contract's
 * `service_id` (this module's scope, `4001` or `4001-a7`) in its intent,
 * whatever its idempotency key, so the service id alone finds the
 * `whmcs-<scope>-...` keyed creates and terminates too; matching keys by
 * their `whmcs-<scope>-` prefix, as this module once did, also took an
 * addon's `whmcs-4001-a7-` entries for its parent 4001's. Credentials the
 * entries hold are dropped here: they are the caller's, never the admin
 * page's.
 *
 * @param array{url: string, token: string} $connection the host
 * @param array<string, mixed>              $params     module parameters
 *
 * @return list<array<string, mixed>>
 */
function sandboxed_service_entries(array $connection, array $params): array
{
    $module = sandboxed_module_name($params);
    $scope = sandboxed_scope($params);
    $cacheKey = implode("\0", [$connection['url'], hash('sha256', $connection['token']), $module, $scope]);
    if (!isset(SandboxedRequestCache::$entries[$cacheKey])) {
        $path = '/v1/modules/' . rawurlencode($module) . '/services/' . rawurlencode($scope) . '/pending';
        [, $list] = sandboxed_http($connection, 'GET', $path);
        $entries = [];
        foreach ($list['pending'] ?? [] as $entry) {
            unset($entry['credentials']);
            $entries[] = $entry;
        }
        SandboxedRequestCache::$entries[$cacheKey] = $entries;
    }
    return SandboxedRequestCache::$entries[$cacheKey];
}

/**
 * Resolves every unknown journal entry of the service with the operator's
 * finding.
 *
 * @param array<string, mixed> $params  module parameters
 * @param string               $finding done or not-done
 */
function sandboxed_resolve(array $params, string $finding): string
{
    $secrets = sandboxed_param_secrets($params);
    try {
        $connection = sandboxed_connection($params);
        $unknown = array_values(array_filter(sandboxed_service_entries($connection, $params), static fn (array $e): bool => $e['state'] === 'unknown'));
        if ($unknown === []) {
            return 'not-pending: no call of this service has an unknown outcome';
        }
        $admin = trim((string) ($_SESSION['adminid'] ?? ''));
        foreach ($unknown as $entry) {
            $body = ['finding' => $finding, 'note' => 'checked at the provider, from WHMCS' . ($admin === '' ? '' : ' (admin ' . $admin . ')')];
            if ($finding === 'done' && $entry['intent']['function'] === 'create-account') {
                $remote = sandboxed_remote_id($params);
                if ($remote === null) {
                    return 'invalid-input: put the id of the account found at the provider in ' . SANDBOXED_REMOTE_ID_FIELD . ' first';
                }
                $body['remote_id'] = $remote;
                sandboxed_keep_remote_id((int) $params['serviceid'], sandboxed_addon_id($params), $remote, (int) $entry['id']);
            }
            sandboxed_http($connection, 'POST', '/v1/journal/' . (int) $entry['id'] . '/ack', $body);
            sandboxed_log($finding === 'done' ? 'AckDone' : 'AckNotDone', 'POST /v1/journal/' . (int) $entry['id'] . "/ack\n" . sandboxed_json($body), 'acknowledged', [], $secrets);
            if (isset($body['remote_id'])) {
                // The account exists: WHMCS says so too, so nobody clicks
                // Create and makes a second one.
                $marked = sandboxed_addon_id($params) > 0
                    ? localAPI('UpdateClientAddon', ['id' => sandboxed_addon_id($params), 'status' => 'Active'])
                    : localAPI('UpdateClientProduct', ['serviceid' => (int) $params['serviceid'], 'status' => 'Active']);
                if (($marked['result'] ?? '') !== 'success') {
                    return 'platform: journal entry ' . (int) $entry['id'] . ' is resolved, but WHMCS did not mark the service Active ('
                        . ($marked['message'] ?? 'no message') . '): set its status by hand';
                }
            }
        }
        return 'success';
    } catch (SandboxedFailure $failure) {
        return sandboxed_mask($failure->describe(), $secrets);
    }
}
