<?php

/**
 * WHMCS as a server module sees it, for the harnesses that play WHMCS:
 * stand-ins for WHMCS's own helpers only (logModuleCall, localAPI, Capsule
 * over a tiny in-memory database, the service model's serviceProperties),
 * the module parameters WHMCS builds from its tables, and the harnesses'
 * small assertions. `platform.php` (the WHMCS test) and
 * `drive.php` (the cross-platform test's WHMCS side) load it.
 */

declare(strict_types=1);


namespace WHMCS\Database {
    /**
     * Stand-in for WHMCS's Capsule (Laravel's query builder): equality
     * filters over in-memory tables.
     */
    final class Capsule
    {
        /** @var array<string, list<array<string, mixed>>> */
        public static array $tables = [];

        /** @var array<string, list<string>> Tables the module created, with their columns. */
        public static array $created = [];

        /** A query on one table. */
        public static function table(string $name): Query
        {
            return new Query($name);
        }

        /** The schema builder, for the module's own tables. */
        public static function schema(): Schema
        {
            return new Schema();
        }

        /** A raw SQL expression (only now() is understood). */
        public static function raw(string $expression): Raw
        {
            return new Raw($expression);
        }
    }

    /** Stand-in for Laravel's schema builder: tables exist or not. */
    final class Schema
    {
        public function hasTable(string $name): bool
        {
            return array_key_exists($name, Capsule::$tables);
        }

        public function create(string $name, callable $define): void
        {
            if ($this->hasTable($name)) {
                throw new \LogicException("table {$name} exists already");
            }
            $blueprint = new Blueprint();
            $define($blueprint);
            Capsule::$tables[$name] = [];
            Capsule::$created[$name] = $blueprint->columns;
        }
    }

    /** Stand-in for Laravel's Blueprint: records the columns named, takes any modifier. */
    final class Blueprint
    {
        /** @var list<string> */
        public array $columns = [];

        /** @param list<mixed> $arguments */
        public function __call(string $method, array $arguments): self
        {
            if (is_string($arguments[0] ?? null) && !in_array($method, ['default', 'comment'], true)) {
                $this->columns[] = $arguments[0];
            }
            return $this;
        }
    }

    /** A raw expression in an update. */
    final class Raw
    {
        public function __construct(public readonly string $expression)
        {
        }
    }

    /** A query: where/whereIn, then get/first/value/update/insert. */
    final class Query
    {
        /** @var list<callable(array<string, mixed>): bool> */
        private array $filters = [];

        public function __construct(private readonly string $table)
        {
        }

        public function where(string $column, mixed $operator, mixed $value = null): self
        {
            if (func_num_args() === 2) {
                [$operator, $value] = ['=', $operator];
            }
            if ($operator !== '=') {
                throw new \LogicException("the stand-in Capsule knows only `=`, not `{$operator}`");
            }
            $this->filters[] = static fn (array $row): bool => (string) ($row[$column] ?? '') === (string) $value;
            return $this;
        }

        /** @param list<mixed> $values */
        public function whereIn(string $column, array $values): self
        {
            $values = array_map('strval', $values);
            $this->filters[] = static fn (array $row): bool => in_array((string) ($row[$column] ?? ''), $values, true);
            return $this;
        }

        /** @return list<object> */
        public function get(): array
        {
            return array_map(static fn (array $row): object => (object) $row, array_values($this->matching()));
        }

        public function first(): ?object
        {
            return $this->get()[0] ?? null;
        }

        public function value(string $column): mixed
        {
            $first = $this->first();
            return $first === null ? null : ($first->{$column} ?? null);
        }

        /** @param array<string, mixed> $values */
        public function update(array $values): int
        {
            foreach ($values as $column => $value) {
                if ($value instanceof Raw) {
                    $values[$column] = $value->expression === 'now()'
                        ? date('Y-m-d H:i:s')
                        : throw new \LogicException("raw `{$value->expression}`");
                }
            }
            $rows = $this->matching();
            foreach (array_keys($rows) as $index) {
                Capsule::$tables[$this->table][$index] = $values + Capsule::$tables[$this->table][$index];
            }
            return count($rows);
        }

        /**
         * Updates the row matching $attributes, or inserts one of both.
         *
         * @param array<string, mixed> $attributes
         * @param array<string, mixed> $values
         */
        public function updateOrInsert(array $attributes, array $values = []): bool
        {
            foreach ($attributes as $column => $value) {
                $this->where($column, $value);
            }
            if ($this->matching() === []) {
                return $this->insert($attributes + $values);
            }
            $this->update($values);
            return true;
        }

        /** @param array<string, mixed> $values */
        public function insert(array $values): bool
        {
            Capsule::$tables[$this->table][] = $values;
            return true;
        }

        /** @return array<int, array<string, mixed>> */
        private function matching(): array
        {
            return array_filter(
                Capsule::$tables[$this->table] ?? [],
                fn (array $row): bool => array_reduce($this->filters, static fn (bool $ok, callable $f): bool => $ok && $f($row), true)
            );
        }
    }
}

namespace WHMCS\Module {
    /** Stand-in for WHMCS's base class of admin dashboard widgets. */
    abstract class AbstractWidget
    {
        protected $title = '';
        protected $description = '';
        protected $weight = 100;
        protected $columns = 1;
        protected $cache = false;
        protected $cacheExpiry = 3600;
        protected $requiredPermission = '';

        abstract public function getData();

        abstract public function generateOutput($data);

        public function getTitle(): string
        {
            return (string) $this->title;
        }
    }
}

namespace {
    use WHMCS\Database\Capsule;

    define('WHMCS', true);

    // ---- Stand-ins for WHMCS's own helpers --------------------------------

    /** @var array<string, list<callable>> The hooks added, by hook point. */
    $GLOBALS['platform_hooks'] = [];

    /** WHMCS's add_hook. */
    function add_hook(string $hookPoint, int $priority, callable $function): void
    {
        $GLOBALS['platform_hooks'][$hookPoint][] = $function;
    }

    /**
     * What the functions of a hook point return, as WHMCS runs them.
     *
     * @return list<mixed>
     */
    function run_hook(string $hookPoint, array $vars = []): array
    {
        return array_map(static fn (callable $f): mixed => $f($vars), $GLOBALS['platform_hooks'][$hookPoint] ?? []);
    }

    /** WHMCS keeps server passwords encrypted in tblservers; decrypt() reads them. */
    function encrypt(string $value): string
    {
        return 'enc:' . base64_encode($value);
    }

    function decrypt(string $value): string
    {
        return str_starts_with($value, 'enc:') ? (string) base64_decode(substr($value, 4), true) : $value;
    }

    /** @var list<array<string, string>> What logModuleCall recorded. */
    $GLOBALS['platform_module_log'] = [];

    /**
     * WHMCS's module log: arrays are rendered as print_r does, then every
     * value of $replaceVars is replaced with asterisks.
     */
    function logModuleCall($module, $action, $requestString, $responseData, $processedData = '', $replaceVars = []): void
    {
        $render = static fn (mixed $value): string => is_string($value) ? $value : print_r($value, true);
        $entry = [
            'module' => (string) $module,
            'action' => (string) $action,
            'request' => $render($requestString),
            'response' => $render($responseData),
            'processed' => $render($processedData),
        ];
        foreach ((array) $replaceVars as $secret) {
            $secret = (string) $secret;
            if ($secret === '') {
                continue;
            }
            foreach (['request', 'response', 'processed'] as $field) {
                $entry[$field] = str_replace($secret, str_repeat('*', strlen($secret)), $entry[$field]);
            }
        }
        $GLOBALS['platform_module_log'][] = $entry;
    }

    /**
     * WHMCS's internal API, as far as the module uses it.
     *
     * @param array<string, mixed> $values
     *
     * @return array<string, mixed>
     */
    function localAPI(string $command, array $values = [], ?string $adminUser = null): array
    {
        if ($command === 'UpdateClientAddon') {
            $id = (int) ($values['id'] ?? 0);
            if (Capsule::table('tblhostingaddons')->where('id', $id)->first() === null) {
                return ['result' => 'error', 'message' => 'Addon ID Not Found'];
            }
            Capsule::table('tblhostingaddons')->where('id', $id)->update(array_intersect_key($values, ['status' => true]));
            return ['result' => 'success', 'id' => $id];
        }
        if ($command !== 'UpdateClientProduct') {
            return ['result' => 'error', 'message' => "Command Not Found: {$command}"];
        }
        $id = (int) ($values['serviceid'] ?? 0);
        if (Capsule::table('tblhosting')->where('id', $id)->first() === null) {
            return ['result' => 'error', 'message' => 'Service ID Not Found'];
        }
        $columns = [
            'serviceusername' => 'username', 'servicepassword' => 'password', 'domain' => 'domain',
            'status' => 'domainstatus', 'diskusage' => 'diskusage', 'disklimit' => 'disklimit',
            'bwusage' => 'bwusage', 'bwlimit' => 'bwlimit', 'suspendreason' => 'suspendreason',
        ];
        $update = [];
        foreach ($values as $name => $value) {
            if (isset($columns[$name])) {
                $update[$columns[$name]] = $value;
            }
        }
        Capsule::table('tblhosting')->where('id', $id)->update($update);
        return ['result' => 'success', 'serviceid' => $id];
    }

    /** Stand-in for a service's serviceProperties: its custom fields by name. */
    final class PlatformServiceProperties
    {
        /**
         * @param int    $serviceId tblhosting.id, or tblhostingaddons.id for an addon
         * @param int    $productId tblproducts.id, or tbladdons.id for an addon
         * @param string $type      the custom fields' type: product or addon
         */
        public function __construct(private readonly int $serviceId, private readonly int $productId, private readonly string $type = 'product')
        {
        }

        /** @param array<string, string> $values name => value; a missing field is created (admin only) */
        public function save(array $values): void
        {
            foreach ($values as $name => $value) {
                $fieldId = $this->fieldId((string) $name);
                if ($fieldId === null) {
                    $fieldId = 1 + max(array_merge([0], array_column(Capsule::$tables['tblcustomfields'], 'id')));
                    Capsule::table('tblcustomfields')->insert([
                        'id' => $fieldId, 'type' => $this->type, 'relid' => $this->productId,
                        'fieldname' => (string) $name, 'adminonly' => 'on',
                    ]);
                }
                $query = Capsule::table('tblcustomfieldsvalues')->where('fieldid', $fieldId)->where('relid', $this->serviceId);
                if ($query->first() === null) {
                    Capsule::table('tblcustomfieldsvalues')->insert(['fieldid' => $fieldId, 'relid' => $this->serviceId, 'value' => (string) $value]);
                } else {
                    $query->update(['value' => (string) $value]);
                }
            }
        }

        public function get(string $name): ?string
        {
            $fieldId = $this->fieldId($name);
            if ($fieldId === null) {
                return null;
            }
            $value = Capsule::table('tblcustomfieldsvalues')->where('fieldid', $fieldId)->where('relid', $this->serviceId)->value('value');
            return $value === null ? null : (string) $value;
        }

        private function fieldId(string $name): ?int
        {
            foreach (Capsule::table('tblcustomfields')->where('type', $this->type)->where('relid', $this->productId)->get() as $field) {
                if (explode('|', $field->fieldname, 2)[0] === $name) {
                    return (int) $field->id;
                }
            }
            return null;
        }
    }

    /** Stand-in for the service model WHMCS passes as `$params['model']`. */
    final class PlatformService
    {
        public PlatformServiceProperties $serviceProperties;

        public function __construct(public readonly int $id, public readonly int $packageid, public readonly string $billingcycle)
        {
            $this->serviceProperties = new PlatformServiceProperties($id, $packageid);
        }
    }

    /** Stand-in for the addon model WHMCS passes as `$params['model']` for a product addon. */
    final class PlatformAddon
    {
        public PlatformServiceProperties $serviceProperties;

        /**
         * @param int $id      tblhostingaddons.id (the `addonId`)
         * @param int $addonid tbladdons.id, the addon's definition
         */
        public function __construct(public readonly int $id, public readonly int $addonid, public readonly int $serviceid, public readonly string $billingcycle = 'Monthly')
        {
            $this->serviceProperties = new PlatformServiceProperties($id, $addonid, 'addon');
        }
    }

    // ---- The platform's side of the test ----------------------------------

    /** A failed expectation. */
    final class PlatformFailure extends RuntimeException
    {
    }

    function expect(bool $condition, string $what): void
    {
        if (!$condition) {
            throw new PlatformFailure($what);
        }
    }

    function step(string $provider, string $function, string $outcome): void
    {
        printf("%-11s %-20s %s\n", $provider, $function, $outcome);
    }

    function env(string $name): string
    {
        $value = getenv($name);
        if ($value === false || $value === '') {
            throw new PlatformFailure("environment variable {$name} is not set");
        }
        return $value;
    }

    /** @return array<string, mixed> a tblhosting (or other) row */
    function row(string $table, int $id): array
    {
        $row = Capsule::table($table)->where('id', $id)->first();
        expect($row !== null, "{$table} has no row {$id}");
        return (array) $row;
    }

    function set_service(int $id, array $values): void
    {
        Capsule::table('tblhosting')->where('id', $id)->update($values);
    }

    /**
     * The module parameters WHMCS builds for a service.
     *
     * @return array<string, mixed>
     */
    function platform_params(int $serviceId, array $extra = []): array
    {
        $service = row('tblhosting', $serviceId);
        $product = row('tblproducts', (int) $service['packageid']);
        $client = row('tblclients', (int) $service['userid']);
        $server = row('tblservers', (int) $service['server']);
        $model = new PlatformService($serviceId, (int) $service['packageid'], (string) $service['billingcycle']);
        $customFields = [];
        foreach (Capsule::table('tblcustomfields')->where('type', 'product')->where('relid', $product['id'])->get() as $field) {
            $name = explode('|', $field->fieldname, 2)[0];
            $customFields[$name] = (string) ($model->serviceProperties->get($name) ?? '');
        }
        $params = [
            'accountid' => $serviceId,
            'serviceid' => $serviceId,
            'addonId' => 0,
            'userid' => (int) $service['userid'],
            'pid' => (int) $product['id'],
            'serverid' => (int) $server['id'],
            'domain' => (string) $service['domain'],
            'username' => (string) $service['username'],
            'password' => (string) $service['password'],
            'producttype' => 'hostingaccount',
            'moduletype' => 'sandboxed',
            'status' => (string) $service['domainstatus'],
            'customfields' => $customFields,
            'configoptions' => [],
            'clientsdetails' => $client + ['userid' => $client['id'], 'fullname' => $client['firstname'] . ' ' . $client['lastname']],
            'model' => $model,
        ];
        for ($i = 1; $i <= 24; $i++) {
            $params['configoption' . $i] = (string) ($product['configoption' . $i] ?? '');
        }
        return $extra + $params + server_params((int) $server['id']);
    }

    /**
     * The module parameters WHMCS builds for a product addon provisioned by
     * the module: the parent service's, with `addonId`, the addon's model and
     * the addon's own module settings.
     *
     * @return array<string, mixed>
     */
    function platform_addon_params(int $hostingAddonId, array $extra = []): array
    {
        $addon = row('tblhostingaddons', $hostingAddonId);
        $definition = row('tbladdons', (int) $addon['addonid']);
        $params = platform_params((int) $addon['hostingid']);
        $params['addonId'] = $hostingAddonId;
        $params['model'] = new PlatformAddon($hostingAddonId, (int) $definition['id'], (int) $addon['hostingid'], (string) $addon['billingcycle']);
        $params['status'] = (string) $addon['status'];
        for ($i = 1; $i <= 24; $i++) {
            $params['configoption' . $i] = (string) ($definition['configoption' . $i] ?? '');
        }
        return $extra + $params;
    }

    /**
     * The server parameters WHMCS passes to TestConnection and UsageUpdate
     * (and, with the service's, to every other function).
     *
     * @return array<string, mixed>
     */
    function server_params(int $serverId): array
    {
        $server = row('tblservers', $serverId);
        return [
            'server' => true,
            'serverid' => $serverId,
            'serverip' => (string) $server['ipaddress'],
            'serverhostname' => (string) $server['hostname'],
            'serverusername' => (string) $server['username'],
            'serverpassword' => decrypt((string) $server['password']),
            'serveraccesshash' => (string) $server['accesshash'],
            'serversecure' => (bool) $server['secure'],
            'serverhttpprefix' => $server['secure'] ? 'https' : 'http',
            'serverport' => (string) $server['port'],
        ];
    }
}
