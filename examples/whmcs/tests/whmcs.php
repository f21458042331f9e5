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
     * Mirrors: WHMCS 8.x WHMCS\Database\Capsule (Illuminate\Database\Capsule\
     * Manager over Laravel's query builder; developers.whmcs.com "Interacting
     * with the Database"): table(), schema(), raw().
     *
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

    /** Mirrors: Illuminate\Database\Schema\Builder as WHMCS 8.x ships it (hasTable, create): tables exist or not. */
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

    /** Mirrors: Illuminate\Database\Schema\Blueprint as WHMCS 8.x ships it: records the columns named, takes any modifier. */
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

    /** Mirrors: Illuminate\Database\Query\Expression (Capsule::raw): a raw expression in an update. */
    final class Raw
    {
        public function __construct(public readonly string $expression)
        {
        }
    }

    /**
     * Mirrors: Illuminate\Database\Query\Builder as WHMCS 8.x ships it
     * (where, whereIn, get, first, value, update, updateOrInsert, delete,
     * insert); first() takes the first row in table order, as MySQL does
     * without an ORDER BY on these tables.
     */
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

        /** Deletes the matching rows; returns how many. */
        public function delete(): int
        {
            $rows = $this->matching();
            foreach (array_keys($rows) as $index) {
                unset(Capsule::$tables[$this->table][$index]);
            }
            Capsule::$tables[$this->table] = array_values(Capsule::$tables[$this->table] ?? []);
            return count($rows);
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
    /** Mirrors: WHMCS 8.x WHMCS\Module\AbstractWidget (developers.whmcs.com "Admin Dashboard Widgets"; untyped as there). */
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

namespace WHMCS\Service {
    /**
     * Stand-in for WHMCS's service model (an Eloquent model of tblhosting),
     * as far as a module reaches it without `$params`: find() and the
     * service's properties (its product's custom fields by name; saving one
     * the product lacks creates it, admin only).
     *
     * Mirrors: WHMCS 8.x WHMCS\Service\Service (find, serviceProperties;
     * developers.whmcs.com "Service Properties").
     */
    final class Service
    {
        public \PlatformServiceProperties $serviceProperties;

        private function __construct(public readonly int $id, public readonly int $packageid)
        {
            $this->serviceProperties = new \PlatformServiceProperties($id, $packageid);
        }

        /** The service of tblhosting.id `$id`, or null. */
        public static function find(int $id): ?self
        {
            $row = \WHMCS\Database\Capsule::table('tblhosting')->where('id', $id)->first();
            return $row === null ? null : new self($id, (int) $row->packageid);
        }
    }
}

namespace {
    use WHMCS\Database\Capsule;

    define('WHMCS', true);

    // ---- Stand-ins for WHMCS's own helpers --------------------------------

    /** @var array<string, list<callable>> The hooks added, by hook point. */
    $GLOBALS['platform_hooks'] = [];

    /** Mirrors: WHMCS 8.x add_hook($hookPoint, $priority, $function) (developers.whmcs.com "Hooks"). */
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

    /**
     * Mirrors: WHMCS 8.x's global encrypt() and decrypt() helpers: WHMCS
     * keeps server passwords encrypted in tblservers and passes them to
     * modules decrypted (`serverpassword`); decrypt() reads them.
     */
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
     * Mirrors: WHMCS 8.x logModuleCall($module, $action, $requestString,
     * $responseData, $processedData, $replaceVars) (developers.whmcs.com
     * "Module Logging"; untyped as there): arrays are rendered as print_r
     * does, then every value of $replaceVars is replaced with asterisks.
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
     * Mirrors: WHMCS 8.x localAPI($command, $values, $adminUser)
     * (developers.whmcs.com "Internal API"), the commands the module uses:
     * UpdateClientProduct and UpdateClientAddon, with their error messages.
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

    /**
     * Mirrors: WHMCS 8.x serviceProperties of a service or addon model
     * (developers.whmcs.com "Service Properties", 7.2+): get() and save()
     * by custom field name (`Name|Friendly name` matches `Name`); save()
     * creates a field the product lacks, admin only.
     */
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

    /** Mirrors: WHMCS 8.x WHMCS\Service\Service as passed in `$params['model']` (id, packageid, billingcycle, serviceProperties). */
    final class PlatformService
    {
        public PlatformServiceProperties $serviceProperties;

        public function __construct(public readonly int $id, public readonly int $packageid, public readonly string $billingcycle)
        {
            $this->serviceProperties = new PlatformServiceProperties($id, $packageid);
        }
    }

    /** Mirrors: WHMCS 8.x WHMCS\Service\Addon as passed in `$params['model']` for a product addon (id, addonid, serviceid, billingcycle, serviceProperties). */
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

    /**
     * WHMCS's Server Sync Tool (Configuration > System Settings > Servers >
     * Sync Accounts), the part a server module's ListAccounts and MetaData
     * decide: the analysis (each listed account with the server's services
     * it matches) and the import of accounts WHMCS has no service for.
     *
     * Mirrors: WHMCS 7.8 to 8.x's Sync Accounts tool as documented
     * (docs.whmcs.com/servers/sync-accounts; developers.whmcs.com/
     * provisioning-modules/server-sync):
     * - ListAccounts is called with the server's parameters; a result with
     *   success false and an error stops the analysis with it;
     * - an account matches the server's services (tblhosting.server) whose
     *   ListAccountsUniqueIdentifierField equals its uniqueIdentifier:
     *   `domain` (the default) or `username`, both lower-cased on the
     *   service's side (8.x), or `customfield.NAME`, the value of the
     *   product custom field NAME (or `NAME|...`); any other field throws;
     * - a service's product, to compare, is its product's
     *   ListAccountsProductField column (its name when none is declared);
     * - an import takes the first product whose servertype is the module
     *   and whose ListAccountsProductField column equals the account's
     *   product, else creates a hidden product with only that column set
     *   (named after the product), then a service on it (domain, username,
     *   status, the server) and writes the uniqueIdentifier to the unique
     *   field (for customfield.NAME through the service's properties).
     * The sync of a matched service's details and the terminate of missing
     * ones are not played.
     */
    final class PlatformServerSync
    {
        /** The server module WHMCS loads for servers of type `sandboxed`. */
        private const MODULE = 'sandboxed';

        /**
         * The analysis: each listed account with the ids of the services it
         * matches and, per service, whether its product matches.
         *
         * @return array{error: string, items: list<array{account: array<string, string>, services: array<int, bool>}>}
         */
        public static function analyse(int $serverId): array
        {
            $meta = sandboxed_MetaData();
            $response = sandboxed_ListAccounts(server_params($serverId));
            if (!($response['success'] ?? false) && ($response['error'] ?? '') !== '') {
                return ['error' => 'Unable to connect: ' . $response['error'], 'items' => []];
            }
            $uniqueField = (string) ($meta['ListAccountsUniqueIdentifierField'] ?? '');
            $productField = (string) ($meta['ListAccountsProductField'] ?? '');
            $services = array_map(static fn (object $row): array => (array) $row, Capsule::table('tblhosting')->where('server', $serverId)->get());
            // WHMCS lower-cases with mbstring where it is installed.
            $lower = static fn (string $text): string => function_exists('mb_strtolower') ? mb_strtolower($text) : strtolower($text);
            foreach ($services as $index => $service) {
                $services[$index]['domain'] = $lower((string) $service['domain']);
                $services[$index]['username'] = $lower((string) $service['username']);
            }
            $items = [];
            foreach ($response['accounts'] as $account) {
                $matched = [];
                foreach (self::matches($uniqueField, (string) $account['uniqueIdentifier'], $services) as $service) {
                    $matched[(int) $service['id']] = self::productOf($service, $productField) == $account['product'];
                }
                $items[] = ['account' => $account, 'services' => $matched];
            }
            return ['error' => '', 'items' => $items];
        }

        /**
         * Imports the listed accounts whose uniqueIdentifier is in `$import`
         * for client `$clientId`, as Process::import does; returns the new
         * services' ids.
         *
         * @param list<string> $import
         *
         * @return list<int>
         */
        public static function import(int $serverId, array $import, int $clientId): array
        {
            $meta = sandboxed_MetaData();
            $uniqueField = (string) ($meta['ListAccountsUniqueIdentifierField'] ?? '');
            $productField = (string) ($meta['ListAccountsProductField'] ?? '');
            $response = sandboxed_ListAccounts(server_params($serverId));
            expect(($response['success'] ?? false) === true, 'ListAccounts for the import: ' . json_encode($response));
            $created = [];
            foreach ($response['accounts'] as $account) {
                if (!in_array($account['uniqueIdentifier'], $import, true)) {
                    continue;
                }
                $product = Capsule::table('tblproducts')->where('servertype', self::MODULE)->where($productField, $account['product'])->first();
                if ($product === null) {
                    $productId = 1 + max(array_merge([0], array_column(Capsule::$tables['tblproducts'], 'id')));
                    Capsule::table('tblproducts')->insert([
                        'id' => $productId, 'name' => $account['product'], 'servertype' => self::MODULE, $productField => $account['product'],
                    ]);
                } else {
                    $productId = (int) $product->id;
                }
                $id = 1 + max(array_merge([0], array_column(Capsule::$tables['tblhosting'], 'id')));
                Capsule::table('tblhosting')->insert([
                    'id' => $id, 'userid' => $clientId, 'packageid' => $productId, 'server' => $serverId,
                    'domain' => (string) $account['domain'], 'username' => (string) $account['username'], 'password' => '',
                    'billingcycle' => 'Free Account', 'domainstatus' => (string) $account['status'],
                    'diskusage' => 0, 'disklimit' => 0, 'bwusage' => 0, 'bwlimit' => 0, 'lastupdate' => '0000-00-00 00:00:00',
                ]);
                $unique = (string) $account['uniqueIdentifier'];
                if ($uniqueField === 'username') {
                    Capsule::table('tblhosting')->where('id', $id)->update(['username' => $unique]);
                } elseif (str_starts_with($uniqueField, 'customfield.')) {
                    (new PlatformServiceProperties($id, $productId))->save([substr($uniqueField, 12) => $unique]);
                } elseif ($uniqueField === 'domain' || $uniqueField === '') {
                    Capsule::table('tblhosting')->where('id', $id)->update(['domain' => $unique]);
                } else {
                    throw new LogicException("Unsupported unique identifier field provided by module: \"{$uniqueField}\"");
                }
                $created[] = $id;
            }
            return $created;
        }

        /**
         * The services matching one uniqueIdentifier.
         *
         * @param list<array<string, mixed>> $services
         *
         * @return list<array<string, mixed>>
         */
        private static function matches(string $uniqueField, string $unique, array $services): array
        {
            if ($uniqueField === 'username') {
                return array_values(array_filter($services, static fn (array $s): bool => $s['username'] == $unique));
            }
            if (str_starts_with($uniqueField, 'customfield.')) {
                $name = substr($uniqueField, 12);
                $productIds = array_map('strval', array_column($services, 'packageid'));
                $fieldIds = [];
                foreach (Capsule::table('tblcustomfields')->where('type', 'product')->get() as $field) {
                    if (in_array((string) $field->relid, $productIds, true)
                        && ($field->fieldname === $name || str_starts_with((string) $field->fieldname, $name . '|'))) {
                        $fieldIds[] = (int) $field->id;
                    }
                }
                $ids = [];
                foreach ($fieldIds as $fieldId) {
                    foreach (Capsule::table('tblcustomfieldsvalues')->where('fieldid', $fieldId)->where('value', $unique)->get() as $value) {
                        $ids[] = (int) $value->relid;
                    }
                }
                return array_values(array_filter($services, static fn (array $s): bool => in_array((int) $s['id'], $ids, true)));
            }
            if ($uniqueField === 'domain' || $uniqueField === '') {
                return array_values(array_filter($services, static fn (array $s): bool => $s['domain'] == $unique));
            }
            throw new LogicException("Unsupported unique identifier field provided by module: \"{$uniqueField}\"");
        }

        /** A service's product as the analysis compares it. */
        private static function productOf(array $service, string $productField): string
        {
            $product = (array) Capsule::table('tblproducts')->where('id', $service['packageid'])->first();
            return (string) ($productField !== '' ? ($product[$productField] ?? '') : ($product['name'] ?? ''));
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
     * Mirrors: WHMCS 8.x's module parameters (developers.whmcs.com
     * "Module Parameters": serviceid, userid, pid, serverid, domain,
     * username, password, producttype, moduletype, configoption1..24,
     * customfields, configoptions, clientsdetails, model, server*).
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
     * Mirrors: WHMCS 8.x's module parameters for a product addon
     * (developers.whmcs.com "Product Addon Modules", `addonId`, 7.2+).
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
     * Mirrors: WHMCS 8.x's server parameters (developers.whmcs.com "Module
     * Parameters": serverip, serverhostname, serverusername, serverpassword
     * decrypted, serveraccesshash, serversecure, serverhttpprefix,
     * serverport).
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
