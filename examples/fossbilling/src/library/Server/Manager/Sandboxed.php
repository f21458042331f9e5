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
 * - A `Server_Account` carries no id (checked against FOSSBilling 0.8.5 and
 *   main), and its username is not unique: FOSSBilling makes it of seven
 *   characters of the domain and one random digit, checks nothing, and an
 *   order's configuration or an admin can give two services the same one.
 *   What FOSSBilling keeps unique for a hosting service is its order: the
 *   order's id reaches a manager only in the context of the order's logger
 *   (`Servicehosting\Service::getServerManagerWithLog`), and that is the
 *   service's key here (`service_id` "fossbilling-order-<id>"; an account
 *   made when services were keyed "fossbilling-<username>" keeps that key,
 *   found if its create named the account's domain). A call on
 *   an account without it is refused, so that no call can reach another
 *   service's account. The provider's id is asked of the host's journal
 *   (`GET /v1/modules/{module}/services/{service}/remote-id`); without a
 *   journal in serve's manifest every call on an account fails, saying so.
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
 * - The logger is FOSSBilling 0.8.5's `Box_Log` or main's PSR-3
 *   `FOSSBilling\Logger`: only the methods both have (`info`, `error`).
 *
 * Idempotency: create-account carries "fossbilling-order-<id>-create"
 * (plus "-after-<remote id>" once the order had an account, so that
 * FOSSBilling's uncancel creates anew), or the key of the order's create
 * still pending in the journal, so that a retry after a lost answer is
 * answered from the journal rather than creating twice. Cancel carries
 * "fossbilling-order-<id>-cancel-<remote id>". A call whose outcome is
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

    /**
     * Country calling codes by ISO 3166 code: FOSSBilling keeps the
     * client's `phone_cc` apart and gives a manager only the national
     * number (`Server_Client::getTelephone`), with the client's country.
     */
    private const CALLING_CODES = 'AD376 AE971 AF93 AG1 AI1 AL355 AM374 AO244 AR54 AS1 AT43 AU61 AW297 AX358 AZ994 BA387 BB1 BD880 BE32 '
        . 'BF226 BG359 BH973 BI257 BJ229 BL590 BM1 BN673 BO591 BQ599 BR55 BS1 BT975 BW267 BY375 BZ501 CA1 CC61 CD243 CF236 CG242 '
        . 'CH41 CI225 CK682 CL56 CM237 CN86 CO57 CR506 CU53 CV238 CW599 CX61 CY357 CZ420 DE49 DJ253 DK45 DM1 DO1 DZ213 EC593 EE372 '
        . 'EG20 EH212 ER291 ES34 ET251 FI358 FJ679 FK500 FM691 FO298 FR33 GA241 GB44 GD1 GE995 GF594 GG44 GH233 GI350 GL299 GM220 '
        . 'GN224 GP590 GQ240 GR30 GT502 GU1 GW245 GY592 HK852 HN504 HR385 HT509 HU36 ID62 IE353 IL972 IM44 IN91 IO246 IQ964 IR98 '
        . 'IS354 IT39 JE44 JM1 JO962 JP81 KE254 KG996 KH855 KI686 KM269 KN1 KP850 KR82 KW965 KY1 KZ7 LA856 LB961 LC1 LI423 LK94 '
        . 'LR231 LS266 LT370 LU352 LV371 LY218 MA212 MC377 MD373 ME382 MF590 MG261 MH692 MK389 ML223 MM95 MN976 MO853 MP1 MQ596 '
        . 'MR222 MS1 MT356 MU230 MV960 MW265 MX52 MY60 MZ258 NA264 NC687 NE227 NF672 NG234 NI505 NL31 NO47 NP977 NR674 NU683 NZ64 '
        . 'OM968 PA507 PE51 PF689 PG675 PH63 PK92 PL48 PM508 PR1 PS970 PT351 PW680 PY595 QA974 RE262 RO40 RS381 RU7 RW250 SA966 '
        . 'SB677 SC248 SD249 SE46 SG65 SH290 SI386 SJ47 SK421 SL232 SM378 SN221 SO252 SR597 SS211 ST239 SV503 SX1 SY963 SZ268 TC1 '
        . 'TD235 TG228 TH66 TJ992 TK690 TL670 TM993 TN216 TO676 TR90 TT1 TV688 TW886 TZ255 UA380 UG256 US1 UY598 UZ998 VA39 VC1 '
        . 'VE58 VG1 VI1 VN84 VU678 WF681 WS685 XK383 YE967 YT262 ZA27 ZM260 ZW263';

    /** Countries whose national numbers keep their leading 0 after the country code. */
    private const KEEP_TRUNK_ZERO = ['IT', 'SM', 'VA'];

    /** @var array<string, mixed>|null the module's description, read once per manager */
    private ?array $module = null;

    /** How many loggers were set on this manager; the order's is set over the container's. */
    private int $logsSet = 0;

    /** The order FOSSBilling acts for, as its logger named it when Servicehosting set it. */
    private ?string $order = null;

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
     * The provider's state of the account (service-status). FOSSBilling's
     * sync reads back only the username and IP (both its own, returned as
     * they are), so the state goes to the order's log, where the admin sees
     * it; an account the provider no longer has active or suspended is an
     * error, so that the sync does not look fine.
     */
    public function synchronizeAccount(Server_Account $account): Server_Account
    {
        $answer = $this->callModule('synchronizeAccount', ['function' => 'service-status', 'service' => $this->service($account)], $account, null);
        $state = (string) ($answer['value']['state'] ?? '');
        $this->getLog()->info(sprintf('synchronizeAccount of %s: the provider reports the account %s', (string) $account->getDomain(), $state));
        if (!in_array($state, ['active', 'suspended', 'pending'], true)) {
            throw new Server_Exception('the provider reports the account of :domain :state',
                [':domain' => (string) $account->getDomain(), ':state' => $state]);
        }
        $updated = clone $account;
        if ($state !== 'pending') {
            $updated->setSuspended($state === 'suspended');
        }
        return $updated;
    }

    /**
     * Creates the account. FOSSBilling ignores the return value, so what
     * the provider issued beyond the remote id (generated credentials) is
     * left in the journal for the operator; the order's log names the entry.
     * An order that has an account already (created, not terminated since)
     * gets no second one: uncancel creates anew only after a cancel.
     */
    public function createAccount(Server_Account $account): bool
    {
        $service = $this->service($account, false);
        if ($service['remote_id'] !== null && !($this->createdService($service['service_id'])['terminated'] ?? false)) {
            // FOSSBilling lost the create's answer after the provider made the account (0.8.5 stores the service
            // only once createAccount has returned): a second create would make a second account.
            throw new Server_Exception('order :order already has an account at the provider (remote id :remote), made by an'
                . ' earlier activation whose end FOSSBilling did not record: activating again would make a second one. Activate'
                . ' it as an import instead (the order\'s configuration `import` set: FOSSBilling records the service without'
                . ' createAccount), then change the service\'s password, which reaches the account',
                [':order' => (string) $this->order, ':remote' => $service['remote_id']]);
        }
        $key = null;
        foreach ($this->pendingCreates($service['service_id']) as $intent) {
            // This order's create, its outcome unknown: the journal answers for it, never a second create.
            $key = (string) $intent['idempotency_key'];
        }
        if ($key === null) {
            $key = $service['service_id'] . '-create' . ($service['remote_id'] !== null ? '-after-' . $service['remote_id'] : '');
            // A new account: the previous one's id is not this one's.
            $service['remote_id'] = null;
        }
        try {
            $this->callModule('createAccount', ['function' => 'create-account', 'service' => $service], $account, $key);
        } catch (Server_Exception $failure) {
            if ($this->getLog() instanceof Psr\Log\LoggerInterface) {
                // FOSSBilling main has kept the username and skips createAccount when the activation is retried.
                throw new Server_Exception($failure->getMessage() . '. FOSSBilling keeps username ":username" for this service and'
                    . ' will not call createAccount again when the activation is retried: the order becomes active whether or not the'
                    . ' provider has the account. Where it has none, activate, then cancel and uncancel the order (uncancel creates it)',
                    [':username' => (string) $account->getUsername()], $failure->getCode());
            }
            throw $failure;
        }
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

    /**
     * Terminates the account. A service no create ever succeeded for (the
     * journal has no account and no create pending) has nothing to cancel:
     * that is said in the order's log and nothing is called, so that
     * FOSSBilling can cancel, then uncancel (create), a service it marked
     * active without an account.
     */
    public function cancelAccount(Server_Account $account): bool
    {
        $service = $this->service($account, false);
        if ($service['remote_id'] === null && ($old = $this->keyedByUsername($account)) !== null) {
            [$service['service_id'], $service['remote_id']] = $old;
        }
        if ($service['remote_id'] === null) {
            if ($this->pendingCreates($service['service_id']) === []) {
                $this->getLog()->info(sprintf('cancelAccount of %s: the provider has no account for this order (no create of it'
                    . ' succeeded), nothing to cancel', (string) $account->getDomain()));
                return true;
            }
            $service = $this->service($account);
        }
        $key = $service['service_id'] . '-cancel-' . $service['remote_id'];
        $this->callModule('cancelAccount', ['function' => 'terminate', 'service' => $service], $account, $key);
        return true;
    }

    /** Moves the account to the new hosting plan's package (its custom value `package`). */
    public function changeAccountPackage(Server_Account $account, Server_Package $package): bool
    {
        $this->callModule('changeAccountPackage', ['function' => 'change-package', 'service' => $this->service($account),
            'new_package' => (string) (self::customValue($package, 'package') ?? '')], $account, null, $package);
        return true;
    }

    /** The contract has no username change: refused, nothing sent. */
    public function changeAccountUsername(Server_Account $account, string $newUsername): bool
    {
        throw new Server_Exception('Sandboxed provisioning modules cannot change an account\'s username: the provisioning contract has no such function, so no provider module can do it');
    }

    /**
     * Moves the account to a new domain; refused for an account keyed by
     * its username (made before services were keyed by order), which is
     * found by its domain and would be lost after the change.
     */
    public function changeAccountDomain(Server_Account $account, string $newDomain): bool
    {
        $service = $this->service($account);
        if (!str_starts_with($service['service_id'], 'fossbilling-order-')) {
            throw new Server_Exception('the account of :domain was created before Sandboxed provisioning modules keyed services by'
                . ' their order, and is found by its domain: its domain cannot change here', [':domain' => (string) $account->getDomain()]);
        }
        $this->callModule('changeAccountDomain', ['function' => 'change-domain', 'service' => $service,
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
     * The service's creates still pending in the journal, oldest first, by
     * entry: their intents (idempotency key, the request without secrets).
     * Only that service's entries are asked of serve.
     *
     * @return array<int, array<string, mixed>>
     */
    private function pendingCreates(string $serviceId): array
    {
        $path = '/v1/modules/' . rawurlencode($this->moduleName()) . '/services/' . rawurlencode($serviceId) . '/pending';
        $creates = [];
        foreach ($this->http('GET', $path, null, [$this->token()])['pending'] ?? [] as $entry) {
            $intent = $entry['intent'] ?? [];
            if (($intent['function'] ?? '') === 'create-account') {
                $creates[(int) $entry['id']] = $intent;
            }
        }
        return $creates;
    }

    /** Acknowledges an entry; one acknowledged already is fine. */
    private function acknowledge(int $entry, array $secrets): void
    {
        try {
            $this->http('POST', "/v1/journal/{$entry}/ack", new stdClass(), $secrets);
        } catch (Server_Exception $failure) {
            if (!str_contains($failure->getMessage(), 'not-pending')) {
                // error(): FOSSBilling 0.8.5's Box_Log and main's PSR-3 logger both have it (err() is 0.8.5's only).
                $this->getLog()->error("acknowledging journal entry {$entry} failed: " . $failure->getMessage());
            }
        }
    }

    /**
     * The contract's service record of a FOSSBilling account, keyed by its
     * order. Unless it is for a create or a cancel, the journal must hold
     * the account's remote id: without one there is no account of this
     * order to act on (FOSSBilling main marks a service active without
     * calling createAccount when a failed activation is retried).
     *
     * @return array<string, mixed>
     */
    private function service(Server_Account $account, bool $existing = true): array
    {
        $order = $this->order;
        if ($order === null) {
            throw new Server_Exception('Sandboxed provisioning modules act on an account only for its order, and FOSSBilling gave'
                . ' none with this one (the order\'s log names it): a username alone may be another service\'s');
        }
        $serviceId = 'fossbilling-order-' . $order;
        $remoteId = $this->remoteId($serviceId);
        if ($existing && $remoteId === null) {
            [$serviceId, $remoteId] = $this->keyedByUsername($account) ?? [$serviceId, null];
        }
        if ($existing && $remoteId === null) {
            $pending = array_keys($this->pendingCreates($serviceId));
            throw new Server_Exception($pending !== []
                ? 'the create of order :order (:domain) has not succeeded yet: journal entry :entry of provisioning serve is'
                    . ' unresolved; resolve it (`provisioning journal ack`) before acting on the account'
                : 'the provider has no account for order :order (:domain, username ":username"): no create of it ever succeeded'
                    . ' (FOSSBilling main marks a service active without one when a failed activation is retried). Cancel the order,'
                    . ' then uncancel it: uncancel creates the account',
                [':order' => $order, ':username' => (string) $account->getUsername(), ':domain' => (string) $account->getDomain(),
                    ':entry' => implode(', ', $pending)]);
        }
        $package = $account->getPackage();
        return [
            'service_id' => $serviceId,
            'remote_id' => $remoteId,
            'domain' => self::text($account->getDomain()),
            'username' => self::text($account->getUsername()),
            'password' => $this->knownPassword($account),
            'package' => self::text(self::customValue($package, 'package')),
            'billing_cycle' => self::text(self::customValue($package, 'billing_cycle')),
            'client' => self::client($account->getClient()),
            'custom_fields' => [],
        ];
    }

    /**
     * Keeps the order the logger names. FOSSBilling's container sets its
     * shared logger on every manager; Servicehosting then sets the order's
     * over it (getServerManagerWithLog), whose context holds
     * `client_order_id` (0.8.5's Box_Log in its protected event items,
     * main's FOSSBilling\Logger in its private context; neither has a
     * getter, so the property is read as FOSSBilling's writers read it).
     * Only that second logger counts: 0.8.5's shared logger keeps the id of
     * the last order of the request, which is not this account's when no
     * order links it. The parameter is untyped: 0.8.5 types it Box_Log,
     * main Psr\Log\LoggerInterface.
     */
    public function setLog($value): static
    {
        parent::setLog($value);
        ++$this->logsSet;
        $this->order = $this->logsSet > 1 ? self::orderOf($value) : null;
        return $this;
    }

    /** The `client_order_id` in a FOSSBilling logger's context, or null. */
    private static function orderOf(object $log): ?string
    {
        for ($class = new ReflectionClass($log); $class !== false; $class = $class->getParentClass()) {
            foreach (['context', '_extras'] as $name) {
                if ($class->hasProperty($name)) {
                    $items = $class->getProperty($name)->getValue($log);
                    $order = is_array($items) ? self::text($items['client_order_id'] ?? null) : null;
                    if ($order !== null) {
                        return $order;
                    }
                }
            }
        }
        return null;
    }

    /** The remote id the journal holds for the service, or null. */
    private function remoteId(string $serviceId): ?string
    {
        return self::text($this->createdService($serviceId)['remote_id'] ?? null);
    }

    /**
     * The key and remote id of an account made before services were keyed
     * by their order, when this manager keyed them "fossbilling-<username>":
     * that service, if its create named this account's domain. The domain
     * tells apart two services that shared a username (FOSSBilling makes
     * it of the domain's first seven characters), so an old account is
     * found again after the upgrade, never another's. It keeps its old key,
     * which some providers know it by (HostMeNow's service id).
     *
     * @return array{0: string, 1: string}|null
     */
    private function keyedByUsername(Server_Account $account): ?array
    {
        $username = self::text($account->getUsername());
        $domain = self::text($account->getDomain());
        if ($username === null || $domain === null) {
            return null;
        }
        $serviceId = 'fossbilling-' . $username;
        $created = $this->createdService($serviceId);
        $createdDomain = self::text($created['domain'] ?? null);
        $remoteId = self::text($created['remote_id'] ?? null);
        return $remoteId !== null && $createdDomain !== null && strcasecmp($createdDomain, $domain) === 0
            ? [$serviceId, $remoteId]
            : null;
    }

    /**
     * What the journal holds of a service's newest successful create: its
     * `remote_id` and `domain`, both null when none succeeded.
     *
     * @return array<string, mixed>
     */
    private function createdService(string $serviceId): array
    {
        $path = '/v1/modules/' . rawurlencode($this->moduleName()) . '/services/' . rawurlencode($serviceId) . '/remote-id';
        try {
            return $this->http('GET', $path, null, [$this->token()]);
        } catch (Server_Exception $failure) {
            throw new Server_Exception('the host cannot tell the provider\'s id of this account (FOSSBilling keeps none): '
                . $failure->getMessage() . '; serve needs a [journal] in its manifest');
        }
    }

    /** The account's password, unless FOSSBilling only has asterisks for it. */
    private function knownPassword(Server_Account $account): ?string
    {
        $password = (string) $account->getPassword();
        return $password === '' || preg_match(self::MASKED_PASSWORD, $password) ? null : $password;
    }

    /**
     * The contract's contact from a Server_Client: its own first and last
     * name, the street as the address (FOSSBilling sets no address line),
     * the phone as an international number.
     *
     * @return array<string, string|null>|null
     */
    private static function client(?Server_Client $client): ?array
    {
        if ($client === null || self::text($client->getEmail()) === null) {
            return null;
        }
        $country = strtoupper((string) self::text($client->getCountry()));
        return [
            'first_name' => (string) self::text($client->getFirstName()),
            'last_name' => (string) self::text($client->getLastName()),
            'company' => self::text($client->getCompany()),
            'email' => (string) $client->getEmail(),
            'phone' => self::internationalPhone($client->getTelephone(), $country),
            'address' => self::text($client->getStreet() ?? $client->getAddress1()),
            'city' => self::text($client->getCity()),
            'state' => self::text($client->getState()),
            'postcode' => self::text($client->getZip()),
            'country' => $country === '' ? null : $country,
            'language' => null,
        ];
    }

    /**
     * "+<country code><number>": FOSSBilling's client phone is the national
     * number (its country code, `phone_cc`, never reaches a manager), so
     * the code comes from the client's country, the national trunk 0
     * dropped. A number written with its "+" or "00" keeps its own code.
     */
    private static function internationalPhone(?string $phone, string $country): ?string
    {
        $phone = trim((string) $phone);
        $digits = (string) preg_replace('/\D/', '', $phone);
        if ($digits === '') {
            return null;
        }
        if (str_starts_with($phone, '+')) {
            return '+' . $digits;
        }
        if (str_starts_with($digits, '00')) {
            return '+' . substr($digits, 2);
        }
        if (preg_match('/\b' . preg_quote($country, '/') . '(\d+)\b/', self::CALLING_CODES, $code) !== 1) {
            // No country to take a code from: the number as the client wrote it.
            return $digits;
        }
        if (!in_array($country, self::KEEP_TRUNK_ZERO, true)) {
            $digits = (string) preg_replace('/^0/', '', $digits);
        }
        return '+' . $code[1] . $digits;
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
            // FOSSBilling's plan page drops a value of "0" (empty()): a zero is written "0.0", which the modules read as 0.
            $value = self::text($package === null ? null : self::customValue($package, $name));
            if ($value !== null) {
                $settings[] = ['name' => $name, 'value' => $value];
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
     * enums the contract's words; kept in the cache file getForm reads.
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
        // FOSSBilling keeps the server's "Verify TLS certificate" in its config (true unless unticked).
        $verify = self::flag($this->_config['config']['tls_verify'] ?? true);
        $where = ($secure ? 'https' : 'http') . "://{$host}:{$port}";
        $handle = curl_init($where . $path);
        $headers = ['Authorization: Bearer ' . $this->token(), 'Accept: application/json'];
        $options = [CURLOPT_RETURNTRANSFER => true, CURLOPT_CUSTOMREQUEST => $method, CURLOPT_CONNECTTIMEOUT => 5,
            CURLOPT_TIMEOUT => 120, CURLOPT_FOLLOWLOCATION => false, CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_SSL_VERIFYPEER => $verify, CURLOPT_SSL_VERIFYHOST => $verify ? 2 : 0];
        if ($body !== null) {
            $headers[] = 'Content-Type: application/json';
            $options[CURLOPT_POSTFIELDS] = json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
        }
        $options[CURLOPT_HTTPHEADER] = $headers;
        curl_setopt_array($handle, $options);
        $raw = curl_exec($handle);
        $error = curl_error($handle);
        $errno = curl_errno($handle);
        $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        curl_close($handle);
        if ($raw === false && $secure && $errno === CURLE_SSL_CONNECT_ERROR) {
            // FOSSBilling ticks "Use secure connection" on a new server; serve speaks plain HTTP unless given a certificate.
            throw new Server_Exception(self::mask("could not reach provisioning serve at {$where} over TLS ({$error}): the server's"
                . ' "Use secure connection" is on (FOSSBilling\'s default for a new server); set it to No for a serve on plain HTTP,'
                . ' or start serve with --tls-cert and --tls-key', $secrets));
        }
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
        $info['functions'] ??= [];
        $info['settings'] ??= [];
        return $info;
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

    /**
     * A hosting plan's custom value. FOSSBilling's getCustomValue() is
     * `?string` under strict types and returns what the plan's JSON holds:
     * a number (a plan written through the API with a JSON number) throws a
     * TypeError there, turned here into what the admin should change.
     */
    private static function customValue(Server_Package $package, string $name): ?string
    {
        try {
            return $package->getCustomValue($name);
        } catch (TypeError) {
            throw new Server_Exception('the hosting plan\'s custom value ":name" is not text (FOSSBilling keeps it as the JSON number or'
                . ' boolean it was saved with, and its Server_Package can only give text): save it again from the hosting plan\'s'
                . ' page, where every value is text', [':name' => $name]);
        }
    }

    /** A yes/no as FOSSBilling stores one (true, 1, "1", "yes", "on"...). */
    private static function flag(mixed $value): bool
    {
        return is_bool($value) ? $value : in_array(strtolower(trim((string) $value)), ['1', 'true', 'yes', 'on'], true);
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
