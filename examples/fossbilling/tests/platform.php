<?php

/**
 * Plays FOSSBilling for the `Sandboxed` server manager, one step per run
 * (each a PHP process of its own, as each FOSSBilling request or cron run
 * is), its database kept in a JSON file between runs.
 *
 * The stand-ins are written from FOSSBilling's sources
 * (src/library/Server/{Manager,Account,Client,Package,Exception}.php and
 * src/modules/Servicehosting/Service.php): the value objects with the
 * fields and setters FOSSBilling has, the abstract manager's constructor
 * and helpers, and the hosting service's calling side as FOSSBilling runs
 * it: activation generates the username and password, calls createAccount,
 * ignores what it returns and stores asterisks for the password; suspend,
 * unsuspend, cancel and uncancel call the manager and let exceptions
 * through; password, domain and plan changes are made at the server only
 * while the order is not suspended, canceled or pending (`_performOnService`).
 *
 * Usage: php platform.php STATE STEP [MODULE] [ARGUMENTS...]
 *   setup                         a fresh database: one server per module of serve
 *                                 (SANDBOXED_URL, SANDBOXED_TOKEN; the username names
 *                                 the module), its hosting plans from PLANS_JSON
 *   form                          Server_Manager_Sandboxed::getForm()
 *   test MODULE                   the server's Test connection
 *   create MODULE SLD TLD [PLAN]  a hosting order for the client, activated
 *   suspend|unsuspend|cancel|uncancel|sync|login MODULE
 *   password MODULE NEW           the client's password change (password_confirm equal)
 *   plan MODULE PLAN              the admin's change of hosting plan
 *   domain MODULE SLD TLD         the admin's change of domain
 *   username MODULE NEW | ip MODULE NEW
 * Prints one JSON line: {"ok": ..., "log": [...]} or {"error": "...", "log": [...]}.
 */

declare(strict_types=1);

namespace FOSSBilling {
    /** FOSSBilling's exception: the message with its `:name` variables put in. */
    class Exception extends \Exception
    {
        public function __construct(string $message, ?array $variables = null, int $code = 0, bool $protected = false)
        {
            parent::__construct(strtr($message, array_map('strval', $variables ?? [])), $code);
        }
    }
}

namespace {
    /** FOSSBilling's Server_Exception. */
    class Server_Exception extends FOSSBilling\Exception
    {
        public function __construct(string $message, ?array $variables = null, int $code = 0)
        {
            parent::__construct($message, $variables, $code, true);
        }
    }

    /** The order's log (FOSSBilling writes it to the activity table). */
    class Box_Log
    {
        /** @var list<string> */
        public static array $lines = [];

        public function info(string $message): void
        {
            self::$lines[] = 'INFO ' . $message;
        }

        public function err(string $message): void
        {
            self::$lines[] = 'ERR ' . $message;
        }
    }

    /** FOSSBilling's abstract server manager, as far as a manager sees it. */
    abstract class Server_Manager
    {
        protected array $_config = ['ip' => null, 'host' => null, 'secure' => false, 'username' => null,
            'password' => null, 'accesshash' => null, 'config' => null, 'port' => null, 'passwordLength' => null];
        private ?Box_Log $_log = null;

        public function __construct(array $options)
        {
            foreach (['ip', 'host', 'username', 'password', 'accesshash', 'passwordLength', 'config', 'port'] as $key) {
                if (isset($options[$key])) {
                    $this->_config[$key] = $options[$key];
                }
            }
            if (isset($options['secure'])) {
                $this->_config['secure'] = (bool) $options['secure'];
            }
            $this->init();
        }

        protected function init()
        {
        }

        public function generateUsername(string $domain)
        {
            $username = substr((string) preg_replace('/[^A-Za-z0-9]/', '', $domain), 0, 7);
            return ($this->_config['config']['userprefix'] ?? '') . $username . random_int(0, 9);
        }

        public function getPasswordLength(): int
        {
            return $this->_config['passwordLength'] ?? 10;
        }

        public function getLog(): ?Box_Log
        {
            return $this->_log ?? new Box_Log();
        }

        public function setLog(Box_Log $value): static
        {
            $this->_log = $value;
            return $this;
        }

        abstract public function getLoginUrl(?Server_Account $account);

        abstract public function getResellerLoginUrl(?Server_Account $account);

        abstract public function testConnection();

        abstract public function createAccount(Server_Account $account);

        abstract public function synchronizeAccount(Server_Account $account);

        abstract public function suspendAccount(Server_Account $account);

        abstract public function unsuspendAccount(Server_Account $account);

        abstract public function cancelAccount(Server_Account $account);

        abstract public function changeAccountPassword(Server_Account $account, string $newPassword);

        abstract public function changeAccountUsername(Server_Account $account, string $newUsername);

        abstract public function changeAccountDomain(Server_Account $account, string $newDomain);

        abstract public function changeAccountIp(Server_Account $account, string $newIp);

        abstract public function changeAccountPackage(Server_Account $account, Server_Package $package);
    }

    /**
     * What FOSSBilling's value objects do with a method they lack: log the
     * call and answer ''.
     */
    trait PlatformInaccessibleMethods
    {
        public function __call(string $name, array $arguments): string
        {
            Box_Log::$lines[] = 'ERR Calling ' . static::class . " inaccessible method {$name}";
            return '';
        }
    }

    /** FOSSBilling's Server_Account: no id of the service or of the provider's account. */
    class Server_Account
    {
        private ?string $username = null;
        private ?string $password = null;
        private ?string $domain = null;
        private ?string $ip = null;
        private ?Server_Client $client = null;
        private ?Server_Package $package = null;
        private ?bool $reseller = null;
        private ?bool $suspended = null;
        private ?string $ns1 = null;
        private ?string $ns2 = null;
        private ?string $ns3 = null;
        private ?string $ns4 = null;
        private ?string $note = null;

        public function getUsername(): ?string
        {
            return $this->username;
        }

        public function setUsername(?string $username): static
        {
            $this->username = $username;
            return $this;
        }

        public function getPassword(): ?string
        {
            return $this->password;
        }

        public function setPassword(?string $password): static
        {
            $this->password = $password;
            return $this;
        }

        public function getDomain(): ?string
        {
            return $this->domain;
        }

        public function setDomain(?string $domain): static
        {
            $this->domain = $domain;
            return $this;
        }

        public function getIp(): ?string
        {
            return $this->ip;
        }

        public function setIp(?string $ip): static
        {
            $this->ip = $ip;
            return $this;
        }

        public function getClient(): ?Server_Client
        {
            return $this->client;
        }

        public function setClient(?Server_Client $client): static
        {
            $this->client = $client;
            return $this;
        }

        public function getNote(): ?string
        {
            return $this->note;
        }

        public function setNote(?string $note): static
        {
            $this->note = $note;
            return $this;
        }

        public function getReseller(): ?bool
        {
            return $this->reseller;
        }

        public function setReseller(bool $reseller): static
        {
            $this->reseller = $reseller;
            return $this;
        }

        public function getSuspended(): ?bool
        {
            return $this->suspended;
        }

        public function setSuspended(bool $suspended): static
        {
            $this->suspended = $suspended;
            return $this;
        }

        public function getNs1(): ?string
        {
            return $this->ns1;
        }

        public function setNs1(?string $ns1): static
        {
            $this->ns1 = $ns1;
            return $this;
        }

        public function getNs2(): ?string
        {
            return $this->ns2;
        }

        public function setNs2(?string $ns2): static
        {
            $this->ns2 = $ns2;
            return $this;
        }

        public function getNs3(): ?string
        {
            return $this->ns3;
        }

        public function setNs3(?string $ns3): static
        {
            $this->ns3 = $ns3;
            return $this;
        }

        public function getNs4(): ?string
        {
            return $this->ns4;
        }

        public function setNs4(?string $ns4): static
        {
            $this->ns4 = $ns4;
            return $this;
        }

        public function getPackage(): Server_Package
        {
            return $this->package;
        }

        public function setPackage(?Server_Package $package): static
        {
            $this->package = $package;
            return $this;
        }
    }

    /** FOSSBilling's Server_Client, with its defaults. */
    class Server_Client
    {
        use PlatformInaccessibleMethods;

        private ?int $id = null;
        private ?string $email = null;
        private ?string $fullName = 'FOSSBilling Client';
        private ?string $company = 'FOSSBilling';
        private ?string $www = 'www.fossbilling.org';
        private ?string $address1 = null;
        private ?string $address2 = null;
        private ?string $street = null;
        private ?string $state = 'n/a';
        private ?string $country = 'US';
        private ?string $city = null;
        private ?string $zip = null;
        private ?string $telephone = null;
        private ?string $fax = null;

        public function getId(): ?int
        {
            return $this->id;
        }

        public function setId(int $id): static
        {
            $this->id = $id;
            return $this;
        }

        public function getEmail(): ?string
        {
            return $this->email;
        }

        public function setEmail(?string $email): static
        {
            $this->email = $email;
            return $this;
        }

        public function getFullName(): ?string
        {
            return $this->fullName;
        }

        public function setFullName(?string $fullName): static
        {
            $this->fullName = $fullName;
            return $this;
        }

        public function getCompany(): ?string
        {
            return $this->company;
        }

        public function setCompany(?string $company): static
        {
            $this->company = $company;
            return $this;
        }

        public function getWww(): ?string
        {
            return $this->www;
        }

        public function setWww(?string $www): static
        {
            $this->www = $www;
            return $this;
        }

        public function getAddress1(): ?string
        {
            return $this->address1;
        }

        public function setAddress1(?string $address1): static
        {
            $this->address1 = $address1;
            return $this;
        }

        public function getAddress2(): ?string
        {
            return $this->address2;
        }

        public function setAddress2(?string $address2): static
        {
            $this->address2 = $address2;
            return $this;
        }

        public function getStreet(): ?string
        {
            return $this->street;
        }

        public function setStreet(?string $street): static
        {
            $this->street = $street;
            return $this;
        }

        public function getState(): ?string
        {
            return $this->state;
        }

        public function setState(?string $state): static
        {
            $this->state = $state;
            return $this;
        }

        public function getCountry(): ?string
        {
            return $this->country;
        }

        public function setCountry(?string $country): static
        {
            $this->country = $country;
            return $this;
        }

        public function getCity(): ?string
        {
            return $this->city;
        }

        public function setCity(?string $city): static
        {
            $this->city = $city;
            return $this;
        }

        public function getZip(): ?string
        {
            return $this->zip;
        }

        public function setZip(?string $zip): static
        {
            $this->zip = $zip;
            return $this;
        }

        public function getTelephone(): ?string
        {
            return $this->telephone;
        }

        public function setTelephone(?string $telephone): static
        {
            $this->telephone = $telephone;
            return $this;
        }

        public function getFax(): ?string
        {
            return $this->fax;
        }

        public function setFax(?string $fax): static
        {
            $this->fax = $fax;
            return $this;
        }
    }

    /** FOSSBilling's Server_Package: the plan's limits, and its custom values by name. */
    class Server_Package
    {
        use PlatformInaccessibleMethods;

        private ?string $name = 'FOSSBilling';
        private ?string $quota = null;
        private ?string $bandwidth = null;
        private ?string $maxDomains = null;
        private ?string $maxSubdomains = null;
        private ?string $maxParkedDomains = null;
        private ?string $maxFtp = null;
        private ?string $maxSql = null;
        private ?string $maxPop = null;
        private array $custom = [];

        public function setCustomValues(array $param): static
        {
            $this->custom = $param;
            return $this;
        }

        public function setCustomValue(string $param, ?string $value): static
        {
            $this->custom[$param] = $value;
            return $this;
        }

        public function getCustomValue(string $param): ?string
        {
            return isset($this->custom[$param]) ? (string) $this->custom[$param] : null;
        }

        public function getName(): ?string
        {
            return $this->name;
        }

        public function setName(?string $name): static
        {
            $this->name = $name;
            return $this;
        }

        public function getQuota(): ?string
        {
            return $this->quota;
        }

        public function setQuota(?string $quota): static
        {
            $this->quota = $quota;
            return $this;
        }

        public function getBandwidth(): ?string
        {
            return $this->bandwidth;
        }

        public function setBandwidth(?string $bandwidth): static
        {
            $this->bandwidth = $bandwidth;
            return $this;
        }

        public function getMaxDomains(): ?string
        {
            return $this->maxDomains;
        }

        public function setMaxDomains(?string $maxDomains): static
        {
            $this->maxDomains = $maxDomains;
            return $this;
        }

        public function getMaxSubdomains(): ?string
        {
            return $this->maxSubdomains;
        }

        public function setMaxSubdomains(?string $maxSubdomains): static
        {
            $this->maxSubdomains = $maxSubdomains;
            return $this;
        }

        public function getMaxParkedDomains(): ?string
        {
            return $this->maxParkedDomains;
        }

        public function setMaxParkedDomains(?string $maxParkedDomains): static
        {
            $this->maxParkedDomains = $maxParkedDomains;
            return $this;
        }

        public function getMaxFtp(): ?string
        {
            return $this->maxFtp;
        }

        public function setMaxFtp(?string $maxFtp): static
        {
            $this->maxFtp = $maxFtp;
            return $this;
        }

        public function getMaxSql(): ?string
        {
            return $this->maxSql;
        }

        public function setMaxSql(?string $maxSql): static
        {
            $this->maxSql = $maxSql;
            return $this;
        }

        public function getMaxPop(): ?string
        {
            return $this->maxPop;
        }

        public function setMaxPop(?string $maxPop): static
        {
            $this->maxPop = $maxPop;
            return $this;
        }

        public function getMaxQuota(): ?string
        {
            return $this->quota;
        }

        public function setMaxQuota(?string $maxQuota): static
        {
            $this->quota = $maxQuota;
            return $this;
        }
    }

    require_once __DIR__ . '/../src/library/Server/Manager/Sandboxed.php';

    // ---- FOSSBilling's hosting service (Servicehosting\Service) -------------

    /** The database, kept in the state file between runs. */
    final class Db
    {
        public static array $t = [];
    }

    function manager_for(array $server): Server_Manager
    {
        // Service::getServerManager: the server model's fields as the options.
        $manager = new Server_Manager_Sandboxed([
            'ip' => $server['ip'], 'host' => $server['hostname'], 'port' => $server['port'],
            'config' => $server['config'], 'secure' => $server['secure'], 'username' => $server['username'],
            'password' => $server['password'], 'accesshash' => $server['accesshash'], 'passwordLength' => null,
        ]);
        $manager->setLog(new Box_Log());
        return $manager;
    }

    /** Service::_getAM: the manager and the Server_Account of a hosting service. */
    function account_and_manager(array $service): array
    {
        $client = Db::$t['client'];
        $plan = Db::$t['plans'][$service['plan']];
        $server = Db::$t['servers'][$service['server']];
        $serverClient = (new Server_Client())->setEmail($client['email'])->setFullName($client['first_name'] . ' ' . $client['last_name'])
            ->setCompany($client['company'])->setStreet($client['address_1'])->setZip($client['postcode'])->setCity($client['city'])
            ->setState($client['state'])->setCountry($client['country'])->setTelephone($client['phone']);
        $package = (new Server_Package())->setCustomValues($plan['config'])->setName($plan['name'])
            ->setQuota($plan['quota'])->setBandwidth($plan['bandwidth']);
        $account = (new Server_Account())->setClient($serverClient)->setPackage($package)->setUsername($service['username'])
            ->setReseller(false)->setDomain($service['sld'] . $service['tld'])->setPassword($service['pass'])
            ->setNs1(null)->setNs2(null)->setNs3(null)->setNs4(null)->setIp($service['ip']);
        return [manager_for($server), $account];
    }

    /** Service::_performOnService: no server action on an order in these states. */
    function perform_on_service(array $service): bool
    {
        return !in_array($service['order_status'], ['failed_setup', 'pending_setup', 'suspended', 'canceled'], true);
    }

    function random_password(int $length): string
    {
        $alphabet = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!@#%';
        $password = 'Aa1!';
        while (strlen($password) < $length) {
            $password .= $alphabet[random_int(0, strlen($alphabet) - 1)];
        }
        return $password;
    }

    /** One step; answers what FOSSBilling shows (an exception's message is an error). */
    function run_step(string $step, array $args): mixed
    {
        if ($step === 'setup') {
            $parts = parse_url((string) getenv('SANDBOXED_URL'));
            $plans = json_decode((string) getenv('PLANS_JSON'), true, flags: JSON_THROW_ON_ERROR);
            Db::$t = ['servers' => [], 'plans' => [], 'services' => [], 'client' => [
                'email' => 'baraka@example.co.tz', 'first_name' => 'Baraka', 'last_name' => 'Mwita', 'company' => 'Mwita Traders',
                'address_1' => 'Plot 7, Uhuru St', 'postcode' => '11101', 'city' => 'Dar es Salaam', 'state' => 'Dar es Salaam',
                'country' => 'TZ', 'phone' => '+255 713 000111']];
            foreach ($plans as $name => $plan) {
                $module = (string) $plan['module'];
                Db::$t['servers'][$module] ??= ['name' => "serve {$module}", 'ip' => $parts['host'], 'hostname' => $parts['host'],
                    'port' => $parts['port'], 'secure' => false, 'username' => $module, 'password' => null,
                    'accesshash' => (string) getenv('SANDBOXED_TOKEN'), 'config' => []];
                Db::$t['plans'][$name] = ['name' => $name, 'server' => $module, 'quota' => '1024', 'bandwidth' => '10240', 'config' => $plan['config']];
            }
            return count(Db::$t['servers']) . ' servers, ' . count(Db::$t['plans']) . ' plans';
        }
        if ($step === 'form') {
            return Server_Manager_Sandboxed::getForm();
        }
        $module = (string) array_shift($args);
        if ($step === 'test') {
            return manager_for(Db::$t['servers'][$module])->testConnection();
        }
        if ($step === 'create') {
            [$sld, $tld] = $args;
            $plan = $args[2] ?? $module;
            // action_create: the hosting service of the order, not yet set up.
            Db::$t['services'][$module] = ['server' => Db::$t['plans'][$plan]['server'], 'plan' => $plan, 'sld' => $sld, 'tld' => $tld,
                'ip' => Db::$t['servers'][$module]['ip'], 'username' => null, 'pass' => null, 'order_status' => 'pending_setup'];
            return activate($module);
        }
        $service = &Db::$t['services'][$module];
        [$manager, $account] = account_and_manager($service);
        switch ($step) {
            case 'suspend':
                $manager->suspendAccount($account);
                $service['order_status'] = 'suspended';
                return true;
            case 'unsuspend':
                $manager->unsuspendAccount($account);
                $service['order_status'] = 'active';
                return true;
            case 'cancel':
                $manager->cancelAccount($account);
                $service['order_status'] = 'canceled';
                return true;
            case 'uncancel':
                // action_uncancel: a new password, createAccount again.
                $service['pass'] = random_password($manager->getPasswordLength());
                [$manager, $account] = account_and_manager($service);
                $manager->createAccount($account);
                $service['pass'] = '********';
                $service['order_status'] = 'active';
                return true;
            case 'sync':
                $updated = $manager->synchronizeAccount($account);
                return ['suspended' => $updated->getSuspended(), 'username' => $updated->getUsername()];
            case 'login':
                return $manager->getLoginUrl($account);
            case 'password':
                if (perform_on_service($service)) {
                    $manager->changeAccountPassword($account, $args[0]);
                }
                $service['pass'] = '******';
                return true;
            case 'plan':
                $service['plan'] = $args[0];
                if (perform_on_service($service)) {
                    [$manager, $account] = account_and_manager($service);
                    $package = $account->getPackage();
                    $manager->changeAccountPackage($account, $package);
                }
                return true;
            case 'domain':
                if (perform_on_service($service)) {
                    $manager->changeAccountDomain($account, $args[0] . $args[1]);
                }
                [$service['sld'], $service['tld']] = $args;
                return true;
            case 'username':
                if (perform_on_service($service)) {
                    $manager->changeAccountUsername($account, strtolower($args[0]));
                }
                $service['username'] = strtolower($args[0]);
                return true;
            case 'ip':
                if (perform_on_service($service)) {
                    $manager->changeAccountIp($account, $args[0]);
                }
                $service['ip'] = $args[0];
                return true;
        }
        throw new LogicException("no step {$step}");
    }

    /**
     * Service::action_activate: FOSSBilling generates the password and the
     * username, calls createAccount, ignores its return, keeps asterisks
     * for the password and answers the client its own credentials.
     */
    function activate(string $module): array
    {
        $service = &Db::$t['services'][$module];
        $manager = manager_for(Db::$t['servers'][$service['server']]);
        $pass = random_password($manager->getPasswordLength());
        $username = $manager->generateUsername($service['sld'] . $service['tld']);
        $service['username'] = $username;
        $service['pass'] = $pass;
        try {
            [$adapter, $account] = account_and_manager($service);
            $adapter->createAccount($account);
        } catch (Throwable $failure) {
            $service['order_status'] = 'failed_setup';
            throw $failure;
        }
        $service['pass'] = '********';
        $service['order_status'] = 'active';
        return ['username' => $username, 'password' => $pass];
    }

    [, $stateFile, $step] = $argv + [null, null, null];
    // FOSSBilling's cache directory, where the manager keeps the modules' info for getForm.
    define('PATH_CACHE', dirname((string) $stateFile));
    $args = array_slice($argv, 3);
    if (is_file((string) $stateFile)) {
        Db::$t = json_decode((string) file_get_contents($stateFile), true, flags: JSON_THROW_ON_ERROR);
    }
    try {
        $answer = ['ok' => run_step((string) $step, $args)];
    } catch (Server_Exception $failure) {
        $answer = ['error' => $failure->getMessage()];
    }
    file_put_contents((string) $stateFile, json_encode(Db::$t, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));
    echo json_encode($answer + ['log' => Box_Log::$lines], JSON_UNESCAPED_SLASHES), "\n";
}
