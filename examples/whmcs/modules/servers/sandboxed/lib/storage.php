<?php

/**
 * What the `sandboxed` server module keeps in WHMCS, and where: the
 * properties (custom fields) of a service or addon (Remote ID, Module
 * version, Provider status, an addon's Username and Password), its own
 * table of provider ids (`mod_sandboxed_accounts`), the JSON objects it
 * keeps in tblconfiguration (the modules' info as the host last described
 * it), and what server sync needs of them (the Remote ID field filled in,
 * the addons' ids, products whose Package names its module).
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

/** tblconfiguration's setting holding the modules' info as the host last described it. */
const SANDBOXED_INFO_SETTING = 'SandboxedModuleInfo';

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
