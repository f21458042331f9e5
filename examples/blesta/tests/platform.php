<?php

/**
 * Plays Blesta for the `sandboxed` module, one step per run (each a PHP
 * process of its own, as each Blesta request or cron run is), its database
 * kept in a JSON file between runs.
 *
 * The stand-ins follow Blesta's module documentation and its Services model:
 * the Module base class (config.json, module rows and their meta, the row
 * Blesta sets before each call, serviceFieldsToObject, log), Input with its
 * rules and errors, ModuleFields, Language and Loader; and the calling side:
 * Services::add calls addService before the service exists and stores the
 * fields it returns (encrypting those marked `encrypted`) only when the
 * module set no Input errors; Services::edit calls editService (or
 * changeServicePackage for a new package) and replaces the fields with any
 * array returned; cancel, suspend and unsuspend likewise; an error leaves
 * the service as it was. Modules see services with their fields decrypted.
 *
 * Usage: php platform.php STATE STEP [MODULE] [ARGUMENTS...]
 *   setup                          module rows for each module of serve (SANDBOXED_URL,
 *                                  SANDBOXED_TOKEN), packages from PLANS_JSON through
 *                                  getPackageFields and addPackage
 *   fields PLAN                    the labels and names getPackageFields shows for a package
 *   create MODULE DOMAIN [USERNAME] [PLAN]   an admin's add with "use module"
 *   create-lost MODULE DOMAIN      the same add, Blesta dying before it stores the fields
 *   suspend|unsuspend|cancel|view MODULE
 *   password MODULE NEW | domain MODULE NEW | plan MODULE PLAN   an admin's edit
 * Prints one JSON line: {"ok": ..., "fields": {...}} or {"error": {...}}.
 */

declare(strict_types=1);

const DS = DIRECTORY_SEPARATOR;

/** The database, kept in the state file between runs. */
final class Db
{
    public static array $t = [];
}

/** Blesta's Language: files of $lang entries, keys formatted with sprintf. */
final class Language
{
    private static array $lang = [];

    public static function loadLang($file, $language = null, $dir = null): void
    {
        $lang = [];
        include rtrim((string) $dir, DS) . DS . ($language ?? 'en_us') . DS . $file . '.php';
        self::$lang = $lang + self::$lang;
    }

    public static function _($key, $return = false, ...$args)
    {
        $text = isset(self::$lang[$key]) ? vsprintf(self::$lang[$key], $args) : $key;
        if ($return) {
            return $text;
        }
        echo $text;
        return null;
    }
}

/** Blesta's Loader, for the components and models a module loads. */
final class Loader
{
    public static function loadComponents($object, array $names): void
    {
        foreach ($names as $name) {
            $object->{$name} = new $name();
        }
    }

    public static function loadModels($object, array $names): void
    {
        foreach ($names as $name) {
            $class = 'Platform' . $name;
            $object->{$name} = new $class();
        }
    }

    public static function loadHelpers($object, array $names): void
    {
    }
}

/** Blesta's Clients model: a client record as modules get it. */
final class PlatformClients
{
    public function get($clientId, $getSettings = true)
    {
        $client = Db::$t['clients'][(string) $clientId] ?? null;
        return $client === null ? false : (object) $client;
    }
}

/** Blesta's Contacts model: a contact's phone numbers. */
final class PlatformContacts
{
    public function getNumbers($contactId, $type = null, $location = null): array
    {
        return array_map(static fn (array $n): object => (object) $n, Db::$t['numbers'][(string) $contactId] ?? []);
    }
}

/** Blesta's Input: rules checked against input, and the errors set. */
final class Input
{
    private array $rules = [];
    private array|false $errors = false;

    public function setRules(array $rules): void
    {
        $this->rules = $rules;
    }

    public function validates(&$vars): bool
    {
        foreach ($this->rules as $field => $checks) {
            foreach ($checks as $name => $check) {
                if (!empty($check['if_set']) && !array_key_exists($field, (array) $vars)) {
                    continue;
                }
                $value = ((array) $vars)[$field] ?? null;
                $rule = $check['rule'];
                $passed = match (true) {
                    $rule === 'isEmpty' => trim((string) $value) === '',
                    is_array($rule) => (bool) call_user_func($rule[0], $value, ...array_slice($rule, 1)),
                    default => throw new LogicException("no rule {$rule} in the stand-in"),
                };
                if (!empty($check['negate'])) {
                    $passed = !$passed;
                }
                if (!$passed) {
                    $this->errors = is_array($this->errors) ? $this->errors : [];
                    $this->errors[$field][$name] = $check['message'];
                }
            }
        }
        return $this->errors === false;
    }

    public function setErrors(array $errors): void
    {
        $this->errors = $errors;
    }

    public function errors()
    {
        return $this->errors;
    }
}

/** One label or field of ModuleFields. */
final class ModuleField
{
    public array $fields = [];

    public function __construct(public string $type, public string $name, public mixed $value = null, public array $attributes = [], public array $options = [])
    {
    }

    public function attach(ModuleField $field): void
    {
        $this->fields[] = $field;
    }
}

/** Blesta's ModuleFields: labels with their fields attached. */
final class ModuleFields
{
    public array $fields = [];

    public function label($name, $for = null, array $attributes = []): ModuleField
    {
        return new ModuleField('label', (string) $name, $for, $attributes);
    }

    public function fieldText($name, $value = null, array $attributes = []): ModuleField
    {
        return new ModuleField('text', (string) $name, $value, $attributes);
    }

    public function fieldPassword($name, array $attributes = []): ModuleField
    {
        return new ModuleField('password', (string) $name, $attributes['value'] ?? null, $attributes);
    }

    public function fieldSelect($name, $options = [], $selectedValue = null, array $attributes = []): ModuleField
    {
        return new ModuleField('select', (string) $name, $selectedValue, $attributes, (array) $options);
    }

    public function setField(ModuleField $field): void
    {
        $this->fields[] = $field;
    }

    public function getFields(): array
    {
        return $this->fields;
    }
}

/** Blesta's Module base class, as far as a module uses it. */
abstract class Module
{
    public $Input;
    public $base_uri = '';
    protected $view;
    protected ?object $config = null;
    private ?object $moduleRow = null;

    protected function loadConfig($file): void
    {
        $this->config = json_decode((string) file_get_contents($file));
    }

    public function getName()
    {
        return Language::_($this->config->name, true);
    }

    public function setModuleRow($row): void
    {
        $this->moduleRow = $row ?: null;
    }

    public function getModuleRow($id = null)
    {
        if ($id === null) {
            return $this->moduleRow ?? false;
        }
        $row = Db::$t['rows'][(string) $id] ?? null;
        return $row === null ? false : platform_row((string) $id);
    }

    public function getModuleRows($group = null): array
    {
        return array_map('platform_row', array_map('strval', array_keys(Db::$t['rows'])));
    }

    protected function serviceFieldsToObject(array $fields): object
    {
        $object = new stdClass();
        foreach ($fields as $field) {
            $object->{$field->key} = $field->value;
        }
        return $object;
    }

    protected function log($url, $data = null, $direction = 'input', $success = false): void
    {
        Db::$t['log'][] = ['url' => $url, 'data' => $data, 'direction' => $direction, 'success' => $success];
    }

    public function errors()
    {
        return $this->Input->errors();
    }
}

require_once __DIR__ . '/../components/modules/sandboxed/sandboxed.php';

/** Blesta keeps encrypted meta and fields encrypted; modules get them decrypted. */
function platform_encrypt(string $value): string
{
    return 'enc:' . base64_encode($value);
}

function platform_decrypt(string $value): string
{
    return str_starts_with($value, 'enc:') ? (string) base64_decode(substr($value, 4)) : $value;
}

/** A module row as Blesta hands it to a module: meta decrypted. */
function platform_row(string $id): object
{
    $meta = new stdClass();
    foreach (Db::$t['rows'][$id] as $item) {
        $meta->{$item['key']} = $item['encrypted'] ? platform_decrypt($item['value']) : $item['value'];
    }
    return (object) ['id' => (int) $id, 'meta' => $meta];
}

function platform_package(string $name): object
{
    $package = Db::$t['packages'][$name];
    return (object) ['id' => $package['id'], 'name' => $name, 'module_row' => $package['module_row'], 'module_group' => '',
        'meta' => (object) array_column($package['meta'], 'value', 'key'),
        'pricing' => array_map(static fn (array $p): object => (object) $p, $package['pricing'])];
}

/** A service as Services::get gives it: its fields decrypted. */
function platform_service(string $module): object
{
    $service = Db::$t['services'][$module];
    $fields = array_map(static fn (array $f): object => (object) ['key' => $f['key'],
        'value' => $f['encrypted'] ? platform_decrypt($f['value']) : $f['value'], 'encrypted' => $f['encrypted']], $service['fields']);
    return (object) ['id' => $service['id'], 'client_id' => $service['client_id'], 'pricing_id' => $service['pricing_id'],
        'status' => $service['status'], 'fields' => $fields];
}

/** Services::setFields: the module's fields stored, encrypted where it says. */
function platform_store_fields(string $module, array $fields): void
{
    Db::$t['services'][$module]['fields'] = array_map(static fn (array $f): array => ['key' => $f['key'],
        'value' => !empty($f['encrypted']) ? platform_encrypt((string) $f['value']) : (string) $f['value'],
        'encrypted' => (int) !empty($f['encrypted'])], $fields);
}

/** A module ready for a call on a package, its row set as Blesta sets it. */
function platform_module(object $package): Sandboxed
{
    $module = new Sandboxed();
    $module->setModuleRow($module->getModuleRow($package->module_row));
    return $module;
}

final class PlatformError extends RuntimeException
{
    public function __construct(public readonly array $errors)
    {
        parent::__construct(json_encode($errors));
    }
}

/** Blesta's answer to a module's errors: the action fails, nothing stored. */
function platform_checked(Sandboxed $module, mixed $returned): mixed
{
    if (($errors = $module->errors())) {
        throw new PlatformError($errors);
    }
    return $returned;
}

function run_step(string $step, array $args): mixed
{
    if ($step === 'setup') {
        Db::$t = ['rows' => [], 'packages' => [], 'services' => [], 'log' => [], 'clients' => ['1' => [
            'id' => 1, 'contact_id' => 11, 'first_name' => 'Neema', 'last_name' => 'Kweka', 'company' => 'Kweka Books',
            'email' => 'neema@example.co.tz', 'address1' => 'Plot 3, Samora Ave', 'address2' => '', 'city' => 'Arusha',
            'state' => 'Arusha', 'zip' => '23101', 'country' => 'TZ', 'settings' => ['language' => 'en_us']]],
            'numbers' => ['11' => [['number' => '+255 714 222333', 'type' => 'phone', 'location' => 'work']]]];
        $plans = json_decode((string) getenv('PLANS_JSON'), true, flags: JSON_THROW_ON_ERROR);
        foreach ($plans as $name => $plan) {
            $moduleName = (string) $plan['module'];
            $rowId = (string) (array_search($moduleName, array_map(static fn (array $r): string => (string) array_column($r, 'value', 'key')['module'], Db::$t['rows']), true) ?: '');
            if ($rowId === '') {
                $module = new Sandboxed();
                $vars = ['server_label' => "serve {$moduleName}", 'url' => (string) getenv('SANDBOXED_URL'),
                    'token' => (string) getenv('SANDBOXED_TOKEN'), 'module' => $moduleName];
                $meta = platform_checked($module, $module->addModuleRow($vars));
                $rowId = (string) (count(Db::$t['rows']) + 1);
                Db::$t['rows'][$rowId] = array_map(static fn (array $m): array => ['key' => $m['key'],
                    'value' => $m['encrypted'] ? platform_encrypt($m['value']) : $m['value'], 'encrypted' => $m['encrypted']], $meta);
            }
            $module = new Sandboxed();
            $packageFields = $module->getPackageFields((object) ['module_row' => (int) $rowId, 'module_group' => '', 'meta' => []]);
            $names = [];
            foreach ($packageFields->getFields() as $label) {
                foreach ($label->fields as $field) {
                    $names[] = $field->name;
                }
            }
            foreach (array_keys($plan['meta']) as $key) {
                if (!in_array("meta[{$key}]", $names, true)) {
                    throw new LogicException("getPackageFields for {$moduleName} has no meta[{$key}]: " . implode(', ', $names));
                }
            }
            $meta = platform_checked($module, $module->addPackage(['meta' => $plan['meta']]));
            $id = count(Db::$t['packages']) + 1;
            Db::$t['packages'][$name] = ['id' => $id, 'module_row' => (int) $rowId, 'meta' => $meta,
                'pricing' => [['id' => 100 + $id, 'term' => 1, 'period' => 'month']]];
        }
        return count(Db::$t['rows']) . ' module rows, ' . count(Db::$t['packages']) . ' packages';
    }
    if ($step === 'fields') {
        $package = platform_package($args[0]);
        $module = new Sandboxed();
        $shown = [];
        foreach ($module->getPackageFields((object) ['module_row' => $package->module_row, 'module_group' => '', 'meta' => []])->getFields() as $label) {
            foreach ($label->fields as $field) {
                $shown[$label->name] = ['name' => $field->name, 'type' => $field->type, 'options' => $field->options];
            }
        }
        return $shown;
    }
    $moduleName = (string) array_shift($args);
    if ($step === 'create' || $step === 'create-lost') {
        // Services::add: the module first; the service only if it set no error.
        $package = platform_package($args[2] ?? $moduleName);
        $module = platform_module($package);
        $vars = ['client_id' => 1, 'pricing_id' => $package->pricing[0]->id, 'status' => 'active', 'use_module' => 'true',
            'sandboxed_domain' => $args[0], 'sandboxed_username' => $args[1] ?? ''];
        $fields = platform_checked($module, $module->addService($package, $vars, null, null, 'active'));
        if ($step === 'create-lost') {
            // Blesta died between the module's answer and storing it.
            return 'lost';
        }
        Db::$t['services'][$moduleName] = ['id' => count(Db::$t['services']) + 1, 'client_id' => 1, 'package' => $package->name,
            'pricing_id' => $vars['pricing_id'], 'status' => 'active', 'fields' => []];
        platform_store_fields($moduleName, (array) $fields);
        return true;
    }
    $record = &Db::$t['services'][$moduleName];
    $package = platform_package($record['package']);
    $module = platform_module($package);
    $service = platform_service($moduleName);
    [$returned, $status] = match ($step) {
        'suspend' => [$module->suspendService($package, $service), 'suspended'],
        'unsuspend' => [$module->unsuspendService($package, $service), 'active'],
        'cancel' => [$module->cancelService($package, $service), 'canceled'],
        'password' => [$module->editService($package, $service, ['use_module' => 'true', 'sandboxed_password' => $args[0]]), null],
        'domain' => [$module->editService($package, $service, ['use_module' => 'true', 'sandboxed_domain' => $args[0]]), null],
        'plan' => [$module->changeServicePackage($package, platform_package($args[0]), $service), null],
        'view' => [$module->getAdminServiceInfo($service, $package), null],
        default => throw new LogicException("no step {$step}"),
    };
    platform_checked($module, null);
    if (is_array($returned)) {
        platform_store_fields($moduleName, $returned);
    }
    if ($status !== null) {
        $record['status'] = $status;
    }
    if ($step === 'plan') {
        $record['package'] = $args[0];
    }
    return $step === 'view' ? $returned : true;
}

[, $stateFile, $step] = $argv + [null, null, null];
if (is_file((string) $stateFile)) {
    Db::$t = json_decode((string) file_get_contents($stateFile), true, flags: JSON_THROW_ON_ERROR);
}
$moduleName = $argv[3] ?? null;
try {
    $answer = ['ok' => run_step((string) $step, array_slice($argv, 3))];
} catch (PlatformError $failure) {
    $answer = ['error' => $failure->errors];
}
if ($moduleName !== null && isset(Db::$t['services'][$moduleName])) {
    $answer['fields'] = array_column(array_map(static fn (object $f): array => (array) $f, platform_service($moduleName)->fields), 'value', 'key');
    $answer['stored'] = array_column(Db::$t['services'][$moduleName]['fields'], 'value', 'key');
}
file_put_contents((string) $stateFile, json_encode(Db::$t, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));
echo json_encode($answer, JSON_UNESCAPED_SLASHES), "\n";
