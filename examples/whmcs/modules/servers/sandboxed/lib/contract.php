<?php

/**
 * WHMCS's values in the contract's words (wit/provisioning.wit), and back:
 * the service record, client and scope (`service_id`) from WHMCS's
 * parameters, a usage job from a tblhosting row, the package as option 2
 * keeps it (`module:package`), and the contract's answers as WHMCS keeps or
 * shows them (usage columns, figures, a synced account's status).
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

use WHMCS\Database\Capsule;

/** WHMCS's status of an account the Server Sync Tool imports, by the contract's service state. */
const SANDBOXED_SYNC_STATUS = ['active' => 'Active', 'suspended' => 'Suspended', 'pending' => 'Pending'];

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

/**
 * A package as option 2 keeps it: `module:package`, so that the value
 * names the module too (server sync matches products by this one column).
 */
function sandboxed_package_option(string $module, string $package): string
{
    return $module . ':' . $package;
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
        $limitValue = is_array($limit) ? ($limit['value'] ?? null) : null;
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
 * A figure as people read it: no trailing ".0", two decimals at most.
 *
 * @param float $value the figure
 */
function sandboxed_figure(float $value): string
{
    return rtrim(rtrim(number_format($value, 2, '.', ''), '0'), '.');
}
