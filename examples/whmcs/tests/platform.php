<?php

/**
 * Plays WHMCS for the `sandboxed` server module: stand-ins for WHMCS's own
 * helpers only (logModuleCall, localAPI, Capsule over a tiny in-memory
 * database, the service model's serviceProperties; in `whmcs.php`), then every provider's
 * lifecycle through the module's functions with `$params` of WHMCS's shape,
 * against a running `provisioning serve` whose modules reach the sandbox.
 *
 * Environment:
 *   SANDBOXED_URL, SANDBOXED_TOKEN  where serve listens and its token: the harness
 *                                   makes WHMCS's server record of them, then
 *                                   removes them (the module reads no environment)
 *   SANDBOX_ORIGIN                  the sandbox, for its /_sandbox/ control routes
 *   WHMCS_SEEDED_USAGE              optional JSON: a HostMeNow service the sandbox
 *                                   already has, with the usage UsageUpdate must import:
 *                                   {"service": 4010, "domain": "...", "diskusage": 1251, ...}
 *   WHMCS_MANIFEST, WHMCS_NEXT_MANIFEST
 *                                   serve's manifest, and the same with HostMeNow's next
 *                                   release in place of its module: the harness swaps it in
 *   WHMCS_BULK_USAGE                optional JSON: HostMeNow services the sandbox already
 *                                   has, for a server of their own whose UsageUpdate
 *                                   must import them all in one request:
 *                                   [[service, domain, username, diskusage, disklimit, bwusage, bwlimit], ...]
 *
 * Prints one line per step; exits 1 with a message at the first failure.
 */

declare(strict_types=1);

namespace {
    use WHMCS\Database\Capsule;

    require_once __DIR__ . '/whmcs.php';

    /**
     * GETs a JSON document (the sandbox's control routes, serve's journal).
     *
     * @return array<mixed>
     */
    function get_json(string $url, ?string $token = null): array
    {
        $handle = curl_init($url);
        $headers = $token === null ? [] : ['Authorization: Bearer ' . $token];
        curl_setopt_array($handle, [CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 10, CURLOPT_HTTPHEADER => $headers]);
        $body = curl_exec($handle);
        $status = curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        curl_close($handle);
        expect(is_string($body) && $status === 200, "GET {$url} answered HTTP {$status}");
        $json = json_decode($body, true);
        expect(is_array($json), "GET {$url} answered something that is not JSON");
        return $json;
    }

    /**
     * POSTs a JSON document (fault injection, an operator's acknowledgement).
     *
     * @return array<mixed>
     */
    function post_json(string $url, array $body, ?string $token = null): array
    {
        $handle = curl_init($url);
        $headers = ['Content-Type: application/json'];
        if ($token !== null) {
            $headers[] = 'Authorization: Bearer ' . $token;
        }
        curl_setopt_array($handle, [
            CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 10, CURLOPT_HTTPHEADER => $headers,
            CURLOPT_POST => true, CURLOPT_POSTFIELDS => json_encode($body === [] ? new stdClass() : $body),
        ]);
        $answer = curl_exec($handle);
        $status = curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        curl_close($handle);
        expect(is_string($answer) && $status === 200, "POST {$url} answered HTTP {$status}");
        return (array) json_decode($answer, true);
    }

    /** @return array<string, mixed>|null the record of `$list` whose `$field` is `$value` */
    function find(array $list, string $field, string $value): ?array
    {
        foreach ($list as $item) {
            if ((string) ($item[$field] ?? '') === $value) {
                return $item;
            }
        }
        return null;
    }

    /**
     * Waits (a minute at most) until serve says journal entry `$id`'s attempt
     * is over: before, a finding is refused (`attempt-running`).
     */
    function wait_for_attempt_over(string $url, string $token, string $id): void
    {
        $giveUp = microtime(true) + 60;
        do {
            usleep(200_000);
            $entry = find(get_json("{$url}/v1/journal/pending", $token)['pending'], 'id', $id);
        } while (!($entry['attempt_over'] ?? false) && microtime(true) < $giveUp);
    }

    /** The provider's record of a service, through the sandbox's control routes. */
    function provider_record(string $provider, int $serviceId): ?array
    {
        $origin = env('SANDBOX_ORIGIN');
        $remote = (string) ((new PlatformService($serviceId, (int) row('tblhosting', $serviceId)['packageid'], ''))
            ->serviceProperties->get('Remote ID') ?? '');
        return match ($provider) {
            'hostmenow' => find(get_json("{$origin}/_sandbox/hostmenow/services")['services'], 'service_id', (string) $serviceId),
            'blesta' => find(get_json("{$origin}/_sandbox/blesta/licenses")['licenses'], 'license', $remote),
            'webline' => find(get_json("{$origin}/_sandbox/webline/accounts")['accounts'], 'id', $remote),
            'logicboxes' => find(get_json("{$origin}/_sandbox/logicboxes/mailboxes"), 'email', $remote),
        };
    }

    /** What each provider's record says of the service's state, lower-cased. */
    function provider_state(string $provider, int $serviceId): string
    {
        $record = provider_record($provider, $serviceId);
        return $record === null ? 'absent' : strtolower((string) $record['status']);
    }

    /** Asserts a WHMCS-style result: "success", or an error string starting with `$kind: `. */
    function expect_result(string $provider, string $function, mixed $result, ?string $kind): void
    {
        expect(is_string($result), "{$provider} {$function} returned " . gettype($result) . ', not a string');
        if ($kind === null) {
            expect($result === 'success', "{$provider} {$function} should succeed, got: {$result}");
        } else {
            expect(str_starts_with($result, $kind . ': '), "{$provider} {$function} should fail with {$kind}, got: {$result}");
        }
        step($provider, $function, $result === 'success' ? 'success' : $result);
    }

    // ---- The database ------------------------------------------------------

    /**
     * Products take their module settings from what ConfigOptions shows for
     * their module, by label, as an admin fills the form.
     *
     * @param array<string, string> $byLabel
     */
    function configure_product(int $id, string $name, string $module, array $byLabel): void
    {
        $options = sandboxed_ConfigOptions(['configoption1' => $module]);
        $labels = array_keys($options);
        $product = ['id' => $id, 'name' => $name, 'servertype' => 'sandboxed', 'configoption1' => $module];
        foreach ($byLabel as $label => $value) {
            $index = array_search($label, $labels, true);
            expect($index !== false, "ConfigOptions for {$module} has no `{$label}`: " . implode(', ', $labels));
            $product['configoption' . ($index + 1)] = $value;
        }
        Capsule::table('tblproducts')->insert($product);
        Capsule::table('tblcustomfields')->insert([
            'id' => 100 + $id, 'type' => 'product', 'relid' => $id, 'fieldname' => 'Remote ID|Provider id', 'adminonly' => 'on',
        ]);
    }

    /**
     * Mirrors: WHMCS 8.x's product Module Settings tab (developers.whmcs.com
     * "Config Options", dynamic `Loader` fields).
     *
     * A product's Module Settings page as WHMCS renders it: ConfigOptions
     * (WHMCS passes no server), then each field's Loader with the product's
     * saved options and the server of its server group (server 1). A loader
     * that throws leaves its field as it is, with the message.
     *
     * @param array<string, string> $config configoptionN => value
     *
     * @return array<string, array<string, mixed>>
     */
    function product_page(array $config): array
    {
        $fields = sandboxed_ConfigOptions($config);
        foreach ($fields as $label => $field) {
            if (!isset($field['Loader'])) {
                continue;
            }
            try {
                $choices = ($field['Loader'])($config + server_params(1));
                $fields[$label]['Type'] = 'dropdown';
                $fields[$label]['Options'] = $choices;
            } catch (Exception $error) {
                $fields[$label]['Description'] = ($field['Description'] ?? '') . ' (' . $error->getMessage() . ')';
            }
        }
        return $fields;
    }

    /**
     * The value an admin stores as Package for package `$package` of
     * `$module`: the key of the Package dropdown's choice labelled with it.
     */
    function package_choice(string $module, string $package): string
    {
        foreach (product_page(['configoption1' => $module])['Package']['Options'] ?? [] as $key => $label) {
            if (str_ends_with((string) $label, "({$package})")) {
                return (string) $key;
            }
        }
        throw new PlatformFailure("the Package dropdown of {$module} offers no package {$package}");
    }

    function add_service(int $id, int $productId, int $server, string $status, string $domain, string $username, string $password): void
    {
        Capsule::table('tblhosting')->insert([
            'id' => $id, 'userid' => 1, 'packageid' => $productId, 'server' => $server, 'domain' => $domain,
            'username' => $username, 'password' => $password, 'billingcycle' => 'Monthly', 'domainstatus' => $status,
            'diskusage' => 0, 'disklimit' => 0, 'bwusage' => 0, 'bwlimit' => 0, 'lastupdate' => '0000-00-00 00:00:00',
        ]);
    }

    // ---- The lifecycle -----------------------------------------------------

    /** Which functions each provider supports, as its module says. */
    const SUPPORTS = [
        'hostmenow' => ['suspend', 'unsuspend', 'terminate', 'change-password', 'change-package', 'usage', 'sso'],
        'blesta' => ['suspend', 'unsuspend', 'terminate'],
        'webline' => [],
        'logicboxes' => ['suspend', 'unsuspend', 'terminate', 'change-password'],
    ];

    /** WHMCS service id of each provider's service. */
    const SERVICES = ['hostmenow' => 4001, 'blesta' => 4002, 'webline' => 4003, 'logicboxes' => 4004];

    function main(): void
    {
        $url = env('SANDBOXED_URL');
        $token = env('SANDBOXED_TOKEN');
        $parts = parse_url($url);
        expect(isset($parts['host'], $parts['port']), "SANDBOXED_URL {$url} has no host and port");
        $seeded = json_decode((string) getenv('WHMCS_SEEDED_USAGE'), true);
        $bulk = json_decode((string) getenv('WHMCS_BULK_USAGE'), true);
        // From here on serve is known to WHMCS only as the server record below.
        putenv('SANDBOXED_URL');
        putenv('SANDBOXED_TOKEN');

        Capsule::$tables = [
            'tblservers' => [
                ['id' => 1, 'name' => 'provisioning serve', 'type' => 'sandboxed', 'ipaddress' => $parts['host'],
                    'hostname' => $parts['host'], 'port' => $parts['port'], 'secure' => false,
                    'username' => '', 'password' => encrypt($token), 'accesshash' => ''],
                ['id' => 2, 'name' => 'another host', 'type' => 'sandboxed', 'ipaddress' => '127.0.0.1',
                    'hostname' => '127.0.0.1', 'port' => 9, 'secure' => false,
                    'username' => '', 'password' => encrypt('unused-token'), 'accesshash' => ''],
                // The same host again, as a server of its own for the many
                // services of WHMCS_BULK_USAGE.
                ['id' => 3, 'name' => 'a large server', 'type' => 'sandboxed', 'ipaddress' => $parts['host'],
                    'hostname' => $parts['host'], 'port' => $parts['port'], 'secure' => false,
                    'username' => '', 'password' => encrypt($token), 'accesshash' => ''],
            ],
            'tblclients' => [
                ['id' => 1, 'firstname' => 'Asha', 'lastname' => 'Mushi', 'companyname' => '', 'email' => 'asha@example.co.tz',
                    'address1' => 'Plot 12, Ali Hassan Mwinyi Rd', 'address2' => '', 'city' => 'Dar es Salaam',
                    'state' => 'Dar es Salaam', 'postcode' => '11101', 'country' => 'KE', 'countrycode' => 'KE',
                    'phonecc' => '255', 'phonenumber' => '712345678', 'phonenumberformatted' => '+255.712345678',
                    'language' => 'english'],
            ],
            'tblproducts' => [],
            'tblconfiguration' => [],
            'tblcustomfields' => [],
            'tblcustomfieldsvalues' => [],
            'tblhosting' => [],
            // A HostMeNow addon (say, a second site) provisioned by the module.
            'tbladdons' => [['id' => 1, 'name' => 'Extra site', 'module' => 'sandboxed', 'configoption1' => 'hostmenow', 'configoption2' => '101']],
            'tblhostingaddons' => [],
        ];

        // ConfigOptions as WHMCS renders a product's Module Settings: the
        // fields without a server, then each field's Loader with the server
        // of the product's server group. Nothing comes from PHP's environment.
        $emptyPage = sandboxed_ConfigOptions();
        expect(array_keys($emptyPage) === ['Module', 'Package'], 'ConfigOptions of a new product: ' . implode(', ', array_keys($emptyPage)));
        expect(($emptyPage['Module']['Loader'] ?? '') === 'sandboxed_LoaderModules' && ($emptyPage['Package']['Loader'] ?? '') === 'sandboxed_LoaderPackages', 'Module and Package are filled by loaders');
        $options = product_page([]);
        expect($options['Module']['Type'] === 'dropdown', 'the Module option lists the loaded modules: ' . ($options['Module']['Description'] ?? ''));
        $names = array_keys($options['Module']['Options']);
        expect($names === ['blesta', 'hostmenow', 'logicboxes', 'webline'], 'the Module dropdown lists ' . implode(', ', $names));
        step('-', 'ConfigOptions', 'Module (Loader, with the server record): ' . implode(', ', $names));
        $hmn = product_page(['configoption1' => 'hostmenow']);
        expect($hmn['Package']['Type'] === 'dropdown' && package_choice('hostmenow', '101') !== package_choice('hostmenow', '102'), 'HostMeNow packages in a dropdown');
        expect(($hmn['Dedicated IP address']['Type'] ?? '') === 'text', 'HostMeNow asks for its product setting ip-address');
        step('hostmenow', 'ConfigOptions', 'Package dropdown (' . count($hmn['Package']['Options']) . ' packages), ' . implode(', ', array_slice(array_keys($hmn), 2)));
        $lb = product_page(['configoption1' => 'logicboxes']);
        expect($lb['Package']['Type'] === 'text' && str_contains($lb['Package']['Description'], 'unsupported: '), 'LogicBoxes lists no packages: Package is text, saying why: ' . $lb['Package']['Description']);
        expect(($lb['Account type']['Type'] ?? '') === 'dropdown' && array_keys($lb['Account type']['Options']) === ['mailbox', 'forward-only'], 'LogicBoxes account type is a dropdown');
        step('logicboxes', 'ConfigOptions', 'Package text, ' . implode(', ', array_slice(array_keys($lb), 2)));
        $blesta = product_page(['configoption1' => 'blesta']);
        expect(($blesta['License term']['Type'] ?? '') === 'dropdown', 'Blesta term is a dropdown');
        step('blesta', 'ConfigOptions', 'Package dropdown, ' . implode(', ', array_slice(array_keys($blesta), 2)));
        $webline = product_page(['configoption1' => 'webline']);
        expect(($webline['Wait for activation (seconds)']['Type'] ?? '') === 'text', 'Webline wait is a number field');
        step('webline', 'ConfigOptions', 'Package dropdown, ' . implode(', ', array_slice(array_keys($webline), 2)));
        $noServer = sandboxed_ConfigOptions(['configoption1' => 'hostmenow']);
        expect(isset($noServer['Dedicated IP address']), "without a server the page shows the module's settings as the host last described them");
        $loaded = sandboxed_LoaderModules(server_params(1));
        expect(isset($loaded['hostmenow']), 'the loader answers with the server record alone');
        try {
            sandboxed_LoaderModules(server_params(2));
            expect(false, 'a loader with nothing listening throws');
        } catch (PlatformFailure $failure) {
            throw $failure;
        } catch (Exception $failure) {
            expect(str_contains($failure->getMessage(), 'transport: '), 'the loader says why: ' . $failure->getMessage());
            step('-', 'ConfigOptions', 'Loader with nothing listening -> ' . $failure->getMessage());
        }

        // The README's table of what each provider module supports says what
        // the modules' info says.
        $readme = (string) file_get_contents(__DIR__ . '/../README.md');
        $modules = sandboxed_modules(sandboxed_connection(server_params(1)));
        preg_match_all('/^\| [^|]+ \| `([a-z-]+)` \| (yes|no) \| (yes|no) \| (yes|no) \| (yes|no) \|$/m', $readme, $rows, PREG_SET_ORDER);
        $named = array_column($rows, 1);
        $declared = array_unique(array_merge(...array_map(static fn (array $m): array => $m['info']['functions'], array_values($modules))));
        expect(count(array_unique($named)) === count($named) && array_diff($declared, $named) === [], 'the README has one row per contract function a module declares: missing ' . implode(', ', array_diff($declared, $named)));
        foreach ($rows as $row) {
            foreach (['hostmenow', 'blesta', 'webline', 'logicboxes'] as $column => $provider) {
                $supported = in_array($row[1], $modules[$provider]['info']['functions'], true);
                expect(($row[2 + $column] === 'yes') === $supported, "the README says {$provider} " . ($supported ? 'lacks' : 'has') . " {$row[1]}");
            }
        }
        step('-', 'README', 'the feature table matches every module\'s info');

        configure_product(1, 'HostMeNow Basic', 'hostmenow', ['Package' => '101']);
        // HostMeNow's Package as an admin typed it (a product saved before
        // packages were kept with their module still provisions); the
        // others' as the dropdown offers it.
        configure_product(2, 'Blesta License', 'blesta', ['Package' => package_choice('blesta', 'monthly'), 'License term' => 'monthly']);
        configure_product(3, 'Webline Basic', 'webline', ['Package' => package_choice('webline', '1'), 'Wait for activation (seconds)' => '0']);
        // The email order comes only from the product: the manifest sets none.
        configure_product(4, 'LogicBoxes Mailbox', 'logicboxes', ['Email order ID' => '7700123', 'Account type' => 'mailbox']);
        configure_product(5, 'HostMeNow Pro', 'hostmenow', ['Package' => '102']);
        configure_product(7, 'HostMeNow Dedicated', 'hostmenow', ['Package' => '101', 'Dedicated IP address' => '10.1.2.3']);

        $passwords = ['hostmenow' => 'Hmn-Initial-Pw1!', 'blesta' => 'Bl-Unused-Pw1!', 'webline' => 'Whmcs-Gen-Pw1!', 'logicboxes' => 'Lb-Initial-Pw1!'];
        add_service(4001, 1, 1, 'Pending', 'shop.example.com', 'shopexam', $passwords['hostmenow']);
        add_service(4002, 2, 1, 'Pending', 'licensed.example.com', '', $passwords['blesta']);
        add_service(4003, 3, 1, 'Pending', 'duka.co.tz', 'dukacotz', $passwords['webline']);
        add_service(4004, 4, 1, 'Pending', 'example.com', 'jane', $passwords['logicboxes']);
        // Not active, or on another server: UsageUpdate must not touch them.
        add_service(4011, 1, 1, 'Terminated', 'gone.example.com', 'goneexam', 'Gone-Pw-1!');
        add_service(4012, 1, 2, 'Active', 'elsewhere.example.com', 'elsewher', 'Else-Pw-1!');
        if (is_array($seeded)) {
            add_service((int) $seeded['service'], 1, 1, 'Active', (string) $seeded['domain'], (string) $seeded['username'], 'Seeded-Pw-1!');
        }
        $secrets = array_merge(array_values($passwords), [$token]);

        // TestConnection: the server record, each module, then wrong settings.
        foreach (array_keys(SERVICES) as $provider) {
            $result = sandboxed_TestConnection(['serverusername' => $provider] + server_params(1));
            expect($result === ['success' => true, 'error' => ''], "{$provider} TestConnection: " . json_encode($result));
            step($provider, 'TestConnection', 'success');
        }
        $all = sandboxed_TestConnection(server_params(1));
        expect($all['success'] === true, 'TestConnection of every module: ' . $all['error']);
        $wrong = sandboxed_TestConnection(['serverpassword' => 'not-the-token-4242'] + server_params(1));
        expect(!$wrong['success'] && str_starts_with($wrong['error'], 'unauthorized: ') && !str_contains($wrong['error'], 'not-the-token-4242'), 'a wrong token: ' . $wrong['error']);
        step('-', 'TestConnection', 'wrong token -> ' . $wrong['error']);
        $closed = sandboxed_TestConnection(server_params(2));
        expect(!$closed['success'] && str_starts_with($closed['error'], 'transport: '), 'nothing listening: ' . $closed['error']);
        step('-', 'TestConnection', 'nothing listening -> ' . $closed['error']);

        // CreateAccount. LogicBoxes first without the client's country: refused
        // outright, so the retry with the same idempotency key runs.
        Capsule::table('tblclients')->where('id', 1)->update(['country' => '', 'countrycode' => '']);
        expect_result('logicboxes', 'CreateAccount', sandboxed_CreateAccount(platform_params(4004)), 'invalid-input');
        Capsule::table('tblclients')->where('id', 1)->update(['country' => 'KE', 'countrycode' => 'KE']);
        // Webline: an earlier run got the answer and died before keeping it;
        // the retry gets the recorded answer (credentials included), not a
        // second account.
        $lost = sandboxed_call(
            sandboxed_connection(platform_params(4003)),
            'webline',
            ['function' => 'create-account', 'service' => sandboxed_service(platform_params(4003))],
            [['name' => 'activation-wait-seconds', 'value' => '0']],
            'whmcs-4003-create',
            'CreateAccount',
            [$token]
        );
        expect(isset($lost['ok']) && $lost['replayed'] === false, 'the first Webline create ran: ' . json_encode($lost['error'] ?? null));
        $lostCredentials = array_column($lost['ok']['value']['credentials'], 'value', 'name');
        step('webline', 'CreateAccount', 'answered, then the platform died before keeping it');
        foreach (SERVICES as $provider => $id) {
            expect_result($provider, 'CreateAccount', sandboxed_CreateAccount(platform_params($id)), null);
            set_service($id, ['domainstatus' => 'Active']);
            expect(in_array(provider_state($provider, $id), ['active'], true), "{$provider} has the service active: " . provider_state($provider, $id));
            $remote = platform_params($id)['customfields']['Remote ID'];
            expect($remote !== '', "{$provider}'s remote id reached the Remote ID custom field");
        }
        $webline = row('tblhosting', 4003);
        $account = provider_record('webline', 4003);
        expect($webline['username'] === $account['username'] && $webline['username'] === $lostCredentials['username'], "Webline's generated username reached tblhosting");
        expect($webline['password'] === $lostCredentials['password'] && $webline['password'] !== $passwords['webline'], "Webline's generated password reached tblhosting");
        $accounts = array_filter(get_json(env('SANDBOX_ORIGIN') . '/_sandbox/webline/accounts')['accounts'], static fn (array $a): bool => $a['domain'] === 'duka.co.tz');
        expect(count($accounts) === 1, 'the retry made no second Webline account');
        expect(provider_record('logicboxes', 4004)['password'] === $passwords['logicboxes'], 'the mailbox has the WHMCS password');
        $secrets[] = $webline['password'];
        step('webline', 'credentials', "username {$webline['username']} and the generated password are in tblhosting");

        // A product addon of the HostMeNow service, created beside its parent:
        // its own key, its own account, its own stored remote id; suspending
        // and terminating it leaves the parent alone.
        Capsule::table('tblhostingaddons')->insert(['id' => 7, 'hostingid' => 4001, 'addonid' => 1, 'billingcycle' => 'Annually', 'status' => 'Pending']);
        $parentRemote = platform_params(4001)['customfields']['Remote ID'];
        // The customer chose two configurable options with the addon: neither is a
        // setting of HostMeNow's, so both reach it as custom fields (ip_address
        // is the one HostMeNow reads).
        $addonOptions = ['ip_address' => '10.9.8.7', 'Mailboxes|Number of mailboxes' => '5'];
        expect_result('hostmenow', 'CreateAccount addon', sandboxed_CreateAccount(platform_addon_params(7, ['configoptions' => $addonOptions])), null);
        $addonRemote = (string) (new PlatformAddon(7, 1, 4001))->serviceProperties->get('Remote ID');
        expect($addonRemote !== '' && $addonRemote !== $parentRemote, "the addon's remote id ({$addonRemote}) is its own, not the parent's ({$parentRemote})");
        expect(platform_params(4001)['customfields']['Remote ID'] === $parentRemote, "the parent's remote id is untouched");
        $hmnServices = get_json(env('SANDBOX_ORIGIN') . '/_sandbox/hostmenow/services')['services'];
        $parentAccount = find($hmnServices, 'service_id', '4001');
        $addonAccount = find($hmnServices, 'service_id', '4001-a7');
        expect($parentAccount !== null && $addonAccount !== null, 'HostMeNow has two accounts, the parent 4001 and the addon 4001-a7');
        expect(count(array_filter($hmnServices, static fn (array $s): bool => in_array($s['service_id'], ['4001', '4001-a7'], true))) === 2, 'exactly two');
        Capsule::table('tblhostingaddons')->where('id', 7)->update(['status' => 'Active']);
        // The admin's and the client's views of the addon are the addon's own:
        // its provider id and module version on the tab, its buttons, its
        // usage in the client area, its password reset.
        $addonTab = sandboxed_AdminServicesTabFields(platform_addon_params(7));
        expect($addonTab['Provider ID'] === $addonRemote && $addonTab['Journal'] === 'nothing pending', "the addon's admin tab: " . json_encode($addonTab));
        expect(str_starts_with($addonTab['Module version that last answered'], '<code>'), "the addon's tab names the version that created it: " . json_encode($addonTab));
        expect(sandboxed_AdminCustomButtonArray(platform_addon_params(7)) === ['Reset password' => 'ResetPassword'], "the addon's buttons: " . json_encode(sandboxed_AdminCustomButtonArray(platform_addon_params(7))));
        $logged = count($GLOBALS['platform_module_log']);
        $addonPage = sandboxed_ClientArea(platform_addon_params(7))['vars']['sandboxed'];
        $asked = array_filter(array_slice($GLOBALS['platform_module_log'], $logged), static fn (array $e): bool => $e['action'] === 'ClientArea');
        expect($addonPage['error'] === null && $addonPage['usage'] !== [] && $addonPage['sso'], "the addon's client area: " . json_encode($addonPage));
        expect(count($asked) === 1 && str_contains((string) end($asked)['request'], '"service_id":"4001-a7"'), "the client area read the addon's usage, not the parent's: " . json_encode(array_column($asked, 'request')));
        $parentPassword = row('tblhosting', 4001)['password'];
        expect_result('hostmenow', 'ResetPassword addon', sandboxed_ResetPassword(platform_addon_params(7)), null);
        $addonPassword = (string) (new PlatformAddon(7, 1, 4001))->serviceProperties->get('Password');
        expect(strlen($addonPassword) === 16 && $addonPassword !== $parentPassword, "the addon's new password is in its own properties");
        expect(row('tblhosting', 4001)['password'] === $parentPassword, "the parent's password is untouched");
        expect((string) find(get_json(env('SANDBOX_ORIGIN') . '/_sandbox/hostmenow/services')['services'], 'service_id', '4001-a7')['password'] === $addonPassword, 'HostMeNow has it for the addon');
        $secrets[] = $addonPassword;
        step('hostmenow', 'addon views', "tab (provider id {$addonRemote}), buttons, client area and password reset are the addon's own");
        expect_result('hostmenow', 'SuspendAccount addon', sandboxed_SuspendAccount(platform_addon_params(7, ['suspendreason' => 'Addon overdue'])), null);
        expect(provider_state('hostmenow', 4001) === 'active', 'suspending the addon left the parent active');
        expect(strtolower((string) find(get_json(env('SANDBOX_ORIGIN') . '/_sandbox/hostmenow/services')['services'], 'service_id', '4001-a7')['status']) === 'suspended', 'the addon is suspended');
        expect_result('hostmenow', 'TerminateAccount addon', sandboxed_TerminateAccount(platform_addon_params(7)), null);
        expect(provider_state('hostmenow', 4001) === 'active', 'terminating the addon left the parent active');
        step('hostmenow', 'addon', "parent 4001 (remote id {$parentRemote}) and addon 7 (remote id {$addonRemote}) are two accounts; the addon's suspend and terminate left the parent active");

        // Configurable options reach the provider: one named as HostMeNow's
        // product setting `ip-address` (by its label) becomes that setting,
        // overriding the product's blank value; the addon's above came as
        // custom fields. HostMeNow's own record of the requests shows both.
        add_service(4006, 1, 1, 'Pending', 'options.example.com', 'optionsx', 'Hmn-Options-Pw1!');
        $secrets[] = 'Hmn-Options-Pw1!';
        expect_result('hostmenow', 'CreateAccount', sandboxed_CreateAccount(platform_params(4006, ['configoptions' => ['Dedicated IP address|Dedicated IP' => '10.20.30.40|Yes, one']])), null);
        $creates = array_values(array_filter(
            get_json(env('SANDBOX_ORIGIN') . '/_sandbox/hostmenow/requests'),
            static fn (array $r): bool => $r['action'] === 'CreateAccount'
        ));
        $byService = array_column(array_map(static fn (array $r): array => $r['params'], $creates), null, 'serviceid');
        expect(($byService['4006']['ip_address'] ?? null) === '10.20.30.40', 'the configurable option reached HostMeNow as the ip-address setting: ' . json_encode($byService['4006'] ?? null));
        expect(($byService['4001-a7']['ip_address'] ?? null) === '10.9.8.7', "the addon's configurable option reached HostMeNow as a custom field: " . json_encode($byService['4001-a7'] ?? null));
        expect(!isset($byService['4001']['ip_address']), 'the parent got no ip_address');
        $sent = array_filter($GLOBALS['platform_module_log'], static fn (array $e): bool => $e['action'] === 'CreateAccount' && str_contains($e['request'], 'options.example.com'));
        $body = json_decode(explode("\n", (string) end($sent)['request'], 2)[1], true);
        expect(in_array(['name' => 'ip-address', 'value' => '10.20.30.40'], $body['settings'] ?? [], true), 'sent as the setting ip-address: ' . json_encode($body));
        expect(!in_array('Dedicated IP address', array_column($body['request']['service']['custom_fields'], 0), true), 'and not also as a custom field: ' . json_encode($body));
        step('hostmenow', 'configoptions', 'a product setting by label (ip-address 10.20.30.40) and custom fields on the addon (ip_address 10.9.8.7) reached HostMeNow');

        // A create cut off at the provider (HTTP 500: did it act?): the entry
        // stays pending, the same key is refused until an operator has
        // checked the provider and resolved the entry; found not done, the
        // retry runs.
        add_service(4005, 2, 1, 'Pending', 'unsure.example.com', '', 'Bl-Unsure-Pw1!');
        $secrets[] = 'Bl-Unsure-Pw1!';
        $origin = env('SANDBOX_ORIGIN');
        post_json("{$origin}/_sandbox/blesta/faults", ['fault' => 'server_error_json']);
        $first = sandboxed_CreateAccount(platform_params(4005));
        expect(str_starts_with($first, 'provider: ') && preg_match('/resolve journal entry (\d+)/', $first, $match) === 1, 'a cut-off create: ' . $first);
        step('blesta', 'CreateAccount', $first);
        $again = sandboxed_CreateAccount(platform_params(4005));
        expect(str_starts_with($again, 'outcome-unknown: '), 'the retry of a cut-off create: ' . $again);
        step('blesta', 'CreateAccount', $again);
        $licenses = get_json("{$origin}/_sandbox/blesta/licenses")['licenses'];
        expect(find($licenses, 'domain', 'unsure.example.com') === null, 'the cut-off create made no license');
        // The admin dashboard's widget lists it, first, as unknown.
        $widgets = array_values(array_filter(run_hook('AdminHomeWidgets'), static fn (mixed $w): bool => $w instanceof \WHMCS\Module\AbstractWidget));
        expect(count($widgets) === 1 && $widgets[0]->getTitle() === 'Provisioning journal', 'the module adds one dashboard widget');
        $html = $widgets[0]->generateOutput($widgets[0]->getData());
        expect(str_contains($html, ">unknown</span> #{$match[1]} blesta create-account") && str_contains($html, 'service 4005') && str_contains($html, 'check at the provider'), 'the widget lists the unknown entry: ' . $html);
        expect(str_contains($html, 'another host</strong><p class="text-danger">Could not be asked: transport: '), 'the widget says which server could not be asked: ' . $html);
        expect(!str_contains($html, $token) && !str_contains($html, 'unused-token'), 'the widget shows no token');
        step('-', 'dashboard widget', trim(preg_replace('/\s+/', ' ', html_entity_decode(strip_tags(str_replace('><', '> <', explode('</li>', $html)[0]))))));

        // The admin's service tab shows the entry and what to do; the buttons
        // offer the two findings (and what Blesta can do: change the domain).
        // One admin page of the service, as WHMCS renders it in one request
        // (the buttons, then the tab), between two GET /v1/health marks in
        // serve's access log: the Rust side counts what the page asked.
        SandboxedRequestCache::$modules = [];
        SandboxedRequestCache::$entries = [];
        get_json("{$url}/v1/health", $token);
        $buttons = sandboxed_AdminCustomButtonArray(platform_params(4005));
        $tab = sandboxed_AdminServicesTabFields(platform_params(4005));
        get_json("{$url}/v1/health", $token);
        expect(str_contains($tab['Journal'], "Entry {$match[1]}: create-account, unknown") && str_contains($tab['Journal'], 'Check the service at the provider'), 'the tab shows the unknown entry: ' . $tab['Journal']);
        expect(str_contains($tab['Status at the provider'], 'reports no status'), 'Blesta reports no status: ' . $tab['Status at the provider']);
        expect($buttons === ['Change domain' => 'ChangeDomain', 'Checked at the provider: it happened' => 'AckDone', 'Checked at the provider: it did not happen' => 'AckNotDone'], 'Blesta buttons with an unknown outcome: ' . json_encode($buttons));
        step('blesta', 'AdminServicesTab', strip_tags($tab['Journal']));
        // Until the call's deadline has passed, its request might still reach
        // the provider (a stalled host resuming): the finding is refused, and
        // the button says why.
        $early = sandboxed_AckNotDone(platform_params(4005));
        expect(str_starts_with($early, 'attempt-running: '), 'a finding before the call\'s deadline: ' . $early);
        step('blesta', 'operator', $early);
        wait_for_attempt_over($url, $token, $match[1]);
        expect(sandboxed_AckNotDone(platform_params(4005)) === 'success', 'the operator resolves the entry from the button');
        expect(!in_array($match[1], array_column(get_json("{$url}/v1/journal/pending", $token)['pending'], 'id')), 'the entry is resolved');
        expect(sandboxed_AdminCustomButtonArray(platform_params(4005)) === ['Change domain' => 'ChangeDomain'], 'no finding to give once resolved');
        step('blesta', 'operator', "checked the provider (no license) and resolved journal entry {$match[1]} as not done with the button");
        $retried = sandboxed_CreateAccount(platform_params(4005));
        expect($retried === 'success', 'the retry after "not done" runs: ' . $retried);
        $licenses = get_json("{$origin}/_sandbox/blesta/licenses")['licenses'];
        expect(find($licenses, 'domain', 'unsure.example.com') !== null, 'the retry made the license');
        step('blesta', 'CreateAccount', $retried);

        // A create whose answer was lost after HostMeNow acted: the operator
        // finds the account at the provider, puts its id in Remote ID and
        // clicks "it happened"; WHMCS marks the service Active and keeps
        // the id, and there is one account, not two.
        add_service(4007, 1, 1, 'Pending', 'lost.example.com', 'lostanswer', 'Hmn-Lost-Pw1!');
        $secrets[] = 'Hmn-Lost-Pw1!';
        post_json("{$origin}/_sandbox/hostmenow/faults", ['fault' => 'answer_lost']);
        $lost = sandboxed_CreateAccount(platform_params(4007));
        expect(preg_match('/resolve journal entry (\d+)/', $lost, $lostEntry) === 1, 'a create whose answer was lost: ' . $lost);
        step('hostmenow', 'CreateAccount', $lost);
        $found = provider_record('hostmenow', 4007);
        expect($found !== null, 'HostMeNow did create the account');
        $buttons = sandboxed_AdminCustomButtonArray(platform_params(4007));
        expect(($buttons['Checked at the provider: it happened'] ?? '') === 'AckDone', 'the finding buttons are offered: ' . json_encode($buttons));
        $noId = sandboxed_AckDone(platform_params(4007));
        expect(str_starts_with($noId, 'invalid-input: ') && str_contains($noId, 'Remote ID'), '"it happened" for a create asks for the id first: ' . $noId);
        (new PlatformService(4007, 1, 'Monthly'))->serviceProperties->save(['Remote ID' => (string) $found['order_id']]);
        wait_for_attempt_over($url, $token, $lostEntry[1]);
        expect(sandboxed_AckDone(platform_params(4007)) === 'success', 'the operator resolves the entry as done');
        expect(!in_array($lostEntry[1], array_column(get_json("{$url}/v1/journal/pending", $token)['pending'], 'id')), 'the entry is resolved');
        expect(row('tblhosting', 4007)['domainstatus'] === 'Active', 'WHMCS shows the service Active');
        expect(sandboxed_kept_remote_id(4007, 0) === (string) $found['order_id'], "the module's table keeps the id");
        expect(sandboxed_AdminCustomButtonArray(platform_params(4007)) === ['Reset password' => 'ResetPassword'], 'no finding to give once resolved');
        expect_result('hostmenow', 'SuspendAccount', sandboxed_SuspendAccount(platform_params(4007, ['suspendreason' => 'checked'])), null);
        $accounts = array_filter(get_json("{$origin}/_sandbox/hostmenow/services")['services'], static fn (array $s): bool => $s['service_id'] === '4007');
        expect(count($accounts) === 1 && strtolower((string) reset($accounts)['status']) === 'suspended', 'one account, the one found, and the next call acts on it');
        expect_result('hostmenow', 'TerminateAccount', sandboxed_TerminateAccount(platform_params(4007)), null);
        set_service(4007, ['domainstatus' => 'Terminated']);
        step('hostmenow', 'operator', "found the lost create's account (order {$found['order_id']}) at the provider and resolved journal entry {$lostEntry[1]} as done with the button");

        // An addon's unknown create is the addon's alone: its key
        // whmcs-4001-a8-create begins like the parent's whmcs-4001-..., and
        // the parent's page shows nothing of it.
        Capsule::table('tblhostingaddons')->insert(['id' => 8, 'hostingid' => 4001, 'addonid' => 1, 'billingcycle' => 'Monthly', 'status' => 'Pending']);
        post_json("{$origin}/_sandbox/hostmenow/faults", ['fault' => 'answer_lost']);
        $lostAddon = sandboxed_CreateAccount(platform_addon_params(8));
        expect(preg_match('/resolve journal entry (\d+)/', $lostAddon, $addonEntry) === 1, "an addon's create whose answer was lost: " . $lostAddon);
        $parentTab = sandboxed_AdminServicesTabFields(platform_params(4001));
        expect($parentTab['Journal'] === 'nothing pending', "the parent's tab shows nothing of its addon's entry: " . $parentTab['Journal']);
        expect(sandboxed_AdminCustomButtonArray(platform_params(4001)) === ['Reset password' => 'ResetPassword'], "the parent's page offers no finding for its addon's entry");
        $addonTab = sandboxed_AdminServicesTabFields(platform_addon_params(8));
        expect(str_contains($addonTab['Journal'], "Entry {$addonEntry[1]}: create-account, unknown"), "the addon's tab shows its entry: " . $addonTab['Journal']);
        $addonFound = find(get_json("{$origin}/_sandbox/hostmenow/services")['services'], 'service_id', '4001-a8');
        expect($addonFound !== null, 'HostMeNow did create the addon');
        (new PlatformAddon(8, 1, 4001))->serviceProperties->save(['Remote ID' => (string) $addonFound['order_id']]);
        wait_for_attempt_over($url, $token, $addonEntry[1]);
        expect(sandboxed_AckDone(platform_addon_params(8)) === 'success', "the operator resolves the addon's entry from the addon's page");
        Capsule::table('tblhostingaddons')->where('id', 8)->update(['status' => 'Active']);
        expect_result('hostmenow', 'TerminateAccount addon', sandboxed_TerminateAccount(platform_addon_params(8)), null);
        step('hostmenow', 'addon', "addon 8's unknown create (entry {$addonEntry[1]}) was on the addon's page only, not its parent's");

        // Change domain (a button): the admin edits the domain, then clicks.
        set_service(4005, ['domain' => 'moved.example.com']);
        expect_result('blesta', 'ChangeDomain', sandboxed_ChangeDomain(platform_params(4005)), null);
        expect(find(get_json("{$origin}/_sandbox/blesta/licenses")['licenses'], 'domain', 'moved.example.com') !== null, 'Blesta moved the license');
        set_service(4005, ['domain' => 'unsure.example.com']);
        expect_result('blesta', 'ChangeDomain', sandboxed_ChangeDomain(platform_params(4005)), null);
        $digest = sandboxed_AdminServicesTabFields(platform_params(4005))['Module version that last answered'];
        expect(preg_match('#^<code>[0-9a-f]{64}</code>$#', $digest) === 1, 'the tab names the digest of the version that answered: ' . $digest);

        // Server sync (WHMCS's Server Sync Tool, played by PlatformServerSync
        // as WHMCS matches what ListAccounts answers by what MetaData
        // declares): the accounts of the modules that can list them,
        // Blesta's licenses and Webline's accounts; a server of HostMeNow
        // alone cannot sync and says so.
        $sync = sandboxed_ListAccounts(server_params(1));
        expect($sync['success'] === true, 'ListAccounts: ' . json_encode($sync));
        foreach ($sync['accounts'] as $account) {
            expect(array_keys($account) === ['email', 'username', 'domain', 'uniqueIdentifier', 'product', 'primaryip', 'created', 'status'], "WHMCS's keys: " . json_encode($account));
            expect($account['created'] === '' || preg_match('/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/', $account['created']) === 1, 'created as Y-m-d H:i:s: ' . $account['created']);
        }
        expect(!in_array('shop.example.com', array_column($sync['accounts'], 'domain'), true), 'HostMeNow cannot list: its services are not there');
        $hostmenowOnly = sandboxed_ListAccounts(['serverusername' => 'hostmenow'] + server_params(1));
        expect($hostmenowOnly['success'] === false && str_starts_with($hostmenowOnly['error'], 'unsupported: '), 'a server of HostMeNow alone: ' . json_encode($hostmenowOnly));

        // Every account WHMCS has a service for is matched to that service
        // and its product, also when the service's domain in WHMCS is not
        // the provider's (an admin added "www."); nothing of them is
        // offered for import.
        set_service(4003, ['domain' => 'www.duka.co.tz']);
        $analysis = PlatformServerSync::analyse(1);
        set_service(4003, ['domain' => 'duka.co.tz']);
        expect($analysis['error'] === '', 'the analysis: ' . $analysis['error']);
        $byService = [];
        foreach ($analysis['items'] as $item) {
            foreach ($item['services'] as $id => $productMatches) {
                $byService[$id][] = [$item['account']['domain'], $productMatches];
            }
        }
        foreach ([4002 => 'licensed.example.com', 4003 => 'duka.co.tz', 4005 => 'unsure.example.com'] as $id => $domain) {
            expect(($byService[$id] ?? null) === [[$domain, true]], "service {$id} is matched to its account ({$domain}) and product, once: " . json_encode($byService[$id] ?? $analysis['items']));
        }
        // Only the license made outside WHMCS (seeded at Blesta) is new.
        $license = env('WHMCS_SEEDED_LICENSE');
        $unmatched = array_column(array_filter($analysis['items'], static fn (array $item): bool => $item['services'] === []), 'account');
        expect(array_column($unmatched, 'uniqueIdentifier') === [$license], 'accounts WHMCS has would be imported again: ' . json_encode($unmatched));
        step('-', 'Server sync', count($analysis['items']) . ' accounts, each matched to its service and product (4003 with another domain in WHMCS); a server of hostmenow alone: ' . $hostmenowOnly['error']);

        // Accounts made outside WHMCS are imported onto their own module's
        // product, even where another module's product has the same package
        // id: a Webline account of package 2, beside a HostMeNow product
        // whose Package an admin typed as 2; and a Blesta license without a
        // domain, of a term no product has (WHMCS makes a product for it).
        configure_product(9, 'HostMeNow Starter', 'hostmenow', ['Package' => '2']);
        configure_product(10, 'Webline Professional', 'webline', ['Package' => package_choice('webline', '2'), 'Wait for activation (seconds)' => '0']);
        $outside = sandboxed_call(
            sandboxed_connection(server_params(1)),
            'webline',
            ['function' => 'create-account', 'service' => [
                'service_id' => 'elsewhere-1', 'remote_id' => null, 'domain' => 'imported.co.tz', 'username' => null,
                'password' => null, 'package' => '2', 'billing_cycle' => null, 'custom_fields' => [],
                'client' => sandboxed_client(platform_params(4003)['clientsdetails']),
            ]],
            [['name' => 'activation-wait-seconds', 'value' => '0']],
            'elsewhere-1-create',
            'CreateAccount',
            [$token]
        );
        expect(isset($outside['ok']), 'an account made outside WHMCS: ' . json_encode($outside['error'] ?? null));
        post_json("{$url}/v1/journal/{$outside['journal_entry']}/ack", [], $token);
        $outsideRemote = (string) $outside['ok']['value']['remote_id'];
        // Had a product addon that account (WHMCS's sync knows services
        // only), it would not be offered for import.
        sandboxed_keep_remote_id(4003, 99, $outsideRemote, null);
        expect(!in_array($outsideRemote, array_column(sandboxed_ListAccounts(server_params(1))['accounts'], 'uniqueIdentifier'), true), "an addon's account is not listed");
        Capsule::table('mod_sandboxed_accounts')->where('addon_id', 99)->delete();
        // The admin ticks Import for every account WHMCS has no service for.
        $fresh = PlatformServerSync::analyse(1);
        $toImport = array_column(array_column(array_filter($fresh['items'], static fn (array $item): bool => $item['services'] === []), 'account'), 'uniqueIdentifier');
        expect(count($toImport) === 2, 'two accounts to import: ' . json_encode($fresh));
        $imported = PlatformServerSync::import(1, $toImport, 1);
        expect(count($imported) === 2, 'both accounts imported: ' . json_encode($imported));
        $byDomain = array_combine(array_map(static fn (int $id): string => (string) row('tblhosting', $id)['domain'], $imported), $imported);
        $weblineImport = $byDomain['imported.co.tz'] ?? 0;
        $blestaImport = (int) (array_values(array_diff($imported, [$weblineImport]))[0] ?? 0);
        expect($weblineImport > 0 && $blestaImport > 0, 'the imported services: ' . json_encode($byDomain));
        expect((int) row('tblhosting', $weblineImport)['packageid'] === 10, "the Webline account is on Webline's product 10, not another module's of the same package id: " . json_encode(row('tblproducts', (int) row('tblhosting', $weblineImport)['packageid'])));
        expect(sandboxed_remote_id(platform_params($weblineImport)) === $outsideRemote, "the imported Webline service has the provider's id");
        $blestaRow = row('tblhosting', $blestaImport);
        expect($blestaRow['domain'] === '' && sandboxed_remote_id(platform_params($blestaImport)) === $license, 'the imported license keeps its key as its provider id, its domain blank: ' . json_encode($blestaRow));
        $blestaTab = sandboxed_AdminServicesTabFields(platform_params($blestaImport));
        expect($blestaTab['Provider ID'] === $license && str_starts_with($blestaTab['Provisioning module'], 'blesta ('), "the product WHMCS made for the license works with the module: " . json_encode($blestaTab));
        $again = PlatformServerSync::analyse(1);
        $unmatched = array_filter($again['items'], static fn (array $item): bool => $item['services'] === []);
        expect($again['error'] === '' && $unmatched === [], 'a second sync would import again: ' . json_encode(array_values($unmatched)));
        step('-', 'Server sync', "imported Webline {$outsideRemote} onto product 10 (not HostMeNow's product 9 of package 2) and Blesta {$license} without a domain; a second sync imports nothing");

        // A service moved to a product whose Remote ID field is blank is
        // still found: ListAccounts copies the id the module keeps into it.
        set_service(4003, ['packageid' => 10]);
        $moved = array_values(array_filter(PlatformServerSync::analyse(1)['items'], static fn (array $item): bool => isset($item['services'][4003])));
        expect(count($moved) === 1 && $moved[0]['services'][4003] === false, 'the moved service is matched, its product shown as differing: ' . json_encode($moved));
        set_service(4003, ['packageid' => 3]);

        // Webline reports a status: the tab shows it live, Refresh status keeps it.
        $tab = sandboxed_AdminServicesTabFields(platform_params(4003));
        expect(str_starts_with($tab['Status at the provider'], '<strong>active</strong>'), 'Webline status on the tab: ' . $tab['Status at the provider']);
        expect($tab['Journal'] === 'nothing pending' && $tab['Provider ID'] !== '<em>none yet</em>', 'Webline tab: ' . json_encode($tab));
        expect(sandboxed_AdminCustomButtonArray(platform_params(4003)) === ['Refresh status' => 'RefreshStatus'], 'Webline can only refresh its status');
        expect_result('webline', 'RefreshStatus', sandboxed_RefreshStatus(platform_params(4003)), null);
        expect(platform_params(4003)['customfields']['Provider status'] === 'active', 'the status is kept on the service');
        step('webline', 'AdminServicesTab', strip_tags(str_replace('<br>', '; ', $tab['Status at the provider'])));

        // A service moved to another product keeps its provider id: custom
        // fields belong to the old product, the module's own table does not.
        configure_product(6, 'Webline Plus', 'webline', ['Package' => package_choice('webline', '1'), 'Wait for activation (seconds)' => '0']);
        $weblineRemote = platform_params(4003)['customfields']['Remote ID'];
        set_service(4003, ['packageid' => 6]);
        expect(platform_params(4003)['customfields']['Remote ID'] === '', "the new product's Remote ID field is blank for the moved service");
        $tab = sandboxed_AdminServicesTabFields(platform_params(4003));
        expect($tab['Provider ID'] === $weblineRemote && str_starts_with($tab['Status at the provider'], '<strong>active</strong>'), 'the moved service still has its provider id and status: ' . json_encode($tab));
        expect_result('webline', 'RefreshStatus', sandboxed_RefreshStatus(platform_params(4003)), null);
        expect((Capsule::$created['mod_sandboxed_accounts'] ?? []) === ['service_id', 'addon_id', 'remote_id', 'updated_at'], 'the module made its table: ' . json_encode(Capsule::$created));
        set_service(4003, ['packageid' => 3]);
        step('webline', 'product change', "moved to another product, the service kept its provider id {$weblineRemote} (mod_sandboxed_accounts)");

        // Reset password (a button): a new password at HostMeNow and in WHMCS.
        $before = row('tblhosting', 4001)['password'];
        expect(sandboxed_AdminCustomButtonArray(platform_params(4001)) === ['Reset password' => 'ResetPassword'], 'HostMeNow buttons: ' . json_encode(sandboxed_AdminCustomButtonArray(platform_params(4001))));
        expect_result('hostmenow', 'ResetPassword', sandboxed_ResetPassword(platform_params(4001)), null);
        $reset = row('tblhosting', 4001)['password'];
        expect($reset !== $before && strlen($reset) === 16 && provider_record('hostmenow', 4001)['password'] === $reset, 'the reset password is at HostMeNow and in tblhosting');
        $secrets[] = $reset;

        // SuspendAccount, UnsuspendAccount.
        foreach (SERVICES as $provider => $id) {
            $supported = in_array('suspend', SUPPORTS[$provider], true);
            $result = sandboxed_SuspendAccount(platform_params($id, ['suspendreason' => 'Overdue on Payment']));
            expect_result($provider, 'SuspendAccount', $result, $supported ? null : 'unsupported');
            if ($supported) {
                set_service($id, ['domainstatus' => 'Suspended']);
                expect(provider_state($provider, $id) === 'suspended', "{$provider} suspended the service");
            }
        }
        expect(provider_record('hostmenow', 4001)['suspend_reason'] === 'Overdue on Payment', "HostMeNow got WHMCS's suspension reason");
        foreach (SERVICES as $provider => $id) {
            $supported = in_array('unsuspend', SUPPORTS[$provider], true);
            expect_result($provider, 'UnsuspendAccount', sandboxed_UnsuspendAccount(platform_params($id)), $supported ? null : 'unsupported');
            if ($supported) {
                set_service($id, ['domainstatus' => 'Active']);
                expect(provider_state($provider, $id) === 'active', "{$provider} lifted the suspension");
            }
        }

        // ChangePassword: WHMCS saves the new password, then calls the module.
        foreach (SERVICES as $provider => $id) {
            $supported = in_array('change-password', SUPPORTS[$provider], true);
            $before = row('tblhosting', $id)['password'];
            $new = 'New-' . ucfirst($provider) . '-Pw9!';
            $secrets[] = $new;
            set_service($id, ['password' => $new]);
            expect_result($provider, 'ChangePassword', sandboxed_ChangePassword(platform_params($id)), $supported ? null : 'unsupported');
            if (!$supported) {
                set_service($id, ['password' => $before]);
            }
        }
        expect(provider_record('hostmenow', 4001)['password'] === 'New-Hostmenow-Pw9!', 'HostMeNow has the new password');
        $mailbox = provider_record('logicboxes', 4004);
        $stored = row('tblhosting', 4004)['password'];
        expect($mailbox['password'] === $stored && $stored !== 'New-Logicboxes-Pw9!', 'the password LogicBoxes generated (the old one unknown) reached tblhosting');
        $secrets[] = $stored;
        step('logicboxes', 'credentials', 'the reset password is in tblhosting');

        // ChangePackage: HostMeNow's service is upgraded to the Pro product.
        set_service(4001, ['packageid' => 5]);
        foreach (SERVICES as $provider => $id) {
            $supported = in_array('change-package', SUPPORTS[$provider], true);
            expect_result($provider, 'ChangePackage', sandboxed_ChangePackage(platform_params($id)), $supported ? null : 'unsupported');
        }
        expect(provider_record('hostmenow', 4001)['product_id'] === '102', 'HostMeNow moved the service to 102');

        // UsageUpdate: once for the server, the daily cron.
        $result = sandboxed_UsageUpdate(server_params(1));
        expect($result === 'success', 'UsageUpdate: ' . $result);
        $usage = row('tblhosting', 4001);
        expect([$usage['diskusage'], $usage['disklimit'], $usage['bwusage'], $usage['bwlimit']] === [0, 20000, 0, 0], 'usage of 4001: ' . json_encode($usage));
        expect($usage['lastupdate'] !== '0000-00-00 00:00:00', 'lastupdate of 4001 set');
        if (is_array($seeded)) {
            $row = row('tblhosting', (int) $seeded['service']);
            $got = [$row['diskusage'], $row['disklimit'], $row['bwusage'], $row['bwlimit']];
            $want = [$seeded['diskusage'], $seeded['disklimit'], $seeded['bwusage'], $seeded['bwlimit']];
            expect($got === $want, 'usage of the seeded service: ' . json_encode($got) . ', expected ' . json_encode($want));
        }
        foreach ([4002, 4003, 4004, 4011, 4012] as $untouched) {
            expect(row('tblhosting', $untouched)['lastupdate'] === '0000-00-00 00:00:00', "UsageUpdate left service {$untouched} alone");
        }
        step('hostmenow', 'UsageUpdate', sprintf('success: 4001 disk %d/%d MB, bandwidth %d/unlimited', $usage['diskusage'], $usage['disklimit'], $usage['bwusage'])
            . (is_array($seeded) ? sprintf('; %d disk %d/%d MB', $seeded['service'], $seeded['diskusage'], $seeded['disklimit']) : ''));
        step('-', 'UsageUpdate', 'blesta, webline, logicboxes report no usage: skipped; terminated and other servers untouched');

        // UsageUpdate of a server with many services: one request to the
        // host for them all (the Rust side counts the requests in serve's
        // access log), every service's figures written.
        if (is_array($bulk)) {
            foreach ($bulk as [$id, $domain, $username]) {
                add_service((int) $id, 1, 3, 'Active', (string) $domain, (string) $username, 'Bulk-Pw-1!');
            }
            $started = microtime(true);
            $result = sandboxed_UsageUpdate(server_params(3));
            $took = microtime(true) - $started;
            expect($result === 'success', 'UsageUpdate of the large server: ' . $result);
            foreach ($bulk as [$id, , , $disk, $diskLimit, $bandwidth, $bandwidthLimit]) {
                $row = row('tblhosting', (int) $id);
                $got = [$row['diskusage'], $row['disklimit'], $row['bwusage'], $row['bwlimit']];
                expect($got === [$disk, $diskLimit, $bandwidth, $bandwidthLimit], "usage of {$id}: " . json_encode($got)
                    . ', expected ' . json_encode([$disk, $diskLimit, $bandwidth, $bandwidthLimit]));
                expect($row['lastupdate'] !== '0000-00-00 00:00:00', "lastupdate of {$id} set");
            }
            expect(row('tblhosting', 4001)['diskusage'] === $usage['diskusage'], "the large server's UsageUpdate left server 1's services alone");
            step('hostmenow', 'UsageUpdate', sprintf('success: %d services of one server in one request, %.2f s', count($bulk), $took));
        }

        // ClientArea: the overview template and what it is given.
        $template = __DIR__ . '/../modules/servers/sandboxed/templates/clientarea.tpl';
        expect(is_file($template), 'the module ships templates/clientarea.tpl');
        $tpl = (string) file_get_contents($template);
        foreach ([4001 => 'hostmenow', 4003 => 'webline', 4004 => 'logicboxes'] as $id => $provider) {
            $page = sandboxed_ClientArea(platform_params($id));
            expect($page['templatefile'] === 'templates/clientarea' && is_array($page['vars']['sandboxed'] ?? null), "{$provider} ClientArea: " . json_encode($page));
            $vars = $page['vars']['sandboxed'];
            expect($vars['error'] === null, "{$provider} ClientArea read everything: " . (string) $vars['error']);
            preg_match_all('/\$sandboxed\.([a-z_]+)/', $tpl, $used);
            foreach (array_unique($used[1]) as $name) {
                expect(array_key_exists($name, $vars), "the template's \$sandboxed.{$name} is given");
            }
            $pageText = 'status ' . $vars['status'] . ' (' . $vars['status_source'] . ')';
            foreach ($vars['usage'] as $figure) {
                $pageText .= ', ' . $figure['name'] . ' ' . $figure['used'] . '/' . $figure['limit'] . ' ' . $figure['unit'];
            }
            step($provider, 'ClientArea', $pageText . ($vars['sso'] ? ', sign-on button' : ''));
        }
        $hmnPage = sandboxed_ClientArea(platform_params(4001))['vars']['sandboxed'];
        $byName = array_column($hmnPage['usage'], null, 'name');
        expect(($byName['Disk']['limit'] ?? null) === '20000' && $byName['Disk']['unlimited'] === false, 'HostMeNow disk with its limit: ' . json_encode($byName));
        expect(($byName['Bandwidth']['limit'] ?? null) === 'unlimited' && $byName['Bandwidth']['unlimited'] === true, 'HostMeNow bandwidth unlimited, said as such');
        expect($hmnPage['sso'] === true && $hmnPage['status'] === 'Active' && $hmnPage['status_source'] === 'whmcs', 'HostMeNow: the sign-on button, WHMCS status (no status call)');
        $weblinePage = sandboxed_ClientArea(platform_params(4003))['vars']['sandboxed'];
        expect($weblinePage['status'] === 'active' && $weblinePage['status_source'] === 'provider' && $weblinePage['sso'] === false && $weblinePage['usage'] === [], "Webline: the provider's status, no sign-on, no usage");
        expect(str_contains($tpl, 'Unlimited') && str_contains($tpl, 'dosinglesignon=1'), 'the template says unlimited and posts the sign-on to WHMCS');
        $down = sandboxed_ClientArea(['serverpassword' => 'not-the-token-4242'] + platform_params(4001))['vars']['sandboxed'];
        expect($down['error'] === 'The service details could not be read right now (unauthorized).', 'a failure is a line of the page, no secret: ' . (string) $down['error']);

        // ServiceSingleSignOn.
        foreach (SERVICES as $provider => $id) {
            $result = sandboxed_ServiceSingleSignOn(platform_params($id));
            if (in_array('sso', SUPPORTS[$provider], true)) {
                expect(($result['success'] ?? null) === true && str_starts_with((string) ($result['redirectTo'] ?? ''), 'https://'), "{$provider} SSO: " . json_encode($result));
                $secrets[] = $result['redirectTo'];
                step($provider, 'ServiceSingleSignOn', 'success: redirect to ' . parse_url($result['redirectTo'], PHP_URL_HOST));
            } else {
                expect(($result['success'] ?? null) === false && str_starts_with((string) ($result['errorMsg'] ?? ''), 'unsupported: '), "{$provider} SSO: " . json_encode($result));
                step($provider, 'ServiceSingleSignOn', $result['errorMsg']);
            }
        }

        // A module swapped under live products: HostMeNow's next release
        // declares a product setting (quantity) in front of ip-address. The
        // products keep their values where they were; the new setting takes
        // a slot of its own, after them.
        $oldVersion = get_json("{$url}/v1/modules/hostmenow", $token)['info']['version'];
        expect(rename(env('WHMCS_NEXT_MANIFEST'), env('WHMCS_MANIFEST')), 'the next manifest replaces the live one');
        $deadline = microtime(true) + 20;
        while (($version = get_json("{$url}/v1/modules/hostmenow", $token)['info']['version']) === $oldVersion) {
            expect(microtime(true) < $deadline, "serve did not swap HostMeNow's module in 20 s");
            usleep(50_000);
        }
        // A new WHMCS page: nothing remembered from before the swap.
        SandboxedRequestCache::$modules = [];
        add_service(4008, 7, 1, 'Pending', 'dedicated.example.com', 'dedicatedx', 'Hmn-Dedicated-Pw1!');
        $secrets[] = 'Hmn-Dedicated-Pw1!';
        expect_result('hostmenow', "CreateAccount ({$version})", sandboxed_CreateAccount(platform_params(4008)), null);
        // The product's page, once a call has seen the new version.
        $dedicated = row('tblproducts', 7);
        $labels = array_keys(product_page($dedicated));
        expect(array_slice($labels, 0, 4) === ['Module', 'Package', 'Dedicated IP address', 'Quantity'], 'the product page after the swap keeps ip-address in option 3 and adds Quantity as option 4: ' . implode(', ', $labels));
        expect($dedicated['configoption3'] === '10.1.2.3', 'the product still has its IP address in option 3');
        // The admin fills the new setting; it reaches HostMeNow as qty.
        Capsule::table('tblproducts')->where('id', 7)->update(['configoption4' => '2']);
        add_service(4009, 7, 1, 'Pending', 'dedicated2.example.com', 'dedicated2x', 'Hmn-Dedicated-Pw2!');
        $secrets[] = 'Hmn-Dedicated-Pw2!';
        expect_result('hostmenow', "CreateAccount ({$version})", sandboxed_CreateAccount(platform_params(4009)), null);
        $creates = array_column(array_map(
            static fn (array $r): array => $r['params'],
            array_filter(get_json(env('SANDBOX_ORIGIN') . '/_sandbox/hostmenow/requests'), static fn (array $r): bool => $r['action'] === 'CreateAccount')
        ), null, 'serviceid');
        expect(($creates['4008']['ip_address'] ?? null) === '10.1.2.3' && ($creates['4008']['qty'] ?? null) === '1', "after the swap the product's IP address reached HostMeNow, quantity its default: " . json_encode($creates['4008'] ?? null));
        expect(($creates['4009']['ip_address'] ?? null) === '10.1.2.3' && ($creates['4009']['qty'] ?? null) === '2', 'the new setting reached HostMeNow from its own slot: ' . json_encode($creates['4009'] ?? null));
        $slots = json_decode((string) Capsule::table('tblconfiguration')->where('setting', 'SandboxedSettingSlots')->value('value'), true);
        expect(($slots['hostmenow'] ?? null) === ['ip-address' => 3, 'quantity' => 4], 'the slots are pinned by name: ' . json_encode($slots));
        foreach ([4008, 4009] as $id) {
            expect_result('hostmenow', 'TerminateAccount', sandboxed_TerminateAccount(platform_params($id)), null);
            set_service($id, ['domainstatus' => 'Terminated']);
        }
        step('hostmenow', 'module swap', "{$oldVersion} -> {$version} under a live product: ip-address stayed in option 3 (10.1.2.3 reached HostMeNow), quantity took option 4 (qty 2 reached HostMeNow)");

        // TerminateAccount.
        foreach (SERVICES as $provider => $id) {
            $supported = in_array('terminate', SUPPORTS[$provider], true);
            expect_result($provider, 'TerminateAccount', sandboxed_TerminateAccount(platform_params($id)), $supported ? null : 'unsupported');
            if ($supported) {
                set_service($id, ['domainstatus' => 'Terminated']);
                $state = provider_state($provider, $id);
                expect(in_array($state, ['terminated', 'cancelled', 'absent'], true), "{$provider} terminated the service: {$state}");
            }
        }

        // Nothing a caller still has to pick up: every answer was kept.
        $pending = get_json("{$url}/v1/journal/pending", $token)['pending'];
        expect($pending === [], 'journal entries left pending: ' . implode(', ', array_column($pending, 'id')));
        step('-', 'journal', 'nothing pending');
        $widget = run_hook('AdminHomeWidgets')[0];
        expect(str_contains($widget->generateOutput($widget->getData()), 'provisioning serve</strong><p>Nothing pending.</p>'), 'the widget says nothing is pending');

        // No secret in the module log, once WHMCS has replaced $replaceVars.
        $log = $GLOBALS['platform_module_log'];
        expect(count($log) > 20, 'the module logged its calls');
        $creates = array_filter($log, static fn (array $e): bool => $e['action'] === 'CreateAccount');
        expect($creates !== [] && str_contains(implode('', array_column($creates, 'request')), '/v1/modules/hostmenow/call'), 'the log shows the calls');
        foreach ($log as $number => $entry) {
            foreach (array_filter(array_unique($secrets)) as $secret) {
                foreach (['request', 'response', 'processed'] as $field) {
                    expect(!str_contains($entry[$field], $secret), "module log entry {$number} ({$entry['action']}) shows a secret in its {$field}");
                }
            }
        }
        step('-', 'module log', count($log) . ' entries, no secret after replacement');
    }

    require_once __DIR__ . '/../modules/servers/sandboxed/sandboxed.php';
    require_once __DIR__ . '/../modules/servers/sandboxed/hooks.php';

    try {
        main();
        echo "ok: the WHMCS platform test passed\n";
        exit(0);
    } catch (Throwable $failure) {
        fwrite(STDERR, 'FAILED: ' . $failure->getMessage() . "\n");
        if (!$failure instanceof PlatformFailure) {
            fwrite(STDERR, $failure->getTraceAsString() . "\n");
        }
        exit(1);
    }
}
