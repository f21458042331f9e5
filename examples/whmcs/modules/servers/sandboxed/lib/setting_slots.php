<?php

/**
 * A module's product-scope settings in WHMCS's product options: the
 * configoptionN slot each setting's name is pinned to for good (kept in
 * tblconfiguration as `SandboxedSettingSlots`), the field each is shown
 * as, and the per-call settings read from a product's options and the
 * customer's configurable options.
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

/** configoptionN of the first product-scope setting (1 is Module, 2 Package). */
const SANDBOXED_FIRST_SETTING_OPTION = 3;

/** WHMCS shows at most 24 module settings per product. */
const SANDBOXED_MAX_OPTIONS = 24;

/** tblconfiguration's setting pinning each module's product settings to their configoption slots. */
const SANDBOXED_SLOTS_SETTING = 'SandboxedSettingSlots';

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
