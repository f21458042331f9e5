<?php

/**
 * WHMCS server module "sandboxed": a bridge from WHMCS to `provisioning serve`.
 *
 * Every provider module (HostMeNow, Blesta, Webline, LogicBoxes...) runs as a
 * WebAssembly component inside the provisioning host, with only the HTTP
 * origins its operator granted. This module holds no provider code: it turns
 * WHMCS's `$params` into the contract's service record, calls the host's
 * local JSON API (`POST /v1/modules/{module}/call`, see host/cli/openapi.json)
 * and hands the answer back to WHMCS the way WHMCS expects it.
 *
 * Install: copy `modules/servers/sandboxed/` into the WHMCS root, add a server
 * of type "Sandboxed provisioning modules" (hostname and port of `provisioning
 * serve`, its bearer token as the password or access hash) and create products
 * that use it; option 1 picks the provider module, option 2 its package.
 *
 * Where the host is found: the WHMCS server record, and nothing else
 * (`serverhostname`, or `serverip`; `serverport`; `serversecure` for https;
 * `serveraccesshash` or else `serverpassword` for the token). The product's
 * Module and Package dropdowns are filled by `Loader` functions, which WHMCS
 * calls with the server of the product's server group; the modules' info
 * they read is kept in tblconfiguration (`SandboxedModuleInfo`) so that the
 * product page, which WHMCS renders without a server, can show the chosen
 * module's settings.
 *
 * Idempotency: create-account is sent with the key
 * `whmcs-<serviceid>-create` (plus `-after-<old remote id>` once the service
 * had an account before, so that creating it again after a termination is a
 * new call, not a replay), terminate with `whmcs-<serviceid>-terminate-<remote
 * id>`. For a product addon (`$params['addonId']` set) `<serviceid>` is
 * `<serviceid>-a<addonId>` in the keys and in the contract's `service_id`,
 * and the remote id and every other property are the addon's own (its
 * model's serviceProperties): an addon and its parent never share a key, an
 * account or a stored id. Retrying after a refusal (bad input, auth, unsupported, rate limit)
 * reuses the key and runs again: the host released it. Retrying after a
 * cut-off call (timeout, transport, provider error) is refused by the host
 * with `outcome-unknown` until an operator has checked the provider and
 * resolved the journal entry as done (the retry gets that answer) or not
 * done (the retry runs); a retry while the same call still runs waits for
 * it, or is answered `in-progress`; a retry after a success that WHMCS did
 * not record gets the recorded answer, credentials included. Suspend, unsuspend,
 * change-password and change-package carry no key: each is a new intent that
 * may legitimately repeat (suspend, unsuspend, suspend again) and sets a state
 * that is safe to set twice.
 *
 * Files: this one holds the entry points WHMCS calls (`sandboxed_<Function>`,
 * as WHMCS names a server module's functions); what they share is in `lib/`
 * (WHMCS's sample modules keep their libraries there), one job per file,
 * loaded by `lib/loader.php`: the serve client, the journal discipline,
 * WHMCS storage, setting slots, secrets, the contract's records and the
 * module's failure type. hooks.php loads the same.
 *
 * @see https://developers.whmcs.com/provisioning-modules/
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

use WHMCS\Database\Capsule;

require_once __DIR__ . '/lib/loader.php';

/**
 * Module metadata.
 *
 * @return array<string, mixed>
 */
function sandboxed_MetaData(): array
{
    return [
        'DisplayName' => 'Sandboxed provisioning modules',
        'APIVersion' => '1.1',
        'RequiresServer' => true,
        'DefaultNonSSLPort' => (string) SANDBOXED_DEFAULT_PORT,
        'DefaultSSLPort' => '443',
        'ServiceSingleSignOnLabel' => 'Log in to the control panel',
        // Server sync (ListAccounts): WHMCS matches each listed account's
        // uniqueIdentifier to the server's services by the field named here
        // (`customfield.NAME`: the product custom field NAME) and its
        // product to a product of this module whose configoption2 (Package)
        // equals it. The provider's id is the one value every account has
        // and no two share (domains may be missing or repeated), and
        // Package is kept as `module:package`, so that two modules of one
        // server whose package ids coincide never share a product.
        'ListAccountsUniqueIdentifierDisplayName' => 'Remote ID',
        'ListAccountsUniqueIdentifierField' => 'customfield.' . SANDBOXED_REMOTE_ID_FIELD,
        'ListAccountsProductField' => 'configoption2',
    ];
}

/**
 * The product's module settings: option 1 "Module" and option 2 "Package",
 * dropdowns whose choices WHMCS asks the host for through the `Loader`
 * functions below (with the product's server), then the chosen module's
 * product-scope settings, each at the option its name is pinned to (see
 * sandboxed_product_slots), from its `info` as the host last described it (tblconfiguration `SandboxedModuleInfo`, refreshed by every
 * loader and call). WHMCS renders this page without a server: nothing here
 * goes to the network unless WHMCS passes one.
 *
 * @param array<string, mixed> $params whatever WHMCS passes (may be nothing)
 *
 * @return array<string, array<string, mixed>>
 */
function sandboxed_ConfigOptions(array $params = []): array
{
    $options = [
        'Module' => [
            'Type' => 'text',
            'Size' => '25',
            'Loader' => 'sandboxed_LoaderModules',
            'SimpleMode' => true,
            'Description' => 'Provider module (a module name of the manifest); save to see its settings',
        ],
        'Package' => [
            'Type' => 'text',
            'Size' => '25',
            'Loader' => 'sandboxed_LoaderPackages',
            'SimpleMode' => true,
            'Description' => "The provider's package id",
        ],
    ];
    $known = sandboxed_known_info();
    if (trim((string) ($params['serverhostname'] ?? ($params['serverip'] ?? ''))) !== '') {
        try {
            $known = array_map(static fn (array $m): array => $m['info'], sandboxed_modules(sandboxed_connection($params)));
        } catch (SandboxedFailure) {
            // The last known info stands.
        }
    }
    $chosen = trim((string) ($params['configoption1'] ?? ''));
    if ($chosen === '' && count($known) === 1) {
        $chosen = (string) array_key_first($known);
    }
    if (!isset($known[$chosen])) {
        return $options;
    }
    // WHMCS numbers the fields in the order given: each setting's field
    // goes where its pinned slot is, a retired setting's slot keeps a blank.
    foreach (sandboxed_product_slots($chosen, $known[$chosen]) as $spec) {
        $label = is_array($spec) ? (string) $spec['label'] : "Unused (was {$spec})";
        while (isset($options[$label])) {
            $label .= ' ';
        }
        $options[$label] = is_array($spec) ? sandboxed_option_field($spec) : [
            'Type' => 'text',
            'Size' => '5',
            'Description' => "This module version no longer has the setting `{$spec}`; its place is kept so the settings after it stay where they are",
        ];
    }
    return $options;
}

/**
 * Loader of option 1: the modules the product's server loads, by name.
 * Throws (WHMCS shows the message) when the host cannot be asked.
 *
 * @param array<string, mixed> $params module parameters with the product's server
 *
 * @return array<string, string>
 */
function sandboxed_LoaderModules(array $params): array
{
    try {
        $modules = sandboxed_modules(sandboxed_connection($params));
    } catch (SandboxedFailure $failure) {
        throw new Exception('The provisioning host could not be asked: ' . $failure->describe());
    }
    $choices = [];
    foreach ($modules as $name => $module) {
        $choices[$name] = $name . ' (' . $module['info']['name'] . ')';
    }
    return $choices;
}

/**
 * Loader of option 2: the packages of the product's module (option 1), for
 * a module that can list them. Throws (WHMCS shows the message, and the
 * field stays free text) when it cannot.
 *
 * @param array<string, mixed> $params module parameters with the product's server
 *
 * @return array<string, string>
 */
function sandboxed_LoaderPackages(array $params): array
{
    try {
        $connection = sandboxed_connection($params);
        $module = sandboxed_module_name($params);
        $info = sandboxed_module_info($connection, $module);
        if (!in_array('list-packages', $info['functions'], true)) {
            throw new SandboxedFailure('unsupported', "{$info['name']} cannot list its packages: type the package id");
        }
        [$settings, $secrets] = sandboxed_product_settings($params, $info);
        $result = sandboxed_call($connection, $module, ['function' => 'list-packages'], $settings, null, 'ConfigOptions', $secrets);
        if (isset($result['error'])) {
            throw sandboxed_error_failure($result['error'], $module);
        }
    } catch (SandboxedFailure $failure) {
        throw new Exception('The packages could not be read: ' . $failure->describe());
    }
    $packages = [];
    foreach ($result['ok']['value'] as $package) {
        $packages[sandboxed_package_option($module, (string) $package['id'])] = $package['name'] . ' (' . $package['id'] . ')';
    }
    return $packages;
}

/**
 * Checks that the host answers with this server's token and that every
 * module (or only the one named as the server's username) reaches and
 * authenticates with its provider.
 *
 * @param array<string, mixed> $params server parameters
 *
 * @return array{success: bool, error: string}
 */
function sandboxed_TestConnection(array $params): array
{
    try {
        $connection = sandboxed_connection($params);
        $modules = sandboxed_server_modules($connection, $params);
        $failures = [];
        foreach ($modules as $name => $module) {
            if (!in_array('test-connection', $module['info']['functions'], true)) {
                continue;
            }
            $result = sandboxed_call($connection, $name, ['function' => 'test-connection'], [], null, 'TestConnection', []);
            if (isset($result['error'])) {
                $failures[] = $name . ': ' . sandboxed_error_text($result['error'], $name);
            }
        }
        return ['success' => $failures === [], 'error' => implode('; ', $failures)];
    } catch (SandboxedFailure $failure) {
        return ['success' => false, 'error' => $failure->describe()];
    }
}

/**
 * Server sync (WHMCS's Server Sync Tool): the accounts at the providers of
 * the server's modules that can list them (`list-accounts`). Modules that
 * cannot are skipped; a server whose modules all cannot says so. Accounts
 * that are terminated, failed or of unknown state are left out. Any module
 * failing fails the whole list: a partial one would show the missing
 * accounts as gone.
 *
 * Each account is given as MetaData says WHMCS matches it: its
 * uniqueIdentifier is the provider's id, which WHMCS looks up in the
 * server's services' "Remote ID" custom field (and, importing an account,
 * writes there), and its product is `module:package`, which WHMCS looks up
 * in this module's products' option 2. Before answering, the provider ids
 * this module keeps in its own table are copied into the Remote ID field
 * of services whose product lacks it (a service moved to another product),
 * or WHMCS would not find them. Accounts of product addons are left out:
 * WHMCS's sync matches services only, and would import them as services.
 * A product of a listed module whose Package
 * lacks its `module:` prefix (saved before packages were kept so) fails
 * the sync, naming it: WHMCS would match its services to no product.
 *
 * @param array<string, mixed> $params server parameters
 *
 * @return array{success: bool, accounts?: list<array<string, string>>, error?: string}
 */
function sandboxed_ListAccounts(array $params): array
{
    try {
        $connection = sandboxed_connection($params);
        $modules = sandboxed_server_modules($connection, $params);
        $listing = array_filter($modules, static fn (array $m): bool => in_array('list-accounts', $m['info']['functions'], true));
        if ($listing === []) {
            throw new SandboxedFailure('unsupported', 'none of this server\'s modules can list its accounts ('
                . implode(', ', array_keys($modules)) . ')');
        }
        sandboxed_check_sync_products(array_keys($listing));
        sandboxed_publish_remote_ids((int) ($params['serverid'] ?? 0));
        $addonAccounts = sandboxed_addon_remote_ids();
        $accounts = [];
        $failures = [];
        foreach (array_keys($listing) as $name) {
            $result = sandboxed_call($connection, $name, ['function' => 'list-accounts'], [], null, 'ListAccounts', []);
            if (isset($result['error'])) {
                $failures[] = $name . ': ' . sandboxed_error_text($result['error'], $name);
                continue;
            }
            foreach ($result['ok']['value'] ?? [] as $account) {
                $status = SANDBOXED_SYNC_STATUS[(string) ($account['state'] ?? '')] ?? null;
                // WHMCS's sync knows services only: an addon's account would
                // be offered for import as a second, separate service.
                if ($status === null || isset($addonAccounts[(string) $account['remote_id']])) {
                    continue;
                }
                $package = sandboxed_text($account['package'] ?? null);
                $created = strtotime((string) ($account['created'] ?? ''));
                $accounts[] = [
                    'email' => (string) ($account['email'] ?? ''),
                    'username' => (string) ($account['username'] ?? ''),
                    'domain' => (string) ($account['domain'] ?? ''),
                    'uniqueIdentifier' => (string) $account['remote_id'],
                    'product' => $package === null ? '' : sandboxed_package_option($name, $package),
                    'primaryip' => '',
                    'created' => $created === false ? '' : date('Y-m-d H:i:s', $created),
                    'status' => $status,
                ];
            }
        }
        if ($failures !== []) {
            return ['success' => false, 'error' => implode('; ', $failures)];
        }
        return ['success' => true, 'accounts' => $accounts];
    } catch (SandboxedFailure $failure) {
        return ['success' => false, 'error' => $failure->describe()];
    }
}

/**
 * Creates the service at the provider; stores the remote id and any
 * generated credentials, then acknowledges the journal entry.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return string "success" or "kind: message"
 */
function sandboxed_CreateAccount(array $params): string
{
    $remote = sandboxed_remote_id($params);
    $key = 'whmcs-' . sandboxed_scope($params) . '-create' . ($remote !== null ? '-after-' . $remote : '');
    return sandboxed_mutate($params, 'CreateAccount', [
        'function' => 'create-account',
        'service' => sandboxed_service($params),
    ], $key);
}

/**
 * Suspends the service, with WHMCS's suspension reason.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return string "success" or "kind: message"
 */
function sandboxed_SuspendAccount(array $params): string
{
    $reason = trim((string) ($params['suspendreason'] ?? ''));
    return sandboxed_mutate($params, 'SuspendAccount', [
        'function' => 'suspend',
        'service' => sandboxed_service($params),
        'reason' => $reason === '' ? null : $reason,
    ], null);
}

/**
 * Lifts a suspension.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return string "success" or "kind: message"
 */
function sandboxed_UnsuspendAccount(array $params): string
{
    return sandboxed_mutate($params, 'UnsuspendAccount', [
        'function' => 'unsuspend',
        'service' => sandboxed_service($params),
    ], null);
}

/**
 * Removes the service at the provider for good.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return string "success" or "kind: message"
 */
function sandboxed_TerminateAccount(array $params): string
{
    $remote = sandboxed_remote_id($params);
    return sandboxed_mutate($params, 'TerminateAccount', [
        'function' => 'terminate',
        'service' => sandboxed_service($params),
    ], $remote === null ? null : 'whmcs-' . sandboxed_scope($params) . '-terminate-' . $remote);
}

/**
 * Sets the password WHMCS has just saved (`$params['password']` is the new
 * one; the old one is gone). A provider that can only reset a password
 * without the old one generates a password, which replaces WHMCS's.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return string "success" or "kind: message"
 */
function sandboxed_ChangePassword(array $params): string
{
    $service = sandboxed_service($params);
    $service['password'] = null;
    return sandboxed_mutate($params, 'ChangePassword', [
        'function' => 'change-password',
        'service' => $service,
        'new_password' => (string) ($params['password'] ?? ''),
    ], null);
}

/**
 * Moves the service to the package of its (new) product, option 2.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return string "success" or "kind: message"
 */
function sandboxed_ChangePackage(array $params): string
{
    // An empty package is the module's to refuse (invalid-input), or to
    // answer unsupported when it cannot change packages at all.
    return sandboxed_mutate($params, 'ChangePackage', [
        'function' => 'change-package',
        'service' => sandboxed_service($params),
        'new_package' => (string) sandboxed_package(sandboxed_module_name($params), $params['configoption2'] ?? null),
    ], null);
}

/**
 * Imports disk and bandwidth usage for every active or suspended service on
 * this server whose module reports usage, into tblhosting: one request to
 * the host for the whole server (`POST /v1/usage`, which reads the services
 * with the host's bounded concurrency and each module's rate limit), then
 * one update per service whose figures came back. A service whose read
 * failed is left as it was and named in the answer.
 *
 * @param array<string, mixed> $params server parameters
 *
 * @return string "success" or the failures, "service N: kind: message; ..."
 */
function sandboxed_UsageUpdate(array $params): string
{
    try {
        $connection = sandboxed_connection($params);
        $modules = sandboxed_modules($connection);
        $services = Capsule::table('tblhosting')
            ->where('server', (int) $params['serverid'])
            ->whereIn('domainstatus', ['Active', 'Suspended'])
            ->get();
    } catch (SandboxedFailure $failure) {
        return $failure->describe();
    } catch (Throwable $error) {
        return 'platform: ' . $error->getMessage();
    }
    $products = [];
    $failures = [];
    // The jobs, grouped by module; the rows they are for, by service id.
    $byModule = [];
    $rows = [];
    $secrets = [$connection['token']];
    foreach ($services as $row) {
        $row = (array) $row;
        try {
            $job = sandboxed_usage_job($modules, $row, $products);
        } catch (Throwable $error) {
            $failures[] = 'service ' . $row['id'] . ': platform: ' . $error->getMessage();
            continue;
        }
        if ($job === null) {
            continue;
        }
        [$module, $entry, $jobSecrets] = $job;
        $byModule[$module][] = $entry;
        $rows[(string) $row['id']] = $row;
        array_push($secrets, ...$jobSecrets);
    }
    $jobs = array_merge(...array_values($byModule));
    // One request for the server; a server with more services than one
    // request may name gets one request per SANDBOXED_USAGE_BATCH.
    foreach (array_chunk($jobs, SANDBOXED_USAGE_BATCH) as $batch) {
        try {
            $results = sandboxed_read_usage($connection, $batch, $secrets);
        } catch (SandboxedFailure $failure) {
            $failures[] = $failure->describe();
            continue;
        }
        foreach ($results as $result) {
            $id = (string) ($result['service_id'] ?? '');
            $module = (string) ($result['module'] ?? '');
            try {
                if (!isset($rows[$id])) {
                    throw new SandboxedFailure('bad-response', "the host answered for service {$id}, which was not asked for");
                }
                if (isset($result['error'])) {
                    throw sandboxed_error_failure($result['error'], $module);
                }
                $update = sandboxed_usage_columns($result['ok']['figures'] ?? []);
                if ($update !== []) {
                    $update['lastupdate'] = Capsule::raw('now()');
                    Capsule::table('tblhosting')->where('id', (int) $id)->update($update);
                }
            } catch (SandboxedFailure $failure) {
                $failures[] = 'service ' . $id . ': ' . $failure->describe();
            } catch (Throwable $error) {
                $failures[] = 'service ' . $id . ': platform: ' . $error->getMessage();
            }
        }
    }
    return $failures === [] ? 'success' : implode('; ', $failures);
}

/**
 * A login URL to the service's control panel.
 *
 * @param array<string, mixed> $params module parameters (`app` optional)
 *
 * @return array{success: bool, redirectTo?: string, errorMsg?: string}
 */
function sandboxed_ServiceSingleSignOn(array $params): array
{
    try {
        $connection = sandboxed_connection($params);
        $module = sandboxed_module_name($params);
        $info = sandboxed_module_info($connection, $module);
        [$settings, $secrets] = sandboxed_product_settings($params, $info);
        $app = trim((string) ($params['app'] ?? ''));
        $service = sandboxed_service($params);
        $service['custom_fields'] = sandboxed_custom_fields($params, $info);
        $result = sandboxed_call($connection, $module, [
            'function' => 'single-sign-on',
            'service' => $service,
            'app' => $app === '' ? null : $app,
        ], $settings, null, 'ServiceSingleSignOn', array_merge($secrets, sandboxed_param_secrets($params)));
        if (isset($result['error'])) {
            return ['success' => false, 'errorMsg' => sandboxed_error_text($result['error'], $module)];
        }
        return ['success' => true, 'redirectTo' => (string) $result['ok']['value']];
    } catch (SandboxedFailure $failure) {
        return ['success' => false, 'errorMsg' => $failure->describe()];
    }
}

/**
 * The client area's overview of the service (templates/clientarea.tpl):
 * the status (the provider's, where the module reports one), the usage
 * figures with their limits (an unlimited one said as such) and a single
 * sign-on button where the module supports it. A failure to read shows as
 * a line of the page, never as an error page.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return array{templatefile: string, vars: array<string, mixed>}
 */
function sandboxed_ClientArea(array $params): array
{
    $vars = [
        'serviceid' => (int) $params['serviceid'],
        'provider' => trim((string) ($params['configoption1'] ?? '')),
        'status' => (string) ($params['status'] ?? ''),
        'status_source' => 'whmcs',
        'usage' => [],
        'usage_updated' => null,
        'sso' => false,
        'sso_label' => sandboxed_MetaData()['ServiceSingleSignOnLabel'],
        'error' => null,
    ];
    $secrets = sandboxed_param_secrets($params);
    try {
        $connection = sandboxed_connection($params);
        $module = sandboxed_module_name($params);
        $info = sandboxed_module_info($connection, $module);
        $vars['provider'] = (string) $info['name'];
        // Signing on to a service that is not active would only fail.
        $vars['sso'] = in_array('single-sign-on', $info['functions'], true) && strcasecmp((string) ($params['status'] ?? ''), 'Active') === 0;
        if (in_array('service-status', $info['functions'], true) && sandboxed_remote_id($params) !== null) {
            $vars['status'] = sandboxed_status($params, $connection, $info, 'ClientArea')['state'];
            $vars['status_source'] = 'provider';
        }
        if (in_array('usage-data', $info['functions'], true)) {
            [$settings, $settingSecrets] = sandboxed_product_settings($params, $info);
            $service = sandboxed_service($params);
            $service['custom_fields'] = sandboxed_custom_fields($params, $info);
            $result = sandboxed_call($connection, $module, ['function' => 'usage-data', 'service' => $service], $settings, null, 'ClientArea', array_merge($secrets, $settingSecrets));
            if (isset($result['error'])) {
                throw sandboxed_error_failure($result['error'], $module);
            }
            foreach ($result['ok']['value']['figures'] ?? [] as $figure) {
                $limit = $figure['limit'] ?? null;
                $limitValue = is_array($limit) ? ($limit['value'] ?? null) : null;
                $vars['usage'][] = [
                    'name' => ucfirst((string) ($figure['name'] ?? '')),
                    'used' => sandboxed_figure((float) ($figure['used'] ?? 0)),
                    'unit' => (string) ($figure['unit'] ?? ''),
                    'unlimited' => $limitValue === null,
                    'limit' => $limitValue === null ? 'unlimited' : sandboxed_figure((float) $limitValue),
                ];
            }
            $vars['usage_updated'] = sandboxed_text($result['ok']['value']['updated_at'] ?? null);
        }
    } catch (SandboxedFailure $failure) {
        $vars['error'] = 'The service details could not be read right now (' . $failure->kind . ').';
    }
    return ['templatefile' => 'templates/clientarea', 'vars' => ['sandboxed' => $vars]];
}

/**
 * The service's tab in the admin area: the provider's remote id, the module
 * and the digest of the version that last answered, the live status where
 * the module reports one, and the journal entries of this service still
 * pending, an unknown outcome with what to do about it.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return array<string, string> label => HTML
 */
function sandboxed_AdminServicesTabFields(array $params): array
{
    $e = static fn (string $text): string => htmlspecialchars($text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
    try {
        $module = sandboxed_module_name($params);
    } catch (SandboxedFailure) {
        $module = '';
    }
    $remote = sandboxed_remote_id($params);
    $fields = [
        'Provider ID' => $remote === null ? '<em>none yet</em>' : $e($remote),
        'Provisioning module' => $e($module === '' ? '(no module chosen)' : $module),
    ];
    $digest = sandboxed_property($params, SANDBOXED_DIGEST_FIELD);
    $fields['Module version that last answered'] = $digest === null ? '<em>no call yet</em>' : '<code>' . $e($digest) . '</code>';
    try {
        $connection = sandboxed_connection($params);
        $info = sandboxed_module_info($connection, sandboxed_module_name($params));
        $fields['Provisioning module'] = $e($module . ' (' . $info['name'] . ' ' . ($info['version'] ?? '') . ')');
        if (!in_array('service-status', $info['functions'], true)) {
            $fields['Status at the provider'] = '<em>' . $e($info['name'] . ' reports no status') . '</em>';
        } elseif ($remote === null) {
            $fields['Status at the provider'] = '<em>not created yet</em>';
        } else {
            $status = sandboxed_status($params, $connection, $info, 'AdminServicesTabFields');
            $details = array_map(static fn (array $d): string => $e($d[0] . ': ' . $d[1]), $status['details']);
            $fields['Status at the provider'] = '<strong>' . $e($status['state']) . '</strong>'
                . ($details === [] ? '' : '<br>' . implode('<br>', $details));
        }
        $entries = sandboxed_service_entries($connection, $params);
        if ($entries === []) {
            $fields['Journal'] = 'nothing pending';
        } else {
            $lines = [];
            foreach ($entries as $entry) {
                $line = 'Entry ' . (int) $entry['id'] . ': ' . $entry['intent']['function'] . ', ' . $entry['state'];
                if ($entry['state'] === 'unknown') {
                    $line .= ': whether the provider acted is unknown. Check the service at the provider, then click'
                        . ' "Checked at the provider: it happened" (for a create, first put the account\'s id in '
                        . SANDBOXED_REMOTE_ID_FIELD . ') or "Checked at the provider: it did not happen"; until then'
                        . ' the same call is refused.';
                } elseif ($entry['state'] === 'in-flight') {
                    $line .= ': still running; wait.';
                } else {
                    $line .= ': answered, the answer not yet acknowledged.';
                }
                $lines[] = $e($line);
            }
            $fields['Journal'] = implode('<br>', $lines);
        }
    } catch (SandboxedFailure $failure) {
        $fields['Status at the provider'] = '<em>' . $e(sandboxed_mask($failure->describe(), sandboxed_param_secrets($params))) . '</em>';
    }
    return $fields;
}

/**
 * The admin area's buttons for the service: only what its module can do,
 * and the two findings of an operator when a call's outcome is unknown.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return array<string, string> label => function suffix
 */
function sandboxed_AdminCustomButtonArray(array $params): array
{
    try {
        $connection = sandboxed_connection($params);
        $info = sandboxed_module_info($connection, sandboxed_module_name($params));
    } catch (SandboxedFailure) {
        return [];
    }
    $buttons = [];
    if (in_array('service-status', $info['functions'], true)) {
        $buttons['Refresh status'] = 'RefreshStatus';
    }
    if (in_array('change-domain', $info['functions'], true)) {
        $buttons['Change domain'] = 'ChangeDomain';
    }
    if (in_array('change-password', $info['functions'], true)) {
        $buttons['Reset password'] = 'ResetPassword';
    }
    try {
        $unknown = array_filter(sandboxed_service_entries($connection, $params), static fn (array $e): bool => $e['state'] === 'unknown');
    } catch (SandboxedFailure) {
        $unknown = [];
    }
    if ($unknown !== []) {
        $buttons['Checked at the provider: it happened'] = 'AckDone';
        $buttons['Checked at the provider: it did not happen'] = 'AckNotDone';
    }
    return $buttons;
}

/**
 * Button: reads the status at the provider and keeps it in the service's
 * "Provider status" property.
 *
 * @param array<string, mixed> $params module parameters
 */
function sandboxed_RefreshStatus(array $params): string
{
    $secrets = sandboxed_param_secrets($params);
    try {
        $connection = sandboxed_connection($params);
        $info = sandboxed_module_info($connection, sandboxed_module_name($params));
        $status = sandboxed_status($params, $connection, $info, 'RefreshStatus');
        sandboxed_save_property($params, SANDBOXED_STATUS_FIELD, $status['state'], null);
        return 'success';
    } catch (SandboxedFailure $failure) {
        return sandboxed_mask($failure->describe(), $secrets);
    }
}

/**
 * Button: moves the service at the provider to the domain WHMCS now has for
 * it (the admin edits the domain, saves, then clicks).
 *
 * @param array<string, mixed> $params module parameters
 */
function sandboxed_ChangeDomain(array $params): string
{
    return sandboxed_mutate($params, 'ChangeDomain', [
        'function' => 'change-domain',
        'service' => sandboxed_service($params),
        'new_domain' => trim((string) ($params['domain'] ?? '')),
    ], null);
}

/**
 * Button: sets a new random password at the provider and in WHMCS (a
 * provider that generates its own answers it as a credential, which wins).
 *
 * @param array<string, mixed> $params module parameters
 */
function sandboxed_ResetPassword(array $params): string
{
    $password = sandboxed_new_password();
    return sandboxed_mutate($params, 'ResetPassword', [
        'function' => 'change-password',
        'service' => sandboxed_service($params),
        'new_password' => $password,
    ], null, static function (array $answer) use ($params, $password): void {
        $issued = array_filter($answer['value']['credentials'] ?? [], static fn (array $c): bool => ($c['name'] ?? '') === 'password');
        if ($issued === []) {
            // The provider took ours: WHMCS keeps it (an issued one is kept by sandboxed_keep).
            sandboxed_keep($params, ['kind' => 'done', 'value' => ['credentials' => [['name' => 'password', 'value' => $password, 'secret' => true]]]], false, null);
        }
    });
}

/**
 * Button: the operator checked the provider and the call whose outcome was
 * unknown did happen. For a create-account, the account's id is taken from
 * the service's Remote ID (fill it in first).
 *
 * @param array<string, mixed> $params module parameters
 */
function sandboxed_AckDone(array $params): string
{
    return sandboxed_resolve($params, 'done');
}

/**
 * Button: the operator checked the provider and the call whose outcome was
 * unknown did not happen; its key is free, the next call runs.
 *
 * @param array<string, mixed> $params module parameters
 */
function sandboxed_AckNotDone(array $params): string
{
    return sandboxed_resolve($params, 'not-done');
}
