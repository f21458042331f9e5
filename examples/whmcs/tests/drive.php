<?php

/**
 * Plays WHMCS for the `sandboxed` server module one step per run (each a
 * PHP process of its own, as each WHMCS request or cron run is), its tables
 * kept in a JSON file between runs: the WHMCS side of the cross-platform
 * test, with the stand-ins of `whmcs.php`. WHMCS's own order of things is
 * kept: a new password is saved in tblhosting before ChangePassword runs, an
 * upgrade moves the service to its new product before ChangePackage, and a
 * function's "success" sets the service's status.
 *
 * Usage: php drive.php STATE STEP [MODULE] [ARGUMENTS...]
 *   setup                                  the server record (SANDBOXED_URL, SANDBOXED_TOKEN)
 *                                          and products from PLANS_JSON, by the labels
 *                                          ConfigOptions shows
 *   create MODULE DOMAIN USERNAME PASSWORD [PLAN]
 *   suspend|unsuspend|terminate MODULE
 *   password MODULE NEW | plan MODULE PLAN
 * Prints one JSON line: {"ok": "success"} or {"error": "kind: message"},
 * with the service's row and its Remote ID.
 */

declare(strict_types=1);

namespace {
    use WHMCS\Database\Capsule;

    require_once __DIR__ . '/whmcs.php';
    require_once __DIR__ . '/../modules/servers/sandboxed/sandboxed.php';

    /** The tblhosting id of each module's service in this run. */
    function service_id_of(string $module): int
    {
        foreach (Capsule::$tables['tblhosting'] as $row) {
            if ($row['module'] === $module) {
                return (int) $row['id'];
            }
        }
        throw new PlatformFailure("no service for {$module}");
    }

    function product_id_of(string $plan): int
    {
        foreach (Capsule::$tables['tblproducts'] as $row) {
            if ($row['name'] === $plan) {
                return (int) $row['id'];
            }
        }
        throw new PlatformFailure("no product {$plan}");
    }

    function run_step(string $step, array $args): string
    {
        if ($step === 'setup') {
            $parts = parse_url((string) getenv('SANDBOXED_URL'));
            Capsule::$tables = [
                'tblservers' => [['id' => 1, 'name' => 'provisioning serve', 'type' => 'sandboxed', 'ipaddress' => $parts['host'],
                    'hostname' => $parts['host'], 'port' => $parts['port'], 'secure' => false, 'username' => '',
                    'password' => encrypt((string) getenv('SANDBOXED_TOKEN')), 'accesshash' => '']],
                'tblclients' => [['id' => 1, 'firstname' => 'Zawadi', 'lastname' => 'Ngowi', 'companyname' => '', 'email' => 'zawadi@example.co.tz',
                    'address1' => 'Plot 9, Jamhuri St', 'address2' => '', 'city' => 'Dodoma', 'state' => 'Dodoma', 'postcode' => '41101',
                    'country' => 'TZ', 'countrycode' => 'TZ', 'phonecc' => '255', 'phonenumber' => '715444555',
                    'phonenumberformatted' => '+255.715444555', 'language' => 'english']],
                'tblproducts' => [], 'tblconfiguration' => [], 'tblcustomfields' => [], 'tblcustomfieldsvalues' => [],
                'tblhosting' => [], 'tbladdons' => [], 'tblhostingaddons' => [],
            ];
            $plans = json_decode((string) getenv('PLANS_JSON'), true, flags: JSON_THROW_ON_ERROR);
            $id = 0;
            foreach ($plans as $name => $plan) {
                // The product's Module Settings as an admin fills them, by label.
                $labels = array_keys(sandboxed_ConfigOptions(['configoption1' => $plan['module']] + server_params(1)));
                $product = ['id' => ++$id, 'name' => $name, 'servertype' => 'sandboxed', 'configoption1' => $plan['module']];
                foreach ($plan['options'] as $label => $value) {
                    $index = array_search($label, $labels, true);
                    expect($index !== false, "ConfigOptions for {$plan['module']} has no `{$label}`: " . implode(', ', $labels));
                    $product['configoption' . ($index + 1)] = $value;
                }
                Capsule::table('tblproducts')->insert($product);
            }
            return count($plans) . ' products';
        }
        $module = (string) array_shift($args);
        if ($step === 'create') {
            [$domain, $username, $password] = $args;
            $id = 100 + count(Capsule::$tables['tblhosting']);
            Capsule::table('tblhosting')->insert([
                'id' => $id, 'module' => $module, 'userid' => 1, 'packageid' => product_id_of($args[3] ?? $module), 'server' => 1,
                'domain' => $domain, 'username' => $username, 'password' => $password, 'billingcycle' => 'Monthly',
                'domainstatus' => 'Pending', 'diskusage' => 0, 'disklimit' => 0, 'bwusage' => 0, 'bwlimit' => 0,
                'lastupdate' => '0000-00-00 00:00:00',
            ]);
            return with_status($id, sandboxed_CreateAccount(platform_params($id)), 'Active');
        }
        $id = service_id_of($module);
        return match ($step) {
            'suspend' => with_status($id, sandboxed_SuspendAccount(platform_params($id, ['suspendreason' => 'Overdue on Payment'])), 'Suspended'),
            'unsuspend' => with_status($id, sandboxed_UnsuspendAccount(platform_params($id)), 'Active'),
            'terminate' => with_status($id, sandboxed_TerminateAccount(platform_params($id)), 'Terminated'),
            'password' => (static function () use ($id, $args): string {
                set_service($id, ['password' => $args[0]]);
                return sandboxed_ChangePassword(platform_params($id));
            })(),
            'plan' => (static function () use ($id, $args): string {
                set_service($id, ['packageid' => product_id_of($args[0])]);
                return sandboxed_ChangePackage(platform_params($id));
            })(),
            default => throw new PlatformFailure("no step {$step}"),
        };
    }

    /**
     * WHMCS sets the service's status when the module answers success.
     *
     * Mirrors: WHMCS 8.x's module commands (includes/modulefunctions.php
     * ServerCreateAccount, ServerSuspendAccount, ...): "success" moves the
     * service to Active, Suspended or Terminated; anything else leaves it.
     */
    function with_status(int $id, string $result, string $status): string
    {
        if ($result === 'success') {
            set_service($id, ['domainstatus' => $status]);
        }
        return $result;
    }

    [, $stateFile, $step] = $argv + [null, null, null];
    if (is_file((string) $stateFile)) {
        Capsule::$tables = json_decode((string) file_get_contents($stateFile), true, flags: JSON_THROW_ON_ERROR);
    }
    $module = $argv[3] ?? null;
    $result = run_step((string) $step, array_slice($argv, 3));
    $answer = $step === 'setup' || $result === 'success' ? ['ok' => $result] : ['error' => $result];
    if ($module !== null && $step !== 'setup') {
        $id = service_id_of($module);
        $answer['service'] = row('tblhosting', $id);
        $answer['remote_id'] = sandboxed_remote_id(platform_params($id));
    }
    file_put_contents((string) $stateFile, json_encode(Capsule::$tables, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));
    echo json_encode($answer, JSON_UNESCAPED_SLASHES), "\n";
}
