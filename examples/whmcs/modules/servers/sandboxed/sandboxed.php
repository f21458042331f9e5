<?php

/**
 * WHMCS server module "sandboxed": a bridge from WHMCS to `provisioning serve`.
 *
 * Every provider module (HostMeNow, Blesta, Webline, LogicBoxes...) runs as a
 * WebAssembly component inside the provisioning host, with only the HTTP
 * origins its operator granted. This file holds no provider code: it turns
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
 * Journal: a mutating call's answer (and any credentials the provider
 * generated) is first stored in WHMCS (service username/password through
 * `localAPI('UpdateClientProduct')`, the remote id in the service's "Remote ID"
 * custom field through `serviceProperties`), then its journal entry is
 * acknowledged. A refused call's entry is acknowledged too; a call whose
 * outcome is unknown stays pending for the operator.
 *
 * Secrets (the token, the service's passwords, secret product settings,
 * credentials the provider generated, single sign-on URLs) reach
 * `logModuleCall` only as `$replaceVars`, and never an error message.
 *
 * @see https://developers.whmcs.com/provisioning-modules/
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

use WHMCS\Database\Capsule;

/** The WHMCS custom field (service property) showing the provider's id. */
const SANDBOXED_REMOTE_ID_FIELD = 'Remote ID';

/**
 * The module's own table of each service's and addon's provider id, by
 * tblhosting.id and tblhostingaddons.id (0 for the service itself): custom
 * fields belong to a product, so a service moved to another product would
 * lose its Remote ID with them.
 */
const SANDBOXED_ACCOUNTS_TABLE = 'mod_sandboxed_accounts';

/** An addon's properties holding what its provider issued (tblhosting's are the parent's). */
const SANDBOXED_ADDON_USERNAME_FIELD = 'Username';
const SANDBOXED_ADDON_PASSWORD_FIELD = 'Password';

/** The service property keeping the digest of the module version that last answered it. */
const SANDBOXED_DIGEST_FIELD = 'Module version';

/** The service property keeping the last status read at the provider. */
const SANDBOXED_STATUS_FIELD = 'Provider status';

/** configoptionN of the first product-scope setting (1 is Module, 2 Package). */
const SANDBOXED_FIRST_SETTING_OPTION = 3;

/** WHMCS shows at most 24 module settings per product. */
const SANDBOXED_MAX_OPTIONS = 24;

/** What the host puts in place of credentials already acknowledged. */
const SANDBOXED_MASK = '[redacted]';

/** Default port of `provisioning serve`. */
const SANDBOXED_DEFAULT_PORT = 8790;

/** The most services one `POST /v1/usage` may name (the host's cap). */
const SANDBOXED_USAGE_BATCH = 10000;

/** Seconds a `POST /v1/usage` may take: a whole server's usage. */
const SANDBOXED_USAGE_TIMEOUT = 1800;

/**
 * A failure before or around a call: the kind (the host's or the API's, or
 * this module's own `transport`, `bad-response`, `invalid-config`,
 * `platform`) and a message that holds no secret.
 */
final class SandboxedFailure extends RuntimeException
{
    /**
     * @param string $kind    machine-readable kind, e.g. "unauthorized"
     * @param string $message for people; never a secret
     */
    public function __construct(public readonly string $kind, string $message)
    {
        parent::__construct($message);
    }

    /** The error as WHMCS shows it: "kind: message". */
    public function describe(): string
    {
        return $this->kind . ': ' . $this->getMessage();
    }
}

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
 * A package as option 2 keeps it: `module:package`, so that the value
 * names the module too (server sync matches products by this one column).
 */
function sandboxed_package_option(string $module, string $package): string
{
    return $module . ':' . $package;
}

/**
 * The provider's package id of a product's option 2: without its
 * `module:` prefix, or as typed when it has none (a module that cannot
 * list its packages, a product saved before packages were kept qualified).
 *
 * @param string $module the product's module (option 1)
 * @param mixed  $option option 2 as WHMCS passes it
 */
function sandboxed_package(string $module, mixed $option): ?string
{
    $value = sandboxed_text(is_scalar($option) ? (string) $option : null);
    if ($value !== null && $module !== '' && str_starts_with($value, $module . ':')) {
        return sandboxed_text(substr($value, strlen($module) + 1));
    }
    return $value;
}

/** tblconfiguration's setting holding the modules' info as the host last described it. */
const SANDBOXED_INFO_SETTING = 'SandboxedModuleInfo';

/** tblconfiguration's setting pinning each module's product settings to their configoption slots. */
const SANDBOXED_SLOTS_SETTING = 'SandboxedSettingSlots';

/**
 * A JSON object the module keeps in tblconfiguration; empty when there is
 * none or it cannot be read.
 *
 * @param string $setting tblconfiguration.setting
 *
 * @return array<string, mixed>
 */
function sandboxed_stored_json(string $setting): array
{
    if (!class_exists(Capsule::class)) {
        return [];
    }
    try {
        $json = Capsule::table('tblconfiguration')->where('setting', $setting)->value('value');
    } catch (Throwable) {
        return [];
    }
    $stored = is_string($json) ? json_decode($json, true) : null;
    return is_array($stored) ? $stored : [];
}

/**
 * Keeps a JSON object in tblconfiguration (see sandboxed_stored_json).
 * Answers whether it was kept; a failure costs only what the caller says.
 *
 * @param string               $setting tblconfiguration.setting
 * @param array<string, mixed> $value   the object
 */
function sandboxed_store_json(string $setting, array $value): bool
{
    if (!class_exists(Capsule::class)) {
        return false;
    }
    try {
        $json = sandboxed_json($value);
        if (Capsule::table('tblconfiguration')->where('setting', $setting)->first() === null) {
            Capsule::table('tblconfiguration')->insert(['setting' => $setting, 'value' => $json]);
        } else {
            Capsule::table('tblconfiguration')->where('setting', $setting)->update(['value' => $json]);
        }
        return true;
    } catch (Throwable) {
        return false;
    }
}

/**
 * The modules' normalized info as the host last described it, by name.
 *
 * @return array<string, array<string, mixed>>
 */
function sandboxed_known_info(): array
{
    return sandboxed_stored_json(SANDBOXED_INFO_SETTING);
}

/**
 * Keeps the modules' info for the product page (see sandboxed_known_info);
 * info changes when a module is swapped, so it is written whenever it
 * differs. A failure to write costs only the product page's settings.
 *
 * @param array<string, array<string, mixed>> $infos normalized info by module name
 */
function sandboxed_remember_info(array $infos): void
{
    $known = sandboxed_known_info();
    $merged = $infos + $known;
    ksort($merged);
    if ($merged !== $known) {
        sandboxed_store_json(SANDBOXED_INFO_SETTING, $merged);
    }
}

/**
 * Where each product-scope setting of a module lives: configoptionN, by
 * setting name, for every name the module (the manifest's module name) has
 * ever declared. WHMCS stores a product's module settings by position, so
 * a name keeps its slot for good: a name seen for the first time takes the
 * next free slot, and a name a later version drops leaves its slot unused.
 * A swapped-in version that adds, drops or reorders settings thus never
 * moves an existing product's values. The first sight of a module assigns
 * the slots in the order of its info (what the module did before slots were
 * pinned). Settings past WHMCS's 24 options get no slot.
 *
 * @param string               $module module name in the manifest
 * @param array<string, mixed> $info   its normalized info
 *
 * @return array<int, array<string, mixed>|string> configoption number => the
 *                                                 setting's spec, or the name
 *                                                 of one this version no longer declares
 */
function sandboxed_product_slots(string $module, array $info): array
{
    $registry = sandboxed_stored_json(SANDBOXED_SLOTS_SETTING);
    $pinned = is_array($registry[$module] ?? null) ? array_map('intval', $registry[$module]) : [];
    $next = $pinned === [] ? SANDBOXED_FIRST_SETTING_OPTION : max($pinned) + 1;
    $specs = [];
    $changed = false;
    foreach (sandboxed_product_specs_all($info) as $spec) {
        $name = (string) $spec['name'];
        if (!isset($pinned[$name])) {
            if ($next > SANDBOXED_MAX_OPTIONS) {
                continue;
            }
            $pinned[$name] = $next++;
            $changed = true;
        }
        $specs[$name] = $spec;
    }
    if ($changed && $module !== '') {
        $registry[$module] = $pinned;
        sandboxed_store_json(SANDBOXED_SLOTS_SETTING, $registry);
    }
    $slots = [];
    foreach ($pinned as $name => $slot) {
        $slots[$slot] = $specs[$name] ?? (string) $name;
    }
    ksort($slots);
    return $slots;
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

/** WHMCS's status of an account the Server Sync Tool imports, by the contract's service state. */
const SANDBOXED_SYNC_STATUS = ['active' => 'Active', 'suspended' => 'Suspended', 'pending' => 'Pending'];

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
                $status = SANDBOXED_SYNC_STATUS[sandboxed_kebab((string) ($account['state'] ?? ''))] ?? null;
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
 * Refuses a server sync while a product of one of `$modules` keeps its
 * Package without the `module:` prefix: WHMCS matches a listed account's
 * product by option 2 alone, so such a product would get none of its
 * accounts, and an import would make a second product beside it.
 *
 * @param list<string> $modules the modules whose accounts are listed
 */
function sandboxed_check_sync_products(array $modules): void
{
    $bare = [];
    foreach (Capsule::table('tblproducts')->where('servertype', 'sandboxed')->whereIn('configoption1', $modules)->get() as $product) {
        $product = (array) $product;
        $module = (string) $product['configoption1'];
        $package = trim((string) ($product['configoption2'] ?? ''));
        if ($package !== '' && !str_starts_with($package, $module . ':')) {
            $bare[] = sprintf('product %d (%s) has Package `%s`: choose it again in the Module Settings (it is kept as `%s`)',
                (int) $product['id'], (string) ($product['name'] ?? ''), $package, sandboxed_package_option($module, $package));
        }
    }
    if ($bare !== []) {
        throw new SandboxedFailure('invalid-config', 'server sync matches products by module and package together; '
            . implode('; ', $bare));
    }
}

/**
 * The provider ids the module keeps for product addons, as keys.
 *
 * @return array<string, true>
 */
function sandboxed_addon_remote_ids(): array
{
    if (!Capsule::schema()->hasTable(SANDBOXED_ACCOUNTS_TABLE)) {
        return [];
    }
    $ids = [];
    foreach (Capsule::table(SANDBOXED_ACCOUNTS_TABLE)->get() as $row) {
        $row = (array) $row;
        if ((int) $row['addon_id'] > 0) {
            $ids[(string) $row['remote_id']] = true;
        }
    }
    return $ids;
}

/**
 * Copies the provider ids kept in the module's own table into the "Remote
 * ID" custom field of the server's services whose field is blank (their
 * product's field is not the one the id was saved in), through WHMCS's
 * service model, which creates the field where the product has none:
 * that field is where WHMCS's server sync looks for them.
 *
 * @param int $serverId tblservers.id
 */
function sandboxed_publish_remote_ids(int $serverId): void
{
    if ($serverId <= 0 || !class_exists(\WHMCS\Service\Service::class)) {
        return;
    }
    foreach (Capsule::table('tblhosting')->where('server', $serverId)->get() as $row) {
        $id = (int) ((array) $row)['id'];
        $kept = sandboxed_kept_remote_id($id, 0);
        if ($kept === null) {
            continue;
        }
        $service = \WHMCS\Service\Service::find($id);
        if ($service !== null && sandboxed_text($service->serviceProperties->get(SANDBOXED_REMOTE_ID_FIELD)) === null) {
            $service->serviceProperties->save([SANDBOXED_REMOTE_ID_FIELD => $kept]);
        }
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
 * The usage job of one service, or null when its module is not loaded or
 * reports no usage (the service is left alone).
 *
 * @param array<string, array<string, mixed>> $modules  the loaded modules
 * @param array<string, mixed>                $row      the tblhosting row
 * @param array<int, array<string, mixed>>    $products tblproducts rows read so far
 *
 * @return array{0: string, 1: array<string, mixed>, 2: list<string>}|null the module, the job and its secrets
 */
function sandboxed_usage_job(array $modules, array $row, array &$products): ?array
{
    $productId = (int) $row['packageid'];
    $products[$productId] ??= (array) (Capsule::table('tblproducts')->where('id', $productId)->first() ?? []);
    $product = $products[$productId];
    try {
        $module = sandboxed_module_name($product);
    } catch (SandboxedFailure) {
        return null;
    }
    if (!isset($modules[$module]) || !in_array('usage-data', $modules[$module]['info']['functions'], true)) {
        return null;
    }
    $service = [
        'service_id' => (string) $row['id'],
        'remote_id' => sandboxed_stored_remote_id((int) $row['id'], $productId),
        'domain' => sandboxed_text($row['domain'] ?? null),
        'username' => sandboxed_text($row['username'] ?? null),
        'password' => null,
        'package' => sandboxed_package($module, $product['configoption2'] ?? null),
        'billing_cycle' => sandboxed_billing_cycle($row['billingcycle'] ?? null),
        'client' => null,
        'custom_fields' => [],
    ];
    [$settings, $secrets] = sandboxed_product_settings($product, $modules[$module]['info']);
    $job = ['module' => $module, 'service' => $service];
    if ($settings !== []) {
        $job['settings'] = $settings;
    }
    return [$module, $job, $secrets];
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
                $limitValue = is_array($limit) ? ($limit['Value'] ?? ($limit['value'] ?? null)) : null;
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
 * A figure as people read it: no trailing ".0", two decimals at most.
 *
 * @param float $value the figure
 */
function sandboxed_figure(float $value): string
{
    return rtrim(rtrim(number_format($value, 2, '.', ''), '0'), '.');
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

/** A random password of 16 letters, digits and signs (at least one of each kind). */
function sandboxed_new_password(): string
{
    $sets = ['abcdefghijkmnpqrstuvwxyz', 'ABCDEFGHJKLMNPQRSTUVWXYZ', '23456789', '!#%+-_'];
    $chars = [];
    foreach ($sets as $set) {
        $chars[] = $set[random_int(0, strlen($set) - 1)];
    }
    $all = implode('', $sets);
    while (count($chars) < 16) {
        $chars[] = $all[random_int(0, strlen($all) - 1)];
    }
    for ($i = count($chars) - 1; $i > 0; $i--) {
        $j = random_int(0, $i);
        [$chars[$i], $chars[$j]] = [$chars[$j], $chars[$i]];
    }
    return implode('', $chars);
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

/**
 * The live status at the provider: state (kebab case) and details.
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
    return ['state' => sandboxed_kebab((string) ($value['state'] ?? 'unknown')), 'details' => $details];
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
 * Keeps the digest of the module version that answered (shown on the
 * admin tab); a failure to keep it never fails the call.
 *
 * @param array<string, mixed> $params module parameters
 * @param array<string, mixed> $result the CallResult
 */
function sandboxed_note_digest(array $params, array $result): void
{
    $digest = sandboxed_text($result['module_digest'] ?? null);
    $properties = sandboxed_properties($params);
    if ($digest === null || $properties === null) {
        return;
    }
    try {
        if ($properties->get(SANDBOXED_DIGEST_FIELD) !== $digest) {
            $properties->save([SANDBOXED_DIGEST_FIELD => $digest]);
        }
    } catch (Throwable) {
        // Only the admin tab is the poorer for it.
    }
}

/**
 * Saves a service property (a custom field WHMCS creates when missing).
 *
 * @param array<string, mixed> $params module parameters with `model`
 * @param string               $name   the property
 * @param string               $value  its value
 * @param int|null             $entry  the journal entry, for messages
 */
function sandboxed_save_property(array $params, string $name, string $value, ?int $entry): void
{
    $properties = sandboxed_properties($params);
    if ($properties === null) {
        throw new SandboxedFailure('platform', "WHMCS passed no model of this service or addon to store `{$name}` in;"
            . ' the answer stays in journal entry ' . ($entry ?? '-') . ' (`provisioning journal pending`)');
    }
    $properties->save([$name => $value]);
}

/**
 * The product addon a call is for (`addonId`, tblhostingaddons.id), or 0
 * when it is for the service itself.
 *
 * @param array<string, mixed> $params module parameters
 */
function sandboxed_addon_id(array $params): int
{
    return max(0, (int) ($params['addonId'] ?? 0));
}

/**
 * What a call's keys and the contract's `service_id` are scoped by: the
 * service id, or for a product addon "<serviceid>-a<addonId>", so that an
 * addon and its parent never share an idempotency key or a provider account.
 *
 * @param array<string, mixed> $params module parameters
 */
function sandboxed_scope(array $params): string
{
    $addon = sandboxed_addon_id($params);
    return (string) $params['serviceid'] . ($addon > 0 ? '-a' . $addon : '');
}

/**
 * The properties (custom fields) of the service or addon a call is for:
 * `$params['model']->serviceProperties`. For an addon WHMCS passes the
 * addon's model; a model that is not this addon's (the parent service's) is
 * never used, so an addon cannot read or overwrite its parent's values.
 *
 * @param array<string, mixed> $params module parameters
 */
function sandboxed_properties(array $params): ?object
{
    $model = $params['model'] ?? null;
    if (!is_object($model) || !isset($model->serviceProperties)) {
        return null;
    }
    $addon = sandboxed_addon_id($params);
    if ($addon > 0 && (int) ($model->id ?? 0) !== $addon) {
        return null;
    }
    return $model->serviceProperties;
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
 * The loaded modules by name, each with its info (functions and setting
 * kinds in kebab case), read once per request.
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
 * The info with enum values in the contract's kebab case, whichever case
 * the host serialized them in ("TestConnection" or "test-connection").
 *
 * @param array<string, mixed> $info module info as served
 *
 * @return array<string, mixed>
 */
function sandboxed_normalize_info(array $info): array
{
    $info['name'] = (string) ($info['name'] ?? '');
    $info['functions'] = array_map('sandboxed_kebab', $info['functions'] ?? []);
    $info['settings'] = array_map(static function (array $spec): array {
        $spec['kind'] = sandboxed_kebab((string) ($spec['kind'] ?? 'text'));
        $spec['scope'] = sandboxed_kebab((string) ($spec['scope'] ?? 'server'));
        return $spec;
    }, $info['settings'] ?? []);
    return $info;
}

/**
 * "TestConnection" → "test-connection"; kebab case stays as it is.
 *
 * @param string $name an enum value
 */
function sandboxed_kebab(string $name): string
{
    return strtolower((string) preg_replace('/(?<=[a-z0-9])(?=[A-Z])/', '-', $name));
}

/**
 * Every product-scope setting spec of a module, in the order of its info.
 *
 * @param array<string, mixed> $info normalized module info
 *
 * @return list<array<string, mixed>>
 */
function sandboxed_product_specs_all(array $info): array
{
    return array_values(array_filter($info['settings'], static fn (array $spec): bool => $spec['scope'] === 'product'));
}

/**
 * The WHMCS field for a setting spec.
 *
 * @param array<string, mixed> $spec the setting
 *
 * @return array<string, mixed>
 */
function sandboxed_option_field(array $spec): array
{
    $default = isset($spec['default']) ? (string) $spec['default'] : '';
    $description = (string) ($spec['help'] ?? '');
    return match ($spec['kind']) {
        'secret' => ['Type' => 'password', 'Size' => '25', 'Description' => $description],
        'number' => ['Type' => 'text', 'Size' => '10', 'Default' => $default, 'Description' => $description],
        'boolean' => ['Type' => 'yesno', 'Default' => $default === 'true' ? 'on' : '', 'Description' => $description],
        'choice' => [
            'Type' => 'dropdown',
            'Options' => array_combine($spec['choices'], $spec['choices']) ?: [],
            'Default' => $default,
            'Description' => $description,
        ],
        default => ['Type' => 'text', 'Size' => '25', 'Default' => $default, 'Description' => $description],
    };
}

/**
 * The per-call settings from the product's options (each setting's pinned
 * configoption, see sandboxed_product_slots), and
 * the secret ones among their values. Blank options are left out so the
 * manifest's value applies; a yes/no box is always sent. A configurable
 * option the customer chose (`$params['configoptions']`) whose name is a
 * product-scope setting's name or label takes that setting's place.
 *
 * @param array<string, mixed> $options `$params` or a tblproducts row
 * @param array<string, mixed> $info    normalized module info
 *
 * @return array{0: list<array{name: string, value: string}>, 1: list<string>}
 */
function sandboxed_product_settings(array $options, array $info): array
{
    $raws = [];
    foreach (sandboxed_product_slots(trim((string) ($options['configoption1'] ?? '')), $info) as $slot => $spec) {
        if (is_array($spec)) {
            $raws[(string) $spec['name']] = trim((string) ($options['configoption' . $slot] ?? ''));
        }
    }
    foreach (sandboxed_configurable_options($options) as [$name, $value]) {
        $spec = sandboxed_setting_for_option($info, $name);
        if ($spec !== null) {
            $raws[(string) $spec['name']] = $value;
        }
    }
    $settings = [];
    $secrets = [];
    foreach (sandboxed_product_specs_all($info) as $spec) {
        if (!array_key_exists((string) $spec['name'], $raws)) {
            continue;
        }
        $raw = $raws[(string) $spec['name']];
        if ($spec['kind'] === 'boolean') {
            $value = in_array(strtolower($raw), ['on', 'yes', '1', 'true'], true) ? 'true' : 'false';
        } elseif ($raw === '') {
            continue;
        } else {
            $value = $raw;
        }
        $settings[] = ['name' => (string) $spec['name'], 'value' => $value];
        if ($spec['kind'] === 'secret') {
            $secrets[] = $value;
        }
    }
    return [$settings, $secrets];
}

/**
 * The configurable options the customer chose (`$params['configoptions']`,
 * option name => value), as [name, value] pairs: the name and the value
 * without WHMCS's "|friendly name" part, blank values left out.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return list<array{0: string, 1: string}>
 */
function sandboxed_configurable_options(array $params): array
{
    $options = [];
    foreach (is_array($params['configoptions'] ?? null) ? $params['configoptions'] : [] as $name => $value) {
        if (!is_scalar($value)) {
            continue;
        }
        $name = trim(explode('|', (string) $name, 2)[0]);
        $value = trim(explode('|', (string) $value, 2)[0]);
        if ($name !== '' && $value !== '') {
            $options[] = [$name, $value];
        }
    }
    return $options;
}

/**
 * The product-scope setting a configurable option stands for: the one whose
 * name or label is the option's name (ignoring case). Server-scope settings
 * (endpoints, credentials) are the operator's and never come from an order.
 *
 * @param array<string, mixed> $info normalized module info
 * @param string               $name the option's name
 *
 * @return array<string, mixed>|null
 */
function sandboxed_setting_for_option(array $info, string $name): ?array
{
    foreach (sandboxed_product_specs_all($info) as $spec) {
        if (strcasecmp((string) $spec['name'], $name) === 0 || strcasecmp((string) ($spec['label'] ?? ''), $name) === 0) {
            return $spec;
        }
    }
    return null;
}

/**
 * The service's custom fields for the contract: the configurable options
 * that are no setting of the module first (what the customer chose at
 * order), then WHMCS's custom fields; blank values left out.
 *
 * @param array<string, mixed>      $params module parameters
 * @param array<string, mixed>|null $info   normalized module info, when known
 *
 * @return list<array{0: string, 1: string}>
 */
function sandboxed_custom_fields(array $params, ?array $info): array
{
    $fields = [];
    foreach (sandboxed_configurable_options($params) as [$name, $value]) {
        if ($info === null || sandboxed_setting_for_option($info, $name) === null) {
            $fields[] = [$name, $value];
        }
    }
    // What this module keeps in properties is no customer's input, and must
    // not change a request (its idempotency digest) from one call to the next.
    $own = [SANDBOXED_REMOTE_ID_FIELD, SANDBOXED_DIGEST_FIELD, SANDBOXED_STATUS_FIELD, SANDBOXED_ADDON_USERNAME_FIELD, SANDBOXED_ADDON_PASSWORD_FIELD];
    foreach ($params['customfields'] ?? [] as $name => $value) {
        if (is_scalar($value) && (string) $value !== '' && !in_array((string) $name, $own, true)) {
            $fields[] = [(string) $name, (string) $value];
        }
    }
    return $fields;
}

/**
 * The module a product uses (option 1).
 *
 * @param array<string, mixed> $params module parameters
 */
function sandboxed_module_name(array $params): string
{
    $module = trim((string) ($params['configoption1'] ?? ''));
    // A product WHMCS's server sync created for an account it imported has
    // only option 2 (`module:package`): its module is the prefix.
    if ($module === '' && preg_match('/^([a-z0-9][a-z0-9_-]*):./i', trim((string) ($params['configoption2'] ?? '')), $prefix) === 1) {
        $module = $prefix[1];
    }
    if ($module === '') {
        throw new SandboxedFailure('invalid-config', "the product's Module (module setting 1) is empty");
    }
    return $module;
}

/**
 * The contract's service record from WHMCS's parameters.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return array<string, mixed>
 */
function sandboxed_service(array $params): array
{
    $customFields = sandboxed_custom_fields($params, null);
    $model = $params['model'] ?? null;
    $cycle = $params['billingcycle'] ?? (is_object($model) ? ($model->billingcycle ?? null) : null);
    return [
        'service_id' => sandboxed_scope($params),
        'remote_id' => sandboxed_remote_id($params),
        'domain' => sandboxed_text($params['domain'] ?? null),
        'username' => sandboxed_text($params['username'] ?? null),
        'password' => sandboxed_text($params['password'] ?? null),
        'package' => sandboxed_package(sandboxed_module_name($params), $params['configoption2'] ?? null),
        'billing_cycle' => sandboxed_billing_cycle($cycle),
        'client' => sandboxed_client($params['clientsdetails'] ?? null),
        'custom_fields' => $customFields,
    ];
}

/**
 * The provider's id of the service: the "Remote ID" custom field WHMCS
 * passes, else the service property. For an addon only the addon's own
 * property counts (the custom fields WHMCS passes may be the parent's).
 *
 * @param array<string, mixed> $params module parameters
 */
function sandboxed_remote_id(array $params): ?string
{
    return sandboxed_property($params, SANDBOXED_REMOTE_ID_FIELD)
        ?? sandboxed_kept_remote_id((int) ($params['serviceid'] ?? 0), sandboxed_addon_id($params));
}

/**
 * Keeps the provider's id of a service or addon in the module's own table
 * (SANDBOXED_ACCOUNTS_TABLE), creating the table the first time.
 *
 * @param int      $serviceId tblhosting.id
 * @param int      $addonId   tblhostingaddons.id, 0 for the service itself
 * @param string   $remote    the provider's id
 * @param int|null $entry     the journal entry, for messages
 */
function sandboxed_keep_remote_id(int $serviceId, int $addonId, string $remote, ?int $entry): void
{
    try {
        $schema = Capsule::schema();
        if (!$schema->hasTable(SANDBOXED_ACCOUNTS_TABLE)) {
            $schema->create(SANDBOXED_ACCOUNTS_TABLE, static function ($table): void {
                $table->integer('service_id');
                $table->integer('addon_id')->default(0);
                $table->string('remote_id', 191);
                $table->timestamp('updated_at')->nullable();
                $table->unique(['service_id', 'addon_id']);
            });
        }
        Capsule::table(SANDBOXED_ACCOUNTS_TABLE)->updateOrInsert(
            ['service_id' => $serviceId, 'addon_id' => $addonId],
            ['remote_id' => $remote, 'updated_at' => date('Y-m-d H:i:s')]
        );
    } catch (Throwable $error) {
        throw new SandboxedFailure('platform', "the provider's id {$remote} could not be kept in "
            . SANDBOXED_ACCOUNTS_TABLE . ' (' . $error->getMessage() . '); the answer stays in journal entry '
            . ($entry ?? '-') . ' (`provisioning journal pending`)');
    }
}

/**
 * The provider's id of a service or addon from the module's own table.
 *
 * @param int $serviceId tblhosting.id
 * @param int $addonId   tblhostingaddons.id, 0 for the service itself
 */
function sandboxed_kept_remote_id(int $serviceId, int $addonId): ?string
{
    try {
        if (!Capsule::schema()->hasTable(SANDBOXED_ACCOUNTS_TABLE)) {
            return null;
        }
        $value = Capsule::table(SANDBOXED_ACCOUNTS_TABLE)
            ->where('service_id', $serviceId)
            ->where('addon_id', $addonId)
            ->value('remote_id');
    } catch (Throwable) {
        return null;
    }
    return sandboxed_text($value);
}

/**
 * A property of the service or addon a call is for: the custom field WHMCS
 * passes (services only), else the stored property.
 *
 * @param array<string, mixed> $params module parameters
 * @param string               $name   the property
 */
function sandboxed_property(array $params, string $name): ?string
{
    $value = sandboxed_addon_id($params) > 0 ? null : ($params['customfields'][$name] ?? null);
    $properties = sandboxed_properties($params);
    if (sandboxed_text(is_scalar($value) ? (string) $value : null) === null && $properties !== null) {
        $value = $properties->get($name);
    }
    return sandboxed_text(is_scalar($value) ? (string) $value : null);
}

/**
 * The stored "Remote ID" of a service: its product's custom field, else
 * the module's own table (UsageUpdate has no module parameters per service).
 *
 * @param int $serviceId tblhosting.id
 * @param int $productId tblproducts.id
 */
function sandboxed_stored_remote_id(int $serviceId, int $productId): ?string
{
    $fields = Capsule::table('tblcustomfields')->where('type', 'product')->where('relid', $productId)->get();
    foreach ($fields as $field) {
        $field = (array) $field;
        $name = explode('|', (string) $field['fieldname'], 2)[0];
        if ($name !== SANDBOXED_REMOTE_ID_FIELD) {
            continue;
        }
        $value = sandboxed_text(Capsule::table('tblcustomfieldsvalues')
            ->where('fieldid', (int) $field['id'])
            ->where('relid', $serviceId)
            ->value('value'));
        if ($value !== null) {
            return $value;
        }
    }
    return sandboxed_kept_remote_id($serviceId, 0);
}

/**
 * The contract's contact from `clientsdetails`.
 *
 * @param mixed $client WHMCS's clientsdetails array
 *
 * @return array<string, string|null>|null
 */
function sandboxed_client(mixed $client): ?array
{
    if (!is_array($client) || ($client['email'] ?? '') === '') {
        return null;
    }
    $address = implode(', ', array_filter([
        trim((string) ($client['address1'] ?? '')),
        trim((string) ($client['address2'] ?? '')),
    ], static fn (string $line): bool => $line !== ''));
    return [
        'first_name' => (string) ($client['firstname'] ?? ''),
        'last_name' => (string) ($client['lastname'] ?? ''),
        'company' => sandboxed_text($client['companyname'] ?? null),
        'email' => (string) $client['email'],
        'phone' => sandboxed_phone($client),
        'address' => sandboxed_text($address),
        'city' => sandboxed_text($client['city'] ?? null),
        'state' => sandboxed_text($client['state'] ?? null),
        'postcode' => sandboxed_text($client['postcode'] ?? null),
        'country' => sandboxed_text($client['country'] ?? null),
        'language' => sandboxed_language($client['language'] ?? null),
    ];
}

/**
 * The phone number in international form ("+255712345678"): WHMCS's
 * formatted number ("+255.712345678") without separators, else the country
 * calling code and the number.
 *
 * @param array<string, mixed> $client clientsdetails
 */
function sandboxed_phone(array $client): ?string
{
    $formatted = (string) ($client['phonenumberformatted'] ?? ($client['fullphonenumber'] ?? ''));
    if ($formatted === '' && ($client['phonenumber'] ?? '') !== '') {
        $number = (string) $client['phonenumber'];
        $formatted = ($client['phonecc'] ?? '') !== '' && !str_starts_with($number, '+')
            ? '+' . $client['phonecc'] . $number
            : $number;
    }
    $phone = preg_replace('/[\s.\-()]/', '', $formatted);
    return sandboxed_text($phone);
}

/**
 * WHMCS's client language ("english", "portuguese-br") as ISO 639-1.
 *
 * @param mixed $language clientsdetails language
 */
function sandboxed_language(mixed $language): ?string
{
    $language = strtolower(trim((string) $language));
    $codes = [
        'arabic' => 'ar', 'azerbaijani' => 'az', 'catalan' => 'ca', 'chinese' => 'zh', 'croatian' => 'hr',
        'czech' => 'cs', 'danish' => 'da', 'dutch' => 'nl', 'english' => 'en', 'estonian' => 'et',
        'farsi' => 'fa', 'french' => 'fr', 'german' => 'de', 'hebrew' => 'he', 'hungarian' => 'hu',
        'italian' => 'it', 'macedonian' => 'mk', 'norwegian' => 'no', 'portuguese-br' => 'pt',
        'portuguese-pt' => 'pt', 'romanian' => 'ro', 'russian' => 'ru', 'spanish' => 'es',
        'swedish' => 'sv', 'turkish' => 'tr', 'ukranian' => 'uk', 'swahili' => 'sw',
    ];
    if (isset($codes[$language])) {
        return $codes[$language];
    }
    return preg_match('/^[a-z]{2}$/', $language) ? $language : null;
}

/**
 * WHMCS's billing cycle ("Semi-Annually") as the contract's word
 * ("semiannually"); none for one-time and free services.
 *
 * @param mixed $cycle tblhosting.billingcycle
 */
function sandboxed_billing_cycle(mixed $cycle): ?string
{
    $cycle = strtolower(str_replace(['-', ' '], '', (string) $cycle));
    return in_array($cycle, ['monthly', 'quarterly', 'semiannually', 'annually', 'biennially', 'triennially'], true)
        ? $cycle
        : null;
}

/**
 * tblhosting's usage columns (MB; a limit of 0 is unlimited) from the
 * contract's usage figures.
 *
 * @param list<array<string, mixed>> $figures usage figures
 *
 * @return array<string, int>
 */
function sandboxed_usage_columns(array $figures): array
{
    $columns = ['disk' => ['diskusage', 'disklimit'], 'bandwidth' => ['bwusage', 'bwlimit']];
    $update = [];
    foreach ($figures as $figure) {
        $name = (string) ($figure['name'] ?? '');
        if (!isset($columns[$name])) {
            continue;
        }
        $scale = sandboxed_megabytes((string) ($figure['unit'] ?? 'MB'));
        if ($scale === null) {
            continue;
        }
        [$usedColumn, $limitColumn] = $columns[$name];
        $update[$usedColumn] = (int) round((float) $figure['used'] * $scale);
        $limit = $figure['limit'] ?? null;
        $limitValue = is_array($limit) ? ($limit['Value'] ?? ($limit['value'] ?? null)) : null;
        $update[$limitColumn] = $limitValue === null ? 0 : (int) round((float) $limitValue * $scale);
    }
    return $update;
}

/**
 * How many MB one unit is, or null for a unit that is not a size.
 *
 * @param string $unit "MB", "GB", "KB", "B"...
 */
function sandboxed_megabytes(string $unit): ?float
{
    return match (strtoupper(trim($unit))) {
        'MB', 'MIB' => 1.0,
        'GB', 'GIB' => 1024.0,
        'TB', 'TIB' => 1048576.0,
        'KB', 'KIB' => 1 / 1024,
        'B', 'BYTES' => 1 / 1048576,
        default => null,
    };
}

/**
 * A typed error of a call as WHMCS shows it: "kind: message", without the
 * host's "module: kind: " prefix.
 *
 * @param array<string, mixed> $error  the CallResult's error
 * @param string               $module module name
 */
function sandboxed_error_text(array $error, string $module): string
{
    return sandboxed_error_failure($error, $module)->describe();
}

/**
 * A typed error of a call as a failure to throw.
 *
 * @param array<string, mixed> $error  the CallResult's error
 * @param string               $module module name
 */
function sandboxed_error_failure(array $error, string $module): SandboxedFailure
{
    $kind = (string) ($error['kind'] ?? 'error');
    $message = (string) ($error['message'] ?? '');
    foreach (["{$module}: {$kind}: ", "{$module}: "] as $prefix) {
        if (str_starts_with($message, $prefix)) {
            $message = substr($message, strlen($prefix));
            break;
        }
    }
    if (isset($error['retry_after_seconds'])) {
        $message .= ' (retry after ' . (int) $error['retry_after_seconds'] . ' s)';
    }
    return new SandboxedFailure($kind, $message);
}

/**
 * The secrets among the module parameters: the service's password and the
 * server's token.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return list<string>
 */
function sandboxed_param_secrets(array $params): array
{
    return array_values(array_filter([
        (string) ($params['password'] ?? ''),
        (string) ($params['serverpassword'] ?? ''),
        (string) ($params['serveraccesshash'] ?? ''),
    ], static fn (string $secret): bool => $secret !== ''));
}

/**
 * Logs one exchange in WHMCS's module log, the secrets given as values to
 * replace, in plain and JSON-escaped form.
 *
 * @param string              $action    the WHMCS function
 * @param string              $request   what was sent
 * @param string              $response  what came back
 * @param array<mixed>        $processed the decoded answer
 * @param list<string>        $secrets   values to replace
 */
function sandboxed_log(string $action, string $request, string $response, array $processed, array $secrets): void
{
    if (function_exists('logModuleCall')) {
        logModuleCall('sandboxed', $action, $request, $response, $processed, sandboxed_replace_vars($secrets));
    }
}

/**
 * Every form a secret takes in what is logged: plain and JSON-escaped,
 * longest first so that no part of one is left.
 *
 * @param list<string> $secrets the secrets
 *
 * @return list<string>
 */
function sandboxed_replace_vars(array $secrets): array
{
    $forms = [];
    foreach ($secrets as $secret) {
        $secret = (string) $secret;
        if ($secret === '') {
            continue;
        }
        $forms[] = $secret;
        foreach ([JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE, 0] as $flags) {
            $json = json_encode($secret, $flags);
            if (is_string($json)) {
                $forms[] = substr($json, 1, -1);
            }
        }
    }
    $forms = array_values(array_unique($forms));
    usort($forms, static fn (string $a, string $b): int => strlen($b) <=> strlen($a));
    return $forms;
}

/**
 * Masks the secrets in a message.
 *
 * @param string       $text    the message
 * @param list<string> $secrets the secrets
 */
function sandboxed_mask(string $text, array $secrets): string
{
    $forms = sandboxed_replace_vars($secrets);
    return $forms === [] ? $text : str_replace($forms, '***', $text);
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
 * A trimmed non-empty string, or null.
 *
 * @param mixed $value any scalar
 */
function sandboxed_text(mixed $value): ?string
{
    if (!is_scalar($value)) {
        return null;
    }
    $value = trim((string) $value);
    return $value === '' ? null : $value;
}
