<?php

/**
 * FOSSBilling server manager "Sandboxed": a bridge from FOSSBilling's hosting
 * services to `provisioning serve`.
 *
 * Every provider module runs as a WebAssembly component inside the
 * provisioning host; this file holds no provider code. It turns FOSSBilling's
 * `Server_Account` into the contract's service record, calls the host's JSON
 * API (`POST /v1/modules/{module}/call`, see host/cli/openapi.json) and
 * answers FOSSBilling the way a server manager does: `true`, or a
 * `Server_Exception`.
 *
 * The server record (Hosting > Servers): hostname or IP, port and "secure"
 * say where serve listens; the access hash (or else the password) is serve's
 * token; the username is the module's name in serve's manifest. The module's
 * server settings (endpoint, credentials) come from the manifest only: serve
 * refuses a call that brings one. Its product settings come per hosting plan
 * from the plan's custom values, by setting name, as the modules' `info`
 * lists them, so a new provider module needs no change here.
 *
 * Where FOSSBilling and the contract differ:
 * - A `Server_Account` carries no service id and no provider id. The
 *   account's username is the service's key (`service_id`
 *   "fossbilling-<username>"), and the provider's id is asked of the host's
 *   journal (`GET /v1/modules/{module}/services/{service}/remote-id`), which
 *   holds it from the create. Without a journal in serve's manifest every
 *   call on an account fails, saying so: there would be no id to act on.
 * - FOSSBilling generates the username and password itself and ignores what
 *   `createAccount` returns. Credentials a provider generates (a hosting
 *   account's username and password, a password reset) are
 *   therefore left in serve's journal, its entry not acknowledged: the
 *   operator reads them with `provisioning journal pending` (or `GET
 *   /v1/journal/pending`), hands them to the client, then acknowledges the
 *   entry. The order's log says so, naming the entry, never the secret.
 * - FOSSBilling keeps no password after activation (it stores asterisks),
 *   so later calls carry none.
 * - A function the module does not support raises a `Server_Exception`
 *   with the module's own `unsupported` answer, which names the provider's
 *   limitation; the two the contract has not (username and IP changes) are
 *   refused without a call.
 *
 * Idempotency: create-account carries "fossbilling-<username>-create" (plus
 * "-after-<remote id>" once the service had an account before, so that
 * FOSSBilling's uncancel creates anew), or the key of a create of the same
 * service still pending in the journal, so that a retry after a lost answer
 * is answered from the journal rather than creating twice. Cancel carries
 * "fossbilling-<username>-cancel-<remote id>". A call whose outcome is
 * unknown is left to the operator, its entry named in the exception.
 *
 * @see https://github.com/FOSSBilling/FOSSBilling/blob/main/src/library/Server/Manager.php
 */
class Server_Manager_Sandboxed extends Server_Manager
{
    /** Default port of `provisioning serve`. */
    private const DEFAULT_PORT = 8790;

    /** What FOSSBilling stores in place of a password it no longer keeps. */
    private const MASKED_PASSWORD = '/^\*+$/';

    /** @var array<string, mixed>|null the module's description, read once per manager */
    private ?array $module = null;

    /**
     * The server form, from the modules' `info` as the host last described
     * them (FOSSBilling calls this statically, without a server: the
     * manager keeps what it last read in its cache file).
     *
     * @return array<string, mixed>
     */
    public static function getForm(): array
    {
        $modules = self::cachedModules();
        $fields = [
            ['name' => 'username', 'type' => 'text', 'label' => 'Module (its name in serve\'s manifest)',
                'placeholder' => $modules === [] ? 'A module of serve\'s manifest' : implode(', ', array_keys($modules)), 'required' => true],
            ['name' => 'accesshash', 'type' => 'password', 'label' => 'provisioning serve token',
                'placeholder' => 'The bearer token serve was started with', 'required' => true],
        ];
        // No field for the modules' server settings: they are serve's
        // manifest's (a call that brings one is refused), never FOSSBilling's.
        return ['label' => 'Sandboxed provisioning modules', 'form' => ['credentials' => ['fields' => $fields]]];
    }

    /** Checks the server record: where serve is, its token, the module. */
    public function init(): void
    {
        foreach (['host' => 'hostname or IP', 'username' => 'module name (username)'] as $key => $what) {
            if (empty($this->_config[$key]) && !($key === 'host' && !empty($this->_config['ip']))) {
                throw new Server_Exception('The ":server_manager" server manager is not fully configured. Please configure the :missing',
                    [':server_manager' => 'Sandboxed', ':missing' => $what], 2001);
            }
        }
        if (trim((string) ($this->_config['accesshash'] ?: $this->_config['password'])) === '') {
            throw new Server_Exception('The ":server_manager" server manager is not fully configured. Please configure the :missing',
                [':server_manager' => 'Sandboxed', ':missing' => 'serve token (access hash)'], 2001);
        }
    }

    /**
     * A single sign-on URL into the provider's panel where the module can
     * make one; without an account (FOSSBilling's server list) there is no
     * panel to name.
     */
    public function getLoginUrl(?Server_Account $account = null): string
    {
        if ($account === null) {
            return '';
        }
        $answer = $this->callModule('getLoginUrl', ['function' => 'single-sign-on', 'service' => $this->service($account)], $account, null);
        return (string) $answer['value'];
    }

    /** The same as getLoginUrl: the contract knows no reseller panel. */
    public function getResellerLoginUrl(?Server_Account $account = null): string
    {
        return $this->getLoginUrl($account);
    }

    /** The module's test-connection against its provider. */
    public function testConnection(): bool
    {
        $this->callModule('testConnection', ['function' => 'test-connection'], null, null);
        return true;
    }

    /**
     * The provider's state of the account (service-status): suspended or
     * not. Username and IP are FOSSBilling's own and stay as they are.
     */
    public function synchronizeAccount(Server_Account $account): Server_Account
    {
        $answer = $this->callModule('synchronizeAccount', ['function' => 'service-status', 'service' => $this->service($account)], $account, null);
        $updated = clone $account;
        $state = self::kebab((string) ($answer['value']['state'] ?? ''));
        if (in_array($state, ['active', 'suspended'], true)) {
            $updated->setSuspended($state === 'suspended');
        }
        return $updated;
    }

    /**
     * Creates the account. FOSSBilling ignores the return value, so what
     * the provider issued beyond the remote id (generated credentials) is
     * left in the journal for the operator; the order's log names the entry.
     */
    public function createAccount(Server_Account $account): bool
    {
        $service = $this->service($account);
        $key = $this->pendingCreateKey($service['service_id']);
        if ($key === null) {
            $previous = $service['remote_id'];
            $key = 'fossbilling-' . $account->getUsername() . '-create' . ($previous !== null ? '-after-' . $previous : '');
            // A new account: the previous one's id is not this one's.
            $service['remote_id'] = null;
        }
        $this->callModule('createAccount', ['function' => 'create-account', 'service' => $service], $account, $key);
        return true;
    }

    public function suspendAccount(Server_Account $account): bool
    {
        $note = trim((string) $account->getNote());
        $this->callModule('suspendAccount', ['function' => 'suspend', 'service' => $this->service($account),
            'reason' => $note === '' ? null : $note], $account, null);
        return true;
    }

    public function unsuspendAccount(Server_Account $account): bool
    {
        $this->callModule('unsuspendAccount', ['function' => 'unsuspend', 'service' => $this->service($account)], $account, null);
        return true;
    }

    public function cancelAccount(Server_Account $account): bool
    {
        $service = $this->service($account);
        $key = $service['remote_id'] === null ? null : 'fossbilling-' . $account->getUsername() . '-cancel-' . $service['remote_id'];
        $this->callModule('cancelAccount', ['function' => 'terminate', 'service' => $service], $account, $key);
        return true;
    }

    /** Moves the account to the new hosting plan's package (its custom value `package`). */
    public function changeAccountPackage(Server_Account $account, Server_Package $package): bool
    {
        $this->callModule('changeAccountPackage', ['function' => 'change-package', 'service' => $this->service($account),
            'new_package' => (string) ($package->getCustomValue('package') ?? '')], $account, null, $package);
        return true;
    }

    /** The contract has no username change: refused, nothing sent. */
    public function changeAccountUsername(Server_Account $account, string $newUsername): bool
    {
        throw new Server_Exception('Sandboxed provisioning modules cannot change an account\'s username: the provisioning contract has no such function, so no provider module can do it');
    }

    public function changeAccountDomain(Server_Account $account, string $newDomain): bool
    {
        $this->callModule('changeAccountDomain', ['function' => 'change-domain', 'service' => $this->service($account),
            'new_domain' => $newDomain], $account, null);
        return true;
    }

    /**
     * Sets the new password. A provider that can only reset a password
     * generates one; FOSSBilling cannot keep it, so it waits in the journal
     * for the operator like a create's credentials.
     */
    public function changeAccountPassword(Server_Account $account, string $newPassword): bool
    {
        $this->callModule('changeAccountPassword', ['function' => 'change-password', 'service' => $this->service($account),
            'new_password' => $newPassword], $account, null, null, [$newPassword]);
        return true;
    }

    /** The contract has no IP change: refused, nothing sent. */
    public function changeAccountIp(Server_Account $account, string $newIp): bool
    {
        throw new Server_Exception('Sandboxed provisioning modules cannot change an account\'s IP address: the provisioning contract has no such function, so no provider module can do it');
    }

    // ---- The call ------------------------------------------------------------

    /**
     * Runs one function of the module and answers its `ok`; a refusal (an
     * unsupported function among them) or an unknown outcome is a
     * Server_Exception.
     * Acknowledges the journal entry unless the answer holds credentials
     * FOSSBilling cannot keep, or the outcome is unknown.
     *
     * @param array<string, mixed> $request the contract's request
     * @param list<string>         $secrets further values to keep out of messages
     *
     * @return array<string, mixed>
     */
    private function callModule(string $action, array $request, ?Server_Account $account, ?string $key, ?Server_Package $package = null, array $secrets = []): array
    {
        $secrets[] = $this->token();
        if ($account !== null && $this->knownPassword($account) !== null) {
            $secrets[] = (string) $account->getPassword();
        }
        $module = $this->moduleName();
        $info = $this->module()['info'];
        $body = ['request' => $request];
        $settings = $this->settings($info, $package ?? $account?->getPackage());
        if ($settings !== []) {
            $body['settings'] = $settings;
        }
        if ($key !== null) {
            $body['idempotency_key'] = $key;
        }
        $result = $this->http('POST', '/v1/modules/' . rawurlencode($module) . '/call', $body, $secrets);
        $entry = isset($result['journal_entry']) ? (int) $result['journal_entry'] : null;
        if (isset($result['error'])) {
            $error = $result['error'];
            $kind = (string) ($error['kind'] ?? 'error');
            $message = self::mask($kind . ': ' . self::errorMessage($error, $module), $secrets);
            if ($entry !== null && (bool) ($error['uncertain'] ?? false)) {
                $message .= " (whether the provider acted is unknown: check it, then resolve journal entry {$entry} as done or not done"
                    . ' with `provisioning journal ack --found-done` or `--found-not-done` before retrying)';
            } elseif ($entry !== null && !in_array($kind, ['outcome-unknown', 'in-progress'], true)) {
                // A refusal: nothing happened, and the journal knows it.
                $this->acknowledge($entry, $secrets);
            }
            throw new Server_Exception($message);
        }
        $answer = (array) ($result['ok'] ?? []);
        // A credential that is the remote id (a license key) stays readable
        // through the journal's remote-id route; anything else would be lost.
        $remote = (string) ($answer['value']['remote_id'] ?? '');
        $issued = array_values(array_filter((array) ($answer['value']['credentials'] ?? []),
            static fn ($c): bool => is_array($c) && (string) ($c['value'] ?? '') !== ''
                && ((bool) ($c['secret'] ?? true) || (string) $c['value'] !== $remote)));
        if ($entry !== null && $issued !== []) {
            // FOSSBilling keeps nothing a manager returns: the credentials stay
            // sealed in the journal until the operator has handed them over.
            $names = implode(', ', array_map(static fn (array $c): string => (string) $c['name'], $issued));
            $this->getLog()->info(sprintf('%s of %s: the provider issued %s, which FOSSBilling cannot keep; they are in'
                . ' journal entry %d of provisioning serve: read them with `provisioning journal pending`, give them to the'
                . ' client, then acknowledge the entry', $action, $account?->getDomain() ?? $module, $names, $entry));
        } elseif ($entry !== null) {
            $this->acknowledge($entry, $secrets);
        }
        return $answer;
    }

    /**
     * The key of a create of this service still pending in the journal (a
     * retry after a lost answer gets its recorded answer), or null.
     */
    private function pendingCreateKey(string $serviceId): ?string
    {
        $pending = $this->http('GET', '/v1/journal/pending', null, [$this->token()])['pending'] ?? [];
        foreach (array_reverse($pending) as $entry) {
            $intent = $entry['intent'] ?? [];
            if (($intent['module'] ?? '') === $this->moduleName() && ($intent['function'] ?? '') === 'create-account'
                && ($intent['service_id'] ?? '') === $serviceId) {
                return (string) $intent['idempotency_key'];
            }
        }
        return null;
    }

    /** Acknowledges an entry; one acknowledged already is fine. */
    private function acknowledge(int $entry, array $secrets): void
    {
        try {
            $this->http('POST', "/v1/journal/{$entry}/ack", new stdClass(), $secrets);
        } catch (Server_Exception $failure) {
            if (!str_contains($failure->getMessage(), 'not-pending')) {
                $this->getLog()->err("acknowledging journal entry {$entry} failed: " . $failure->getMessage());
            }
        }
    }

    /**
     * The contract's service record of a FOSSBilling account.
     *
     * @return array<string, mixed>
     */
    private function service(Server_Account $account): array
    {
        $username = trim((string) $account->getUsername());
        if ($username === '') {
            throw new Server_Exception('the account has no username, which is how the host knows the service');
        }
        $serviceId = 'fossbilling-' . $username;
        $package = $account->getPackage();
        return [
            'service_id' => $serviceId,
            'remote_id' => $this->remoteId($serviceId),
            'domain' => self::text($account->getDomain()),
            'username' => $username,
            'password' => $this->knownPassword($account),
            'package' => self::text($package->getCustomValue('package')),
            'billing_cycle' => self::text($package->getCustomValue('billing_cycle')),
            'client' => self::client($account->getClient()),
            'custom_fields' => [],
        ];
    }

    /** The remote id the journal holds for the service, or null. */
    private function remoteId(string $serviceId): ?string
    {
        $path = '/v1/modules/' . rawurlencode($this->moduleName()) . '/services/' . rawurlencode($serviceId) . '/remote-id';
        try {
            $answer = $this->http('GET', $path, null, [$this->token()]);
        } catch (Server_Exception $failure) {
            throw new Server_Exception('the host cannot tell the provider\'s id of this account (FOSSBilling keeps none): '
                . $failure->getMessage() . '; serve needs a [journal] in its manifest');
        }
        return self::text($answer['remote_id'] ?? null);
    }

    /** The account's password, unless FOSSBilling only has asterisks for it. */
    private function knownPassword(Server_Account $account): ?string
    {
        $password = (string) $account->getPassword();
        return $password === '' || preg_match(self::MASKED_PASSWORD, $password) ? null : $password;
    }

    /**
     * The contract's contact from a Server_Client: the full name split at
     * its first space, the street as the address.
     *
     * @return array<string, string|null>|null
     */
    private static function client(?Server_Client $client): ?array
    {
        if ($client === null || self::text($client->getEmail()) === null) {
            return null;
        }
        $name = preg_split('/\s+/', trim((string) $client->getFullName()), 2) ?: [''];
        $phone = self::text(preg_replace('/[\s.\-()]/', '', (string) $client->getTelephone()));
        return [
            'first_name' => (string) $name[0],
            'last_name' => (string) ($name[1] ?? ''),
            'company' => self::text($client->getCompany()),
            'email' => (string) $client->getEmail(),
            'phone' => $phone,
            'address' => self::text($client->getStreet() ?? $client->getAddress1()),
            'city' => self::text($client->getCity()),
            'state' => self::text($client->getState()),
            'postcode' => self::text($client->getZip()),
            'country' => self::text($client->getCountry()),
            'language' => null,
        ];
    }

    /**
     * Per-call settings: the hosting plan's custom values for the module's
     * product settings, and nothing else (serve refuses a call that brings
     * a server setting); the rest is the manifest's.
     *
     * @param array<string, mixed> $info the module's info
     *
     * @return list<array{name: string, value: string}>
     */
    private function settings(array $info, ?Server_Package $package): array
    {
        $settings = [];
        foreach ($info['settings'] as $spec) {
            if ($spec['scope'] !== 'product') {
                continue;
            }
            $name = (string) $spec['name'];
            $value = $package?->getCustomValue($name);
            if (self::text($value) !== null) {
                $settings[] = ['name' => $name, 'value' => trim((string) $value)];
            }
        }
        return $settings;
    }

    // ---- The host ------------------------------------------------------------

    /** The module's name in serve's manifest: the server's username. */
    private function moduleName(): string
    {
        return trim((string) $this->_config['username']);
    }

    private function token(): string
    {
        return trim((string) ($this->_config['accesshash'] ?: $this->_config['password']));
    }

    /**
     * The module as serve describes it (`GET /v1/modules/{module}`), its
     * enums in kebab case; kept in the cache file getForm reads.
     *
     * @return array{name: string, info: array<string, mixed>}
     */
    private function module(): array
    {
        if ($this->module === null) {
            $described = $this->http('GET', '/v1/modules/' . rawurlencode($this->moduleName()), null, [$this->token()]);
            $this->module = ['name' => $this->moduleName(), 'info' => self::normalizeInfo((array) ($described['info'] ?? []))];
            $cached = self::cachedModules();
            $cached[$this->module['name']] = $this->module;
            ksort($cached);
            @file_put_contents(self::cacheFile(), json_encode($cached, JSON_UNESCAPED_SLASHES), LOCK_EX);
        }
        return $this->module;
    }

    /** @return array<string, array{name: string, info: array<string, mixed>}> */
    private static function cachedModules(): array
    {
        $text = @file_get_contents(self::cacheFile());
        $cached = is_string($text) ? json_decode($text, true) : null;
        return is_array($cached) ? $cached : [];
    }

    private static function cacheFile(): string
    {
        $dir = defined('PATH_CACHE') ? PATH_CACHE : sys_get_temp_dir();
        return rtrim((string) $dir, '/\\') . DIRECTORY_SEPARATOR . 'sandboxed-modules.json';
    }

    /**
     * One request to serve: the decoded JSON of a 200, else a
     * Server_Exception with the API's error kind and message.
     *
     * @param list<string> $secrets values to keep out of messages
     *
     * @return array<string, mixed>
     */
    private function http(string $method, string $path, array|object|null $body, array $secrets): array
    {
        if (!function_exists('curl_init')) {
            throw new Server_Exception("PHP's curl extension is not installed");
        }
        $host = (string) ($this->_config['host'] ?: $this->_config['ip']);
        if (str_contains($host, ':') && !str_starts_with($host, '[')) {
            $host = '[' . $host . ']';
        }
        $secure = (bool) $this->_config['secure'];
        $port = (int) ($this->_config['port'] ?: ($secure ? 443 : self::DEFAULT_PORT));
        $where = ($secure ? 'https' : 'http') . "://{$host}:{$port}";
        $handle = curl_init($where . $path);
        $headers = ['Authorization: Bearer ' . $this->token(), 'Accept: application/json'];
        $options = [CURLOPT_RETURNTRANSFER => true, CURLOPT_CUSTOMREQUEST => $method, CURLOPT_CONNECTTIMEOUT => 5,
            CURLOPT_TIMEOUT => 120, CURLOPT_FOLLOWLOCATION => false, CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS];
        if ($body !== null) {
            $headers[] = 'Content-Type: application/json';
            $options[CURLOPT_POSTFIELDS] = json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
        }
        $options[CURLOPT_HTTPHEADER] = $headers;
        curl_setopt_array($handle, $options);
        $raw = curl_exec($handle);
        $error = curl_error($handle);
        $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        curl_close($handle);
        if ($raw === false) {
            throw new Server_Exception(self::mask("could not reach provisioning serve at {$where}: {$error}", $secrets));
        }
        $decoded = json_decode((string) $raw, true);
        if (!is_array($decoded)) {
            throw new Server_Exception("provisioning serve at {$where} answered HTTP {$status} with something that is not JSON");
        }
        if ($status !== 200) {
            $kind = (string) ($decoded['error']['kind'] ?? 'http-' . $status);
            $message = (string) ($decoded['error']['message'] ?? "HTTP {$status}");
            throw new Server_Exception(self::mask("{$kind}: provisioning serve refused {$method} {$path} (HTTP {$status}): {$message}", $secrets));
        }
        return $decoded;
    }

    // ---- Small helpers --------------------------------------------------------

    /** A call's error message without the host's "module: kind: " prefix. */
    private static function errorMessage(array $error, string $module): string
    {
        $kind = (string) ($error['kind'] ?? '');
        $message = (string) ($error['message'] ?? '');
        foreach (["{$module}: {$kind}: ", "{$module}: "] as $prefix) {
            if (str_starts_with($message, $prefix)) {
                return substr($message, strlen($prefix));
            }
        }
        return $message;
    }

    /** @param array<string, mixed> $info */
    private static function normalizeInfo(array $info): array
    {
        $info['name'] = (string) ($info['name'] ?? '');
        $info['functions'] = array_map([self::class, 'kebab'], $info['functions'] ?? []);
        $info['settings'] = array_map(static function (array $spec): array {
            $spec['kind'] = self::kebab((string) ($spec['kind'] ?? 'text'));
            $spec['scope'] = self::kebab((string) ($spec['scope'] ?? 'server'));
            return $spec;
        }, $info['settings'] ?? []);
        return $info;
    }

    /** "TestConnection" → "test-connection"; kebab case stays as it is. */
    private static function kebab(string $name): string
    {
        return strtolower((string) preg_replace('/(?<=[a-z0-9])(?=[A-Z])/', '-', $name));
    }

    /** Masks secrets in a message, plain and JSON-escaped. */
    private static function mask(string $text, array $secrets): string
    {
        foreach ($secrets as $secret) {
            $secret = (string) $secret;
            if ($secret !== '') {
                $text = str_replace([$secret, substr((string) json_encode($secret), 1, -1)], '***', $text);
            }
        }
        return $text;
    }

    private static function text(mixed $value): ?string
    {
        if (!is_scalar($value)) {
            return null;
        }
        $value = trim((string) $value);
        return $value === '' ? null : $value;
    }
}
