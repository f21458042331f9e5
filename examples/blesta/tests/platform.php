<?php

/**
 * Plays Blesta for the `sandboxed` module, one step per run (each a PHP
 * process of its own, as each Blesta request or cron run is), its database
 * kept in a JSON file between runs.
 *
 * Checked against Blesta 4.7's sources (app/models/services.php,
 * app/models/clients.php, components/modules/module.php,
 * app/controllers/client_services.php,
 * core/Automation/Tasks/Task/ProvisionPendingServices.php, minphp's View,
 * Loader, Html and Form) and Blesta 5.x's Services::edit, which calls the
 * module in the same order. Each stand-in names what it mirrors and keeps
 * its signature; the calling side does what Blesta does, in its order:
 * - Services::add validates through the module's validateService, forces
 *   use_module "false" for a pending service (an order not yet paid), sets
 *   the package's module row, calls addService before the service exists,
 *   and stores the fields it returns (encrypting those marked `encrypted`)
 *   only when the module set no Input errors.
 * - Services::edit validates through the module's validateServiceEdit (the
 *   module row not set yet), except for a pending service being activated;
 *   then sets the row, calls changeServicePackage with the old package and
 *   the service as it was when the pricing changes (storing what it returns
 *   and fetching the service again), then addService (a pending service
 *   activated: the vars with the service's pricing_id and client_id) or
 *   editService (the new package, the vars with the new pricing_id), and
 *   replaces the fields with any array returned.
 * - The cron's provision_pending_services task activates a paid pending
 *   service through Services::edit with its stored fields merged with
 *   status "active".
 * - ClientServices::processModuleTab runs a tab the module lists in
 *   getClientTabs, the service's module row set, with GET, POST and FILES.
 * Modules see services with their fields decrypted.
 *
 * Usage: php platform.php STATE STEP [MODULE] [ARGUMENTS...]
 *   setup                          module rows for each module of serve (SANDBOXED_URL,
 *                                  SANDBOXED_TOKEN), packages from PLANS_JSON through
 *                                  getPackageFields and addPackage
 *   fields PLAN                    the labels and names getPackageFields shows for a package
 *   create MODULE DOMAIN [USERNAME] [PLAN]   an admin's add with "use module"
 *   create-lost MODULE DOMAIN      the same add, Blesta dying before it stores the fields
 *   order MODULE DOMAIN [PLAN]     a client's order: a pending service, nothing provisioned
 *   cron | cron-lost               the provision_pending_services task (cron-lost: Blesta
 *                                  dies after the module answered, before storing it)
 *   suspend|unsuspend|cancel|view MODULE
 *   password MODULE NEW | domain MODULE NEW | plan MODULE PLAN   an admin's edit
 *   tab MODULE METHOD [KEY=VALUE...]   the client's tab, the pairs POSTed
 * Prints one JSON line: {"ok": ..., "fields": {...}} or {"error": {...}}.
 */

declare(strict_types=1);

const DS = DIRECTORY_SEPARATOR;

/** The database, kept in the state file between runs. */
final class Db
{
    public static array $t = [];
}

/**
 * Blesta's Language: files of $lang entries, keys formatted with sprintf.
 * Mirrors: Blesta 4.7 vendors/minphp/language/src/Language.php (Language::loadLang, Language::_).
 */
class Language
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

/**
 * Blesta's Loader, for the components, models and helpers a module loads.
 * Mirrors: Blesta 4.7 vendors/minphp/bridge/src/Lib/Loader.php.
 */
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

    /** Helpers go to the object and to its view, when it has one, as minphp's do. */
    public static function loadHelpers($parent, $helpers)
    {
        foreach ((array) $helpers as $name) {
            $parent->{$name} = new $name();
            if (isset($parent->view) && $parent->view instanceof View) {
                $parent->view->{$name} = $parent->{$name};
            }
        }
    }
}

/**
 * Blesta's View: a .pdt file under <path>views/<view>/, its vars extracted,
 * `$this` the view (a Language, so `$this->_()` works).
 * Mirrors: Blesta 4.7 vendors/minphp/bridge/src/Lib/View.php.
 */
class View extends Language
{
    public $base_uri = '';
    public $file;
    public $view;
    public $view_path = '';
    protected $vars = [];

    public function __construct($file = null, $view = null)
    {
        $this->file = $file;
        $this->view = $view ?? 'default';
    }

    final public function setDefaultView($path)
    {
        $this->view_path = $path;
    }

    final public function set($name, $value = null)
    {
        foreach (is_array($name) ? $name : [$name => $value] as $key => $item) {
            $this->vars[$key] = $item instanceof self ? $item->fetch() : $item;
        }
    }

    final public function fetch($file = null, $view = null)
    {
        $path = PLATFORM_ROOTWEBDIR . $this->view_path . 'views' . DS . ($view ?? $this->view) . DS . ($file ?? $this->file) . '.pdt';
        if (!file_exists($path)) {
            throw new Exception(sprintf('Files does not exist: %s', $path));
        }
        extract($this->vars);
        ob_start();
        include $path;
        return ob_get_clean();
    }
}

/** Mirrors: Blesta 4.7 vendors/minphp/html/src/Html.php (safe). */
class Html
{
    public function safe($str, $preserve_tags = false)
    {
        return htmlentities((string) $str, ENT_QUOTES, 'UTF-8');
    }
}

/** Mirrors: Blesta 4.7 vendors/minphp/form/src/Form.php (create, fieldHidden, fieldSubmit, end), printing as it does. */
class Form
{
    public function create($uri = null, $attributes = array())
    {
        echo '<form method="post" action="' . htmlentities((string) $uri, ENT_QUOTES, 'UTF-8') . '">';
    }

    public function fieldHidden($name, $value = null, $attributes = array())
    {
        echo '<input type="hidden" name="' . htmlentities((string) $name, ENT_QUOTES, 'UTF-8') . '" value="' . htmlentities((string) $value, ENT_QUOTES, 'UTF-8') . '" />';
    }

    public function fieldSubmit($name, $value = null, $attributes = array())
    {
        echo '<input type="submit" name="' . htmlentities((string) $name, ENT_QUOTES, 'UTF-8') . '" value="' . htmlentities((string) $value, ENT_QUOTES, 'UTF-8') . '" />';
    }

    public function end($end_str = null)
    {
        echo '</form>';
    }
}

/** Mirrors: Blesta 4.7 helpers/widget/widget.php (nothing of it the tested views use). */
class Widget
{
}

/**
 * Blesta's Clients model: a client record as modules get it, its settings
 * (language among them, from client_settings) only when asked for.
 * Mirrors: Blesta 4.7 app/models/clients.php Clients::get($client_id, $get_settings = true).
 */
final class PlatformClients
{
    public function get($client_id, $get_settings = true)
    {
        $client = Db::$t['clients'][(string) $client_id] ?? null;
        if ($client === null) {
            return false;
        }
        $client = (object) $client;
        if ($get_settings) {
            $client->settings = Db::$t['client_settings'][(string) $client_id] ?? [];
        }
        return $client;
    }
}

/**
 * Blesta's Contacts model: a contact's phone numbers.
 * Mirrors: Blesta 4.7 app/models/contacts.php Contacts::getNumbers($contact_id, $type = null, $location = null).
 */
final class PlatformContacts
{
    public function getNumbers($contact_id, $type = null, $location = null)
    {
        return array_map(static fn (array $n): object => (object) $n, Db::$t['numbers'][(string) $contact_id] ?? []);
    }
}

/**
 * Blesta's Input: rules checked against input (isEmpty and callables,
 * `negate`, `if_set`), and the errors set.
 * Mirrors: Blesta 4.7 vendors/minphp/input/src/Input.php.
 */
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

/** One label or field of ModuleFields. Mirrors: Blesta 4.7 components/modules/module_field.php. */
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

/** Blesta's ModuleFields: labels with their fields attached. Mirrors: Blesta 4.7 components/modules/module_fields.php. */
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

/**
 * Blesta's Module base class, as far as a module uses it: its defaults
 * (validateService and validateServiceEdit pass, no tabs), module rows and
 * their meta, serviceFieldsToObject, log, errors and messages.
 * Mirrors: Blesta 4.7 components/modules/module.php (Module). It declares
 * no $Input or $view: Loader and the module set them as properties of
 * their own (public), which is how minphp's Loader finds the view to give
 * it the helpers.
 */
#[\AllowDynamicProperties]
abstract class Module
{
    protected $Http;
    protected $config;
    public $base_uri;
    private $module_row;
    private $messages = [];

    protected function loadConfig($file)
    {
        $this->config = json_decode((string) file_get_contents($file));
    }

    public function getName()
    {
        return Language::_($this->config->name, true);
    }

    final public function setModuleRow($module_row)
    {
        $this->module_row = $module_row ?: null;
    }

    final public function getModuleRow($module_row_id = null)
    {
        if ($module_row_id) {
            return isset(Db::$t['rows'][(string) $module_row_id]) ? platform_row((string) $module_row_id) : false;
        }
        return $this->module_row;
    }

    final public function getModuleRows($module_group_id = null)
    {
        return array_map('platform_row', array_map('strval', array_keys(Db::$t['rows'])));
    }

    public function validateService($package, array $vars = null)
    {
        return true;
    }

    public function validateServiceEdit($service, array $vars = null)
    {
        return true;
    }

    public function getAdminTabs($package)
    {
        return [];
    }

    public function getClientTabs($package)
    {
        return [];
    }

    protected function serviceFieldsToObject(array $fields)
    {
        $object = new stdClass();
        foreach ($fields as $field) {
            if (is_array($field)) {
                $object->{$field['key']} = $field['value'];
            } else {
                $object->{$field->key} = $field->value;
            }
        }
        return $object;
    }

    protected function log($url, $data = null, $direction = 'input', $success = false)
    {
        Db::$t['log'][] = ['url' => $url, 'data' => $data, 'direction' => $direction, 'success' => $success];
        return 'platform';
    }

    public function errors()
    {
        if (isset($this->Input) && is_object($this->Input) && $this->Input instanceof Input) {
            return $this->Input->errors();
        }
    }

    final public function getMessages()
    {
        return $this->messages;
    }
}

/** Blesta's ROOTWEBDIR: where components/ lies (the module's views are found from it). */
const PLATFORM_ROOTWEBDIR = __DIR__ . DS . '..' . DS;

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

/**
 * A service as Services::get gives it: its fields decrypted, its pricing
 * and package appended.
 * Mirrors: Blesta 4.7 app/models/services.php Services::get and appendServiceInfo.
 */
function platform_service(string $module): object
{
    $service = Db::$t['services'][$module];
    $fields = array_map(static fn (array $f): object => (object) ['key' => $f['key'],
        'value' => $f['encrypted'] ? platform_decrypt($f['value']) : $f['value'], 'encrypted' => $f['encrypted']], $service['fields']);
    $package = platform_package_by_pricing((int) $service['pricing_id']);
    $pricing = array_values(array_filter($package->pricing, static fn (object $p): bool => (int) $p->id === (int) $service['pricing_id']))[0];
    return (object) ['id' => $service['id'], 'client_id' => $service['client_id'], 'pricing_id' => $service['pricing_id'],
        'module_row_id' => $service['module_row_id'], 'status' => $service['status'], 'fields' => $fields,
        'package_pricing' => $pricing, 'package' => $package, 'name' => $package->name];
}

/** Mirrors: Blesta 4.7 app/models/packages.php Packages::getByPricingId. */
function platform_package_by_pricing(int $pricingId): object
{
    foreach (Db::$t['packages'] as $name => $package) {
        if (in_array($pricingId, array_column($package['pricing'], 'id'), true)) {
            return platform_package((string) $name);
        }
    }
    throw new LogicException("no package has pricing {$pricingId}");
}

/**
 * The module's fields replace the service's, encrypted where it says.
 * Mirrors: Blesta 4.7 app/models/services.php Services::setFields.
 */
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

/**
 * Services::add: validates through the module, makes a pending service's
 * add one without the module, calls addService with the package's row set
 * and stores the service and its fields only without errors.
 *
 * Mirrors: Blesta 4.7 app/models/services.php Services::add (and Services::validate).
 *
 * @param bool $lost Blesta dies after the module answered, before storing
 */
function platform_services_add(string $key, object $package, array $vars, bool $lost = false): void
{
    $module = new Sandboxed();
    if (!$module->validateService($package, $vars)) {
        throw new PlatformError($module->errors());
    }
    $vars['status'] = $vars['status'] ?? 'pending';
    $vars['use_module'] = $vars['use_module'] ?? 'true';
    if (in_array($vars['status'], ['pending', 'in_review'], true)) {
        $vars['use_module'] = 'false';
    }
    $vars['module_row_id'] = $package->module_row;
    $module->setModuleRow($module->getModuleRow($vars['module_row_id']));
    $fields = platform_checked($module, $module->addService($package, $vars, null, null, $vars['status']));
    if ($lost) {
        throw new PlatformLost();
    }
    Db::$t['services'][$key] = ['id' => count(Db::$t['services']) + 1, 'client_id' => $vars['client_id'],
        'pricing_id' => $vars['pricing_id'], 'module_row_id' => $vars['module_row_id'], 'status' => $vars['status'], 'fields' => []];
    if (is_array($fields)) {
        platform_store_fields($key, $fields);
    }
}

/**
 * Services::edit: validateEdit (the module's validateServiceEdit, no row
 * set, skipped for a pending service being activated), then with the
 * service's row set: changeServicePackage when the pricing changes, then
 * addService (pending to active) or editService; the fields replaced with
 * any array returned, the service's columns updated.
 * Mirrors: Blesta 4.7 app/models/services.php Services::edit and Services::validateEdit
 * (Blesta 5.x's Services::edit calls the module in the same order).
 */
function platform_services_edit(string $key, array $vars, bool $lost = false): void
{
    $service = platform_service($key);
    $vars['use_module'] = $vars['use_module'] ?? 'true';
    $vars['pricing_id'] = $vars['pricing_id'] ?? $service->pricing_id;
    $activating = $service->status === 'pending' && ($vars['status'] ?? null) === 'active';
    $validator = new Sandboxed();
    if (!$activating) {
        $validator->validateServiceEdit($service, $vars);
        platform_checked($validator, null);
    }
    $package = $service->package;
    $packageFrom = clone $package;
    if ((int) $vars['pricing_id'] !== (int) $service->pricing_id) {
        $package = platform_package_by_pricing((int) $vars['pricing_id']);
    }
    $module = new Sandboxed();
    $module->setModuleRow($module->getModuleRow($service->module_row_id));
    if ((int) $vars['pricing_id'] !== (int) $service->pricing_id && $vars['use_module'] === 'true') {
        $info = platform_checked($module, $module->changeServicePackage($packageFrom, $package, $service, null, null));
        if ($info && is_array($info)) {
            platform_store_fields($key, $info);
            $service = platform_service($key);
        }
    }
    if ($activating) {
        $vars['pricing_id'] = $service->pricing_id;
        $vars['client_id'] = $service->client_id;
        $info = $module->addService($package, $vars, null, null, $vars['status']);
    } else {
        $info = $module->editService($package, $service, $vars, null, null);
    }
    platform_checked($module, null);
    if ($lost) {
        throw new PlatformLost();
    }
    if (is_array($info)) {
        platform_store_fields($key, $info);
    }
    foreach (['pricing_id', 'status'] as $column) {
        if (isset($vars[$column])) {
            Db::$t['services'][$key][$column] = $vars[$column];
        }
    }
}

/**
 * The cron's provision_pending_services task: each pending service (paid,
 * here) through Services::edit with its stored fields merged with status
 * "active"; an error is logged and the task goes on, as Blesta's does.
 * Mirrors: Blesta 4.7 core/Automation/Tasks/Task/ProvisionPendingServices.php.
 *
 * @return array<string, mixed> each service's outcome: true or its errors
 */
function platform_cron_provision_pending(bool $lost = false): array
{
    $outcomes = [];
    foreach (Db::$t['services'] as $key => $record) {
        if ($record['status'] !== 'pending') {
            continue;
        }
        $moduleFields = [];
        foreach (platform_service((string) $key)->fields as $field) {
            $moduleFields[$field->key] = $field->value;
        }
        try {
            platform_services_edit((string) $key, array_merge($moduleFields, ['status' => 'active']), $lost);
            $outcomes[$key] = true;
        } catch (PlatformError $failure) {
            $outcomes[$key] = $failure->errors;
        }
    }
    return $outcomes;
}

/**
 * ClientServices::processModuleTab: a tab the module lists, run with the
 * service's row set; the content, or the module's errors.
 * Mirrors: Blesta 4.7 app/controllers/client_services.php ClientServices::processModuleTab.
 */
function platform_client_tab(string $key, string $method, array $post): string
{
    $service = platform_service($key);
    $module = new Sandboxed();
    $tabs = $module->getClientTabs($service->package);
    if (!array_key_exists(strtolower($method), array_change_key_case($tabs, CASE_LOWER)) || !is_callable([$module, $method])) {
        throw new PlatformError(['tab' => ['invalid' => "no client tab {$method} among " . json_encode($tabs)]]);
    }
    $module->setModuleRow($module->getModuleRow($service->module_row_id));
    $content = $module->{$method}($service->package, $service, [], $post, []);
    platform_checked($module, null);
    return (string) $content;
}

/** Blesta died mid-request: nothing after the module's answer happened. */
final class PlatformLost extends RuntimeException
{
}

function run_step(string $step, array $args): mixed
{
    if ($step === 'setup') {
        Db::$t = ['rows' => [], 'packages' => [], 'services' => [], 'log' => [], 'clients' => ['1' => [
            'id' => 1, 'contact_id' => 11, 'first_name' => 'Neema', 'last_name' => 'Kweka', 'company' => 'Kweka Books',
            'email' => 'neema@example.co.tz', 'address1' => 'Plot 3, Samora Ave', 'address2' => '', 'city' => 'Arusha',
            'state' => 'Arusha', 'zip' => '23101', 'country' => 'TZ']],
            // Blesta keeps a client's settings apart (client_settings); Clients::get adds them when asked.
            'client_settings' => ['1' => ['language' => 'sw_tz', 'tax_exempt' => 'false']],
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
    if ($step === 'cron' || $step === 'cron-lost') {
        try {
            return platform_cron_provision_pending($step === 'cron-lost');
        } catch (PlatformLost) {
            return 'lost';
        }
    }
    $moduleName = (string) array_shift($args);
    if (in_array($step, ['create', 'create-lost', 'order'], true)) {
        // An admin's add with "use module", or a client's order (pending).
        $package = platform_package($step === 'order' ? ($args[1] ?? $moduleName) : ($args[2] ?? $moduleName));
        $vars = ['client_id' => 1, 'pricing_id' => $package->pricing[0]->id, 'sandboxed_domain' => $args[0]]
            + ($step === 'order' ? ['status' => 'pending'] : ['status' => 'active', 'use_module' => 'true', 'sandboxed_username' => $args[1] ?? '']);
        try {
            platform_services_add($moduleName, $package, $vars, $step === 'create-lost');
        } catch (PlatformLost) {
            return 'lost';
        }
        return true;
    }
    $record = &Db::$t['services'][$moduleName];
    $package = platform_package_by_pricing((int) $record['pricing_id']);
    $module = platform_module($package);
    $service = platform_service($moduleName);
    $edit = static function (array $vars) use ($moduleName): bool {
        platform_services_edit($moduleName, $vars);
        return true;
    };
    [$returned, $status] = match ($step) {
        'suspend' => [$module->suspendService($package, $service), 'suspended'],
        'unsuspend' => [$module->unsuspendService($package, $service), 'active'],
        'cancel' => [$module->cancelService($package, $service), 'canceled'],
        'password' => [$edit(['sandboxed_password' => $args[0]]), null],
        'domain' => [$edit(['sandboxed_domain' => $args[0]]), null],
        'plan' => [$edit(['pricing_id' => platform_package($args[0])->pricing[0]->id]), null],
        'view' => [$module->getAdminServiceInfo($service, $package), null],
        'tab' => [platform_client_tab($moduleName, $args[0], platform_pairs(array_slice($args, 1))), null],
        default => throw new LogicException("no step {$step}"),
    };
    platform_checked($module, null);
    if (is_array($returned)) {
        platform_store_fields($moduleName, $returned);
    }
    if ($status !== null) {
        $record['status'] = $status;
    }
    return in_array($step, ['view', 'tab'], true) ? $returned : true;
}

/** KEY=VALUE arguments as an array (a POST). */
function platform_pairs(array $pairs): array
{
    $post = [];
    foreach ($pairs as $pair) {
        [$key, $value] = explode('=', (string) $pair, 2) + [1 => ''];
        $post[$key] = $value;
    }
    return $post;
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
