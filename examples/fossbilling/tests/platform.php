<?php

/**
 * Plays FOSSBilling for the `Sandboxed` server manager, one step per run
 * (each a PHP process of its own, as each FOSSBilling request or cron run
 * is), its database kept in a JSON file between runs.
 *
 * FOSSBILLING_VERSION picks the shape: `0.8.5` (the latest release, tag
 * 0.8.5, commit 544bf2b8; the default) or `main` (commit 56a0871d of
 * 2026-08-22). Where the two differ (the logger, the activation retry,
 * which failures the order service catches), each runs as its version does.
 *
 * Every stand-in names the file of FOSSBilling it mirrors, keeps its
 * signature, strict types, parameter and return types, and what the
 * manager meets of its behaviour, awkward parts included:
 * `Server_Package::getCustomValue()` throws a TypeError for a plan value
 * that is not text; `Server_Client` has no country code for its phone;
 * `Server_Account` has no id; 0.8.5's logger has `err()`, main's does not.
 * The calling side does what FOSSBilling's Servicehosting service
 * (src/modules/Servicehosting/Service.php), its admin API (Api/Admin.php:
 * server_create, server_update, hp_update) and the order service
 * (src/modules/Order/Service.php: activateOrder, createFromOrder, cancel)
 * do, in their order. Left out: events, emails, invoices, expiry dates.
 *
 * Usage: php platform.php STATE STEP [ARGUMENTS...]
 *   setup                          a fresh database: clients 1 and 2, one server per module of serve
 *                                  (SANDBOXED_URL, SANDBOXED_TOKEN; the username names the module,
 *                                  "Use secure connection" set to No), hosting plans from PLANS_JSON
 *   form                           Server_Manager_Sandboxed::getForm()
 *   server-add NAME MODULE [F=V..] Api/Admin::server_create with the admin form's fields (its defaults
 *                                  for those not given: secure 1, tls_verify 1), then Test connection
 *   server-update NAME [F=V...]    Api/Admin::server_update
 *   test SERVER                    the server's Test connection
 *   plan-config PLAN NAME JSON     Api/Admin::hp_update with config[NAME] = the JSON value (as an API
 *                                  client's JSON body brings it: a number stays a number)
 *   create ORDER SLD TLD [PLAN] [CLIENT] [USERNAME] [import]
 *                                  a hosting order (its plan's server; USERNAME and `import` in the
 *                                  order's config: an imported account is not created), then activated
 *   order ORDER SLD TLD [...]      the same order, left pending (not activated)
 *   activate ORDER                 the admin's Activate of a pending or failed order
 *   order-config ORDER JSON        Order Api/Admin::update_config: the order's configuration replaced
 *   activate-dies ORDER            the same, the request dying once createAccount has returned (PHP's
 *                                  max_execution_time): nothing of it stored
 *   suspend ORDER [REASON] | unsuspend|cancel|uncancel|sync|login ORDER
 *   password ORDER NEW             the client's password change (password_confirm equal)
 *   plan ORDER PLAN                the admin's change of hosting plan
 *   domain ORDER SLD TLD           the admin's change of domain
 *   username ORDER NEW | ip ORDER NEW
 *   orphan-suspend ORDER OTHER     in one request: OTHER's account built through its order, then ORDER's
 *                                  suspended as when no order links its service (_getAM's other branch)
 *   show ORDER                     the hosting service and its order, as stored
 * Prints one JSON line: {"ok": ...} or {"error": "...", "uncaught": CLASS?}, with "log" (the order's
 * log and the activity log) and "error_log" (what FOSSBilling sends to PHP's error log).
 */

declare(strict_types=1);

namespace Psr\Log {
    // The FOSSBilling version this run plays, before any version's class is declared.
    $version = getenv('FOSSBILLING_VERSION') ?: '0.8.5';
    if (!in_array($version, ['0.8.5', 'main'], true)) {
        fwrite(STDERR, "FOSSBILLING_VERSION is 0.8.5 or main, not {$version}\n");
        exit(2);
    }
    \define('FOSSBILLING_MAIN', $version === 'main');

    /** Mirrors: psr/log 3.0.2 src/LogLevel.php (FOSSBilling main's composer.lock). */
    class LogLevel
    {
        const EMERGENCY = 'emergency';
        const ALERT = 'alert';
        const CRITICAL = 'critical';
        const ERROR = 'error';
        const WARNING = 'warning';
        const NOTICE = 'notice';
        const INFO = 'info';
        const DEBUG = 'debug';
    }

    /** Mirrors: psr/log 3.0.2 src/InvalidArgumentException.php. */
    class InvalidArgumentException extends \InvalidArgumentException
    {
    }

    /** Mirrors: psr/log 3.0.2 src/LoggerInterface.php. */
    interface LoggerInterface
    {
        public function emergency(string|\Stringable $message, array $context = []): void;

        public function alert(string|\Stringable $message, array $context = []): void;

        public function critical(string|\Stringable $message, array $context = []): void;

        public function error(string|\Stringable $message, array $context = []): void;

        public function warning(string|\Stringable $message, array $context = []): void;

        public function notice(string|\Stringable $message, array $context = []): void;

        public function info(string|\Stringable $message, array $context = []): void;

        public function debug(string|\Stringable $message, array $context = []): void;

        public function log($level, string|\Stringable $message, array $context = []): void;
    }

    /** Mirrors: psr/log 3.0.2 src/LoggerTrait.php: each level calls log(). */
    trait LoggerTrait
    {
        public function emergency(string|\Stringable $message, array $context = []): void
        {
            $this->log(LogLevel::EMERGENCY, $message, $context);
        }

        public function alert(string|\Stringable $message, array $context = []): void
        {
            $this->log(LogLevel::ALERT, $message, $context);
        }

        public function critical(string|\Stringable $message, array $context = []): void
        {
            $this->log(LogLevel::CRITICAL, $message, $context);
        }

        public function error(string|\Stringable $message, array $context = []): void
        {
            $this->log(LogLevel::ERROR, $message, $context);
        }

        public function warning(string|\Stringable $message, array $context = []): void
        {
            $this->log(LogLevel::WARNING, $message, $context);
        }

        public function notice(string|\Stringable $message, array $context = []): void
        {
            $this->log(LogLevel::NOTICE, $message, $context);
        }

        public function info(string|\Stringable $message, array $context = []): void
        {
            $this->log(LogLevel::INFO, $message, $context);
        }

        public function debug(string|\Stringable $message, array $context = []): void
        {
            $this->log(LogLevel::DEBUG, $message, $context);
        }

        abstract public function log($level, string|\Stringable $message, array $context = []): void;
    }

    /** Mirrors: psr/log 3.0.2 src/AbstractLogger.php. */
    abstract class AbstractLogger implements LoggerInterface
    {
        use LoggerTrait;
    }
}

namespace FOSSBilling {
    /**
     * Mirrors: FOSSBilling 0.8.5 and main src/library/FOSSBilling/Exception.php:
     * the message with its `:name` variables put in (no translation here).
     */
    class Exception extends \Exception
    {
        public function __construct(string $message, ?array $variables = null, int $code = 0, bool $protected = false)
        {
            parent::__construct(strtr($message, array_map('strval', $variables ?? [])), $code);
        }
    }

    /** Mirrors: FOSSBilling 0.8.5 and main src/library/FOSSBilling/InformationException.php. */
    class InformationException extends Exception
    {
    }

    if (\FOSSBILLING_MAIN) {
        /**
         * Mirrors: FOSSBilling main src/library/FOSSBilling/Logger.php: PSR-3
         * only (no err(), warn() or crit()); `{key}` placeholders from the
         * context; an unknown level is an InvalidArgumentException;
         * withContext() answers a copy (the order service's logger).
         */
        class Logger extends \Psr\Log\AbstractLogger
        {
            private const LEVELS = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'info', 'debug'];

            /** @var array<string, mixed> */
            private array $context = [];

            public function log($level, string|\Stringable $message, array $context = []): void
            {
                $levelName = is_string($level) ? $level : (is_scalar($level) ? (string) $level : get_debug_type($level));
                if (!in_array($levelName, self::LEVELS, true)) {
                    throw new \Psr\Log\InvalidArgumentException(sprintf('Unknown log level "%s"', $levelName));
                }
                $replacements = [];
                foreach ($context as $key => $value) {
                    if ($value === null || is_scalar($value) || $value instanceof \Stringable) {
                        $replacements['{' . $key . '}'] = (string) $value;
                    }
                }
                \Activity::write(strtoupper($levelName), strtr((string) $message, $replacements), $this->context);
            }

            public function withContext(array $context): static
            {
                $logger = clone $this;
                $logger->context = [...$this->context, ...$context];
                return $logger;
            }
        }
    }
}

namespace {
    /** The log lines a step wrote (the order's log, the activity log) and PHP's error log. */
    final class Activity
    {
        /** @var list<string> */
        public static array $lines = [];

        /** @var list<string> */
        public static array $errorLog = [];

        public static function write(string $priority, string $message, array $context): void
        {
            $order = isset($context['client_order_id']) ? " [order {$context['client_order_id']}]" : '';
            self::$lines[] = $priority . $order . ' ' . $message;
        }
    }

    /**
     * The end of a request before it finished (PHP's max_execution_time, a
     * worker killed): not FOSSBilling's, the harness's way to stop a step
     * where PHP would, storing nothing of it.
     */
    final class RequestDies extends RuntimeException
    {
        /** Whether the request dies once createAccount has returned. */
        public static bool $afterCreate = false;
    }

    if (!FOSSBILLING_MAIN) {
        /**
         * Mirrors: FOSSBilling 0.8.5 src/library/Box/Log.php: every priority
         * by name through __call, aliases included (err, warn, crit, emerg);
         * one argument is the message, more are vsprintf'd into it; event
         * items (the order's id) go with every line.
         */
        class Box_Log
        {
            private const PRIORITIES = ['EMERGENCY', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'];
            private const PRIORITY_ALIASES = ['EMERG' => 'EMERGENCY', 'CRIT' => 'CRITICAL', 'ERR' => 'ERROR', 'WARN' => 'WARNING'];

            protected array $_extras = [];

            public function __call($method, $params): void
            {
                $priority = strtoupper((string) $method);
                $priority = self::PRIORITY_ALIASES[$priority] ?? $priority;
                if (!in_array($priority, self::PRIORITIES, true)) {
                    throw new FOSSBilling\Exception('Bad log priority');
                }
                if ($params === []) {
                    throw new FOSSBilling\Exception('Missing log message');
                }
                $message = array_shift($params);
                if ($params !== []) {
                    $message = vsprintf($message, array_values($params));
                    if (!$message) {
                        throw new FOSSBilling\Exception('Number of placeholders does not match number of variables');
                    }
                }
                Activity::write($priority, (string) $message, $this->_extras);
            }

            public function setEventItem(string $name, mixed $value): static
            {
                $this->_extras = array_merge($this->_extras, [$name => $value]);
                return $this;
            }
        }

        /** Mirrors: FOSSBilling 0.8.5 src/library/Server/Manager.php, its logger (Box_Log). */
        trait ServerManagerLog
        {
            private ?Box_Log $_log = null;

            public function getLog(): ?Box_Log
            {
                return $this->_log instanceof Box_Log ? $this->_log : new Box_Log();
            }

            public function setLog(Box_Log $value): static
            {
                $this->_log = $value;
                return $this;
            }
        }

        /** Mirrors: FOSSBilling 0.8.5 src/library/Server/Client.php's __call: error_log() and ''. */
        trait InaccessibleClientMethods
        {
            public function __call($name, $arguments)
            {
                Activity::$errorLog[] = sprintf('Calling %s inaccessible method %s', static::class, $name);
                return '';
            }
        }

        /** Mirrors: FOSSBilling 0.8.5 src/library/Server/Package.php's __call. */
        trait InaccessiblePackageMethods
        {
            public function __call(string $name, array $arguments)
            {
                Activity::$errorLog[] = sprintf('Calling %s inaccessible method %s', static::class, $name);
                return '';
            }
        }
    } else {
        /** Mirrors: FOSSBilling main src/library/Server/Manager.php, its logger (PSR-3). */
        trait ServerManagerLog
        {
            private ?Psr\Log\LoggerInterface $_log = null;

            public function getLog(): ?Psr\Log\LoggerInterface
            {
                return $this->_log instanceof Psr\Log\LoggerInterface ? $this->_log : new FOSSBilling\Logger();
            }

            public function setLog(Psr\Log\LoggerInterface $value): static
            {
                $this->_log = $value;
                return $this;
            }
        }

        /** Mirrors: FOSSBilling main src/library/Server/Client.php's __call. */
        trait InaccessibleClientMethods
        {
            public function __call(string $name, array $arguments): string
            {
                Activity::$errorLog[] = sprintf('Calling %s inaccessible method %s', static::class, $name);
                return '';
            }
        }

        /** Mirrors: FOSSBilling main src/library/Server/Package.php's __call. */
        trait InaccessiblePackageMethods
        {
            public function __call(string $name, array $arguments): string
            {
                Activity::$errorLog[] = sprintf('Calling %s inaccessible method %s', static::class, $name);
                return '';
            }
        }
    }

    /** Mirrors: FOSSBilling 0.8.5 and main src/library/Server/Exception.php. */
    class Server_Exception extends FOSSBilling\Exception
    {
        public function __construct(string $message, ?array $variables = null, int $code = 0)
        {
            parent::__construct($message, $variables, $code, true);
        }
    }

    /**
     * Mirrors: FOSSBilling 0.8.5 and main src/library/Server/Manager.php
     * (the logger per version, in ServerManagerLog): the constructor copies
     * an option only when it is set, casts `secure`, then runs init();
     * generateUsername is seven letters or digits of the domain and one
     * random digit, unchecked.
     */
    abstract class Server_Manager
    {
        use ServerManagerLog;

        protected array $_config = ['ip' => null, 'host' => null, 'secure' => false, 'username' => null,
            'password' => null, 'accesshash' => null, 'config' => null, 'port' => null, 'passwordLength' => null];

        public function __construct(array $options)
        {
            foreach (['ip', 'host', 'username', 'password', 'accesshash', 'passwordLength', 'ssl', 'config', 'port'] as $key) {
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

        public static function getSecretFields(): array
        {
            return [];
        }

        public function generateUsername(string $domain)
        {
            $username = preg_replace('/[^A-Za-z0-9]/', '', $domain);
            $username = substr((string) $username, 0, 7);
            $randomNumber = random_int(0, 9);
            $prefix = $this->_config['config']['userprefix'] ?? '';
            return $prefix . $username . $randomNumber;
        }

        public function getPasswordLength(): int
        {
            return $this->_config['passwordLength'] ?? 10;
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
     * Mirrors: FOSSBilling 0.8.5 and main src/library/Server/Account.php
     * (identical): no id of the service, the order, the client or the
     * provider's account; getPackage() is non-null.
     */
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
        private ?string $ns_1 = null;
        private ?string $ns_2 = null;
        private ?string $ns_3 = null;
        private ?string $ns_4 = null;
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

        public function getPackage(): Server_Package
        {
            return $this->package;
        }

        public function setPackage(?Server_Package $package): static
        {
            $this->package = $package;
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
            return $this->ns_1;
        }

        public function setNs1(?string $ns1): static
        {
            $this->ns_1 = $ns1;
            return $this;
        }

        public function getNs2(): ?string
        {
            return $this->ns_2;
        }

        public function setNs2(?string $ns2): static
        {
            $this->ns_2 = $ns2;
            return $this;
        }

        public function getNs3(): ?string
        {
            return $this->ns_3;
        }

        public function setNs3(?string $ns3): static
        {
            $this->ns_3 = $ns3;
            return $this;
        }

        public function getNs4(): ?string
        {
            return $this->ns_4;
        }

        public function setNs4(?string $ns4): static
        {
            $this->ns_4 = $ns4;
            return $this;
        }
    }

    /**
     * Mirrors: FOSSBilling 0.8.5 and main src/library/Server/Client.php,
     * with its defaults: first and last name of their own, the phone
     * without its country code (FOSSBilling has no field for it here).
     */
    class Server_Client
    {
        use InaccessibleClientMethods;

        private ?int $id = null;
        private ?string $email = null;
        private ?string $first_name = 'FOSSBilling';
        private ?string $last_name = 'Client';
        private ?string $full_name = 'FOSSBilling Client';
        private ?string $company = 'FOSSBilling';
        private ?string $www = 'www.fossbilling.org';
        private ?string $address_1 = null;
        private ?string $address_2 = null;
        private ?string $street = null;
        private ?string $state = 'N/A';
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

        public function getFirstName(): ?string
        {
            return $this->first_name;
        }

        public function setFirstName(?string $firstName): static
        {
            $this->first_name = $firstName;
            return $this;
        }

        public function getLastName(): ?string
        {
            return $this->last_name;
        }

        public function setLastName(?string $lastName): static
        {
            $this->last_name = $lastName;
            return $this;
        }

        public function getFullName(): ?string
        {
            return $this->full_name;
        }

        public function setFullName(?string $fullName): static
        {
            $this->full_name = $fullName;
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

        public function getEmail(): ?string
        {
            return $this->email;
        }

        public function setEmail(?string $email): static
        {
            $this->email = $email;
            return $this;
        }

        public function getAddress1(): ?string
        {
            return $this->address_1;
        }

        public function setAddress1(?string $address1): static
        {
            $this->address_1 = $address1;
            return $this;
        }

        public function getAddress2(): ?string
        {
            return $this->address_2;
        }

        public function setAddress2(?string $address2): static
        {
            $this->address_2 = $address2;
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

        public function getCity(): ?string
        {
            return $this->city;
        }

        public function setCity(?string $city): static
        {
            $this->city = $city;
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

        public function getWww(): ?string
        {
            return $this->www;
        }

        public function setWww(?string $www): static
        {
            $this->www = $www;
            return $this;
        }
    }

    /**
     * Mirrors: FOSSBilling 0.8.5 and main src/library/Server/Package.php:
     * the plan's limits, and its custom values as the plan's JSON holds
     * them; getCustomValue() is ?string under strict types, so a value
     * that is not a string there is a TypeError.
     */
    class Server_Package
    {
        use InaccessiblePackageMethods;

        private ?string $name = 'FOSSBilling';
        private ?string $quota = null;
        private ?string $bandwidth = null;
        private ?string $maxDomains = null;
        private ?string $maxSubdomains = null;
        private ?string $maxParkedDomains = null;
        private ?string $maxFtp = null;
        private ?string $maxSql = null;
        private ?string $MaxPop = null;
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
            return $this->custom[$param] ?? null;
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
            return $this->MaxPop;
        }

        public function setMaxPop(?string $maxPop): static
        {
            $this->MaxPop = $maxPop;
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

    // ---- FOSSBilling's calling side --------------------------------------------

    /** The database, kept in the state file between runs. */
    final class Db
    {
        public static array $t = [];
    }

    /** What FOSSBilling stores for the password once it is no longer kept. */
    const PASSWORD_PLACEHOLDER = '********';

    /** FOSSBilling\Tools::normalizeBoolean, as server_create uses it. */
    function normalize_boolean(mixed $value, bool $default = false): bool
    {
        if (is_bool($value)) {
            return $value;
        }
        $value = strtolower(trim((string) $value));
        return match (true) {
            in_array($value, ['1', 'true', 'yes', 'on'], true) => true,
            in_array($value, ['0', 'false', 'no', 'off', ''], true) => false,
            default => $default,
        };
    }

    /**
     * Api/Admin::server_create then Service::createServer: `config` is
     * replaced by userprefix and tls_verify alone (whatever config[...] the
     * form posted is dropped); "secure" is yes unless posted (0.8.5 keeps
     * the posted value, main a boolean).
     */
    function server_create(array $data): void
    {
        $data['config'] = ['userprefix' => $data['userprefix'] ?? null,
            'tls_verify' => normalize_boolean($data['tls_verify'] ?? true, true)];
        $secure = $data['secure'] ?? 1;
        Db::$t['servers'][$data['name']] = ['name' => $data['name'], 'ip' => $data['ip'], 'hostname' => $data['hostname'] ?? null,
            'manager' => $data['manager'], 'username' => $data['username'] ?? null, 'password' => $data['password'] ?? null,
            'accesshash' => $data['accesshash'] ?? null, 'port' => $data['port'] ?? null, 'config' => json_encode($data['config']),
            'passwordLength' => is_numeric($data['passwordLength'] ?? '') ? (int) $data['passwordLength'] : null,
            'secure' => FOSSBILLING_MAIN ? normalize_boolean($secure) : $secure, 'ns1' => null, 'ns2' => null, 'ns3' => null, 'ns4' => null];
    }

    /**
     * Api/Admin::server_update then Service::updateServer: the stored config
     * with userprefix and tls_verify replaced; then the manager is built
     * (validateServerConfig: its init() errors are the admin's).
     */
    function server_update(string $name, array $data): void
    {
        $model = &Db::$t['servers'][$name];
        $config = json_decode($model['config'] ?? '', true) ?? [];
        $config['userprefix'] = $data['userprefix'] ?? ($config['userprefix'] ?? null);
        $config['tls_verify'] = normalize_boolean($data['tls_verify'] ?? ($config['tls_verify'] ?? true), true);
        foreach (['ip', 'hostname', 'port', 'username', 'password', 'accesshash'] as $field) {
            if (isset($data[$field]) && $data[$field] !== '') {
                $model[$field] = $data[$field];
            }
        }
        if (array_key_exists('secure', $data)) {
            $model['secure'] = FOSSBILLING_MAIN ? normalize_boolean($data['secure']) : $data['secure'];
        }
        $model['config'] = json_encode($config);
        get_server_manager($model);
    }

    /**
     * Service::updateHp: each config[NAME] that is empty() ("", "0", 0) is
     * removed, any other value kept as given.
     */
    function update_hp(string $plan, array $config): void
    {
        $stored = json_decode(Db::$t['plans'][$plan]['config'] ?? '', true) ?? [];
        foreach ($config as $key => $value) {
            if (empty($value)) {
                unset($stored[$key]);
            } else {
                $stored[$key] = $value;
            }
        }
        Db::$t['plans'][$plan]['config'] = json_encode($stored);
    }

    /** Service::getServerManager: the server's columns as the manager's options, and the shared logger. */
    function get_server_manager(array $server): Server_Manager
    {
        $manager = new Server_Manager_Sandboxed([
            'ip' => $server['ip'], 'host' => $server['hostname'], 'port' => $server['port'] === null ? null : (int) $server['port'],
            'config' => json_decode($server['config'] ?? '', true) ?? [], 'secure' => $server['secure'],
            'username' => $server['username'], 'password' => $server['password'], 'accesshash' => $server['accesshash'],
            'passwordLength' => $server['passwordLength'],
        ]);
        // di['server_manager'] sets the container's shared logger.
        $manager->setLog(shared_logger());
        return $manager;
    }

    /**
     * di['logger']: one object per request, as Pimple shares it. 0.8.5's
     * order service writes the order's id into it (setEventItem) and hands
     * it out; main's hands out a copy with the order in its context.
     */
    function shared_logger(): object
    {
        static $logger = null;
        return $logger ??= FOSSBILLING_MAIN ? new FOSSBilling\Logger() : new Box_Log();
    }

    /** Service::getServerManagerWithLog: the order service's logger (Order\Service::getLogger). */
    function get_server_manager_with_log(array $server, string $order): Server_Manager
    {
        $manager = get_server_manager($server);
        $status = Db::$t['services'][$order]['order_status'];
        $manager->setLog(FOSSBILLING_MAIN
            ? shared_logger()->withContext(['client_order_id' => $order, 'status' => $status])
            : shared_logger()->setEventItem('client_order_id', $order)->setEventItem('status', $status));
        return $manager;
    }

    /** Service::getServerPackage: the plan's JSON config as custom values, its limits. */
    function get_server_package(array $plan): Server_Package
    {
        $config = json_decode($plan['config'] ?? '', true);
        return (new Server_Package())->setCustomValues(is_array($config) ? $config : [])->setMaxFtp(null)->setMaxSql(null)->setMaxPop(null)
            ->setMaxSubdomains(null)->setMaxParkedDomains(null)->setMaxDomains(null)->setBandwidth($plan['bandwidth'])
            ->setQuota($plan['quota'])->setName($plan['name']);
    }

    /**
     * Service::_getAM: the manager (with the order's log) and the
     * Server_Account of a hosting service. The client's phone goes alone,
     * without its phone_cc; its full name is 0.8.5's "first last" and
     * main's trimmed.
     *
     * @return array{0: Server_Manager, 1: Server_Account}
     */
    function get_am(string $order, array $service, bool $withOrder = true): array
    {
        $client = Db::$t['clients'][$service['client']];
        $server = Db::$t['servers'][$service['server']];
        $fullName = $client['first_name'] . ' ' . $client['last_name'];
        $serverClient = (new Server_Client())->setEmail($client['email'])->setFirstName($client['first_name'])
            ->setLastName($client['last_name'])->setFullName(FOSSBILLING_MAIN ? trim($fullName) : $fullName)
            ->setCompany($client['company'])->setStreet($client['address_1'])->setZip($client['postcode'])->setCity($client['city'])
            ->setState($client['state'])->setCountry($client['country'])->setTelephone($client['phone']);
        $account = (new Server_Account())->setClient($serverClient)->setPackage(get_server_package(Db::$t['plans'][$service['plan']]))
            ->setUsername($service['username'])->setReseller((bool) $service['reseller'])->setDomain($service['sld'] . $service['tld'])
            ->setPassword($service['pass'])->setNs1($server['ns1'])->setNs2($server['ns2'])->setNs3($server['ns3'])
            ->setNs4($server['ns4'])->setIp($service['ip']);
        // A service no order links gets the manager without the order's logger.
        return [$withOrder ? get_server_manager_with_log($server, $order) : get_server_manager($server), $account];
    }

    /** Service::_performOnService: no server action on an order in these states (expiry left out). */
    function perform_on_service(array $service): bool
    {
        return !in_array($service['order_status'], ['failed_setup', 'pending_setup', 'suspended', 'canceled'], true);
    }

    /** FOSSBilling\Tools::generatePassword($length, true): letters, digits and specials. */
    function generate_password(int $length): string
    {
        $set = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%&?()+-_';
        $password = 'aA1!';
        while (strlen($password) < $length) {
            $password .= $set[random_int(0, strlen($set) - 1)];
        }
        return str_shuffle($password);
    }

    /**
     * Service::action_activate. 0.8.5: a username from the order's config
     * or generateUsername, createAccount unless the order's config says
     * `import` (the account exists at the server), asterisks for
     * the password, stored only at the end (a failure stores nothing).
     * main: the same, except that a service which has a username already
     * is taken as provisioned and createAccount is skipped; and the
     * username and password are set on the managed entity before
     * createAccount, so a failure's flush stores them.
     *
     * @return array{username: string}
     */
    function action_activate(string $order): array
    {
        $stored = &Db::$t['services'][$order];
        $model = $stored;
        $serverManager = get_server_manager(Db::$t['servers'][$model['server']]);
        $alreadyProvisioned = FOSSBILLING_MAIN && !empty($model['username']);
        $pass = generate_password($serverManager->getPasswordLength());
        if ($alreadyProvisioned) {
            $username = $model['username'];
        } elseif (!empty($model['config']['username'])) {
            $username = $model['config']['username'];
        } else {
            $username = $serverManager->generateUsername($model['sld'] . $model['tld']);
        }
        $model['username'] = $username;
        $model['pass'] = $pass;
        if (FOSSBILLING_MAIN) {
            // Doctrine: the entity is managed; the order service's flush on failure writes it.
            $stored = $model;
        }
        if (!$alreadyProvisioned && empty($model['config']['import'])) {
            [$adapter, $account] = get_am($order, $model);
            $adapter->createAccount($account);
            if (RequestDies::$afterCreate) {
                throw new RequestDies('the request died after createAccount returned, before FOSSBilling stored the service');
            }
        }
        $model['pass'] = PASSWORD_PLACEHOLDER;
        $stored = $model;
        return ['username' => $username];
    }

    /**
     * Order\Service::activateOrder/createFromOrder: only a pending or failed
     * order; a failure marks it failed_setup and notes the message, but
     * 0.8.5 catches \Exception only (a TypeError leaves it pending_setup).
     */
    function activate_order(string $order): array
    {
        $service = &Db::$t['services'][$order];
        if (!in_array($service['order_status'], ['pending_setup', 'failed_setup'], true)) {
            throw new FOSSBilling\Exception('Only pending setup or failed orders can be activated');
        }
        try {
            $result = action_activate($order);
        } catch (Exception $failure) {
            $service['order_status'] = 'failed_setup';
            $service['notes'][] = $failure->getMessage();
            throw $failure;
        } catch (Throwable $failure) {
            if (FOSSBILLING_MAIN) {
                $service['order_status'] = 'failed_setup';
                $service['notes'][] = $failure->getMessage();
            }
            throw $failure;
        }
        $service['order_status'] = 'active';
        $service['notes'][] = 'Order activated';
        return $result;
    }

    /** The server named by the admin form's fields ("name=value"). */
    function form_fields(array $args): array
    {
        $fields = [];
        foreach ($args as $arg) {
            [$name, $value] = explode('=', $arg, 2) + [1 => ''];
            $fields[$name] = $value;
        }
        return $fields;
    }

    /** One step; answers what FOSSBilling shows (an exception's message is an error). */
    function run_step(string $step, array $args): mixed
    {
        switch ($step) {
            case 'setup':
                $parts = parse_url((string) getenv('SANDBOXED_URL'));
                $plans = json_decode((string) getenv('PLANS_JSON'), true, flags: JSON_THROW_ON_ERROR);
                Db::$t = ['servers' => [], 'plans' => [], 'services' => [], 'clients' => [
                    '1' => ['email' => 'baraka@example.co.tz', 'first_name' => 'Baraka', 'last_name' => 'Mwita', 'company' => 'Mwita Traders',
                        'address_1' => 'Plot 7, Uhuru St', 'postcode' => '11101', 'city' => 'Dar es Salaam', 'state' => 'Dar es Salaam',
                        'country' => 'TZ', 'phone_cc' => '255', 'phone' => '0713 000111'],
                    '2' => ['email' => 'anna@example.co.ke', 'first_name' => 'Anna Maria', 'last_name' => 'Wanjiru Otieno', 'company' => null,
                        'address_1' => 'Moi Avenue 12', 'postcode' => '00100', 'city' => 'Nairobi', 'state' => 'Nairobi',
                        'country' => 'KE', 'phone_cc' => '254', 'phone' => '0722 123456'],
                ]];
                foreach ($plans as $name => $plan) {
                    $module = (string) $plan['module'];
                    if (!isset(Db::$t['servers'][$module])) {
                        // The admin sets "Use secure connection" to No: serve listens on plain HTTP.
                        server_create(['name' => $module, 'ip' => $parts['host'], 'hostname' => $parts['host'], 'port' => (string) $parts['port'],
                            'manager' => 'Sandboxed', 'username' => $module, 'accesshash' => (string) getenv('SANDBOXED_TOKEN'),
                            'secure' => '0', 'tls_verify' => '1']);
                    }
                    // Service::createHp (no config), then the plan's page (updateHp).
                    Db::$t['plans'][$name] = ['name' => $name, 'server' => $module, 'quota' => '1024', 'bandwidth' => '10240', 'config' => null];
                    update_hp($name, $plan['config']);
                }
                return count(Db::$t['servers']) . ' servers, ' . count(Db::$t['plans']) . ' plans';
            case 'form':
                return Server_Manager_Sandboxed::getForm();
            case 'server-add':
                [$name, $module] = $args;
                $parts = parse_url((string) getenv('SANDBOXED_URL'));
                // The admin form's fields: its radios default to secure 1 and tls_verify 1.
                server_create(form_fields(array_slice($args, 2)) + ['name' => $name, 'ip' => $parts['host'], 'hostname' => $parts['host'],
                    'port' => (string) $parts['port'], 'manager' => 'Sandboxed', 'username' => $module,
                    'accesshash' => (string) getenv('SANDBOXED_TOKEN'), 'secure' => '1', 'tls_verify' => '1']);
                return get_server_manager(Db::$t['servers'][$name])->testConnection();
            case 'server-update':
                server_update($args[0], form_fields(array_slice($args, 1)));
                return true;
            case 'test':
                return get_server_manager(Db::$t['servers'][$args[0]])->testConnection();
            case 'plan-config':
                [$plan, $name, $json] = $args;
                update_hp($plan, [$name => json_decode($json, true, flags: JSON_THROW_ON_ERROR)]);
                return json_decode(Db::$t['plans'][$plan]['config'], true);
            case 'order':
            case 'create':
                [$order, $sld, $tld] = $args;
                $plan = $args[3] ?? $order;
                // Order::action_create: the hosting service of the order, not yet set up.
                Db::$t['services'][$order] = ['server' => Db::$t['plans'][$plan]['server'], 'plan' => $plan, 'client' => $args[4] ?? '1',
                    'sld' => $sld, 'tld' => $tld, 'ip' => Db::$t['servers'][Db::$t['plans'][$plan]['server']]['ip'], 'reseller' => false,
                    'username' => null, 'pass' => null, 'order_status' => 'pending_setup', 'notes' => [],
                    // The order's configuration: a username, and `import` (the account exists: no createAccount).
                    'config' => array_filter(['username' => $args[5] ?? null, 'import' => ($args[6] ?? '') === 'import'])];
                return $step === 'create' ? activate_order($order) : 'pending_setup';
            case 'activate':
                return activate_order($args[0]);
            case 'order-config':
                // Order\Api\Admin::update_config → Service::updateOrderConfig: the whole config replaced.
                Db::$t['services'][$args[0]]['config'] = json_decode($args[1], true, flags: JSON_THROW_ON_ERROR);
                return Db::$t['services'][$args[0]]['config'];
            case 'activate-dies':
                RequestDies::$afterCreate = true;
                return activate_order($args[0]);
            case 'show':
                return Db::$t['services'][$args[0]];
        }
        $order = (string) $args[0];
        $service = &Db::$t['services'][$order];
        switch ($step) {
            case 'suspend':
                // Order\Service::suspendFromOrder: only an active order.
                if ($service['order_status'] !== 'active') {
                    throw new FOSSBilling\InformationException('Only active orders can be suspended');
                }
                [$manager, $account] = get_am($order, $service);
                if (FOSSBILLING_MAIN) {
                    // main's action_suspend takes the reason to the account's note.
                    $account->setNote($args[1] ?? null);
                }
                $manager->suspendAccount($account);
                $service['order_status'] = 'suspended';
                return true;
            case 'unsuspend':
                // Order\Service::unsuspendFromOrder checks no status.
                [$manager, $account] = get_am($order, $service);
                $manager->unsuspendAccount($account);
                $service['order_status'] = 'active';
                return true;
            case 'cancel':
                if (in_array($service['order_status'], ['canceled', 'pending_setup', 'failed_setup'], true)) {
                    throw new FOSSBilling\Exception('Cannot cancel ' . $service['order_status'] . ' order');
                }
                [$manager, $account] = get_am($order, $service);
                $manager->cancelAccount($account);
                $service['order_status'] = 'canceled';
                return true;
            case 'uncancel':
                // action_uncancel: (a new service row, unused), a new password, createAccount under the stored username.
                $service['pass'] = generate_password(get_server_manager(Db::$t['servers'][$service['server']])->getPasswordLength());
                [$manager, $account] = get_am($order, $service);
                $manager->createAccount($account);
                $service['pass'] = PASSWORD_PLACEHOLDER;
                $service['order_status'] = 'active';
                return true;
            case 'sync':
                // Service::sync: only the username and the IP are read back.
                [$manager, $account] = get_am($order, $service);
                $updated = $manager->synchronizeAccount($account);
                if ($account->getUsername() != $updated->getUsername()) {
                    $service['username'] = $updated->getUsername();
                }
                if ($account->getIp() != $updated->getIp()) {
                    $service['ip'] = $updated->getIp();
                }
                return true;
            case 'orphan-suspend':
                // In one request: an action on order OTHER through its order (the shared logger now names it), then a
                // suspend of this service as _getAM builds it when getServiceOrder finds no order.
                get_am($args[1], Db::$t['services'][$args[1]]);
                [$manager, $account] = get_am($order, $service, false);
                $manager->suspendAccount($account);
                return true;
            case 'login':
                // Service::generateLoginUrl.
                [$manager, $account] = get_am($order, $service);
                return $service['reseller'] ? $manager->getResellerLoginUrl($account) : $manager->getLoginUrl($account);
            case 'password':
                if (perform_on_service($service)) {
                    [$manager, $account] = get_am($order, $service);
                    $manager->changeAccountPassword($account, $args[1]);
                }
                $service['pass'] = PASSWORD_PLACEHOLDER;
                return true;
            case 'plan':
                // changeAccountPlan: the new plan is set first, so the account carries it too.
                $service['plan'] = $args[1];
                if (perform_on_service($service)) {
                    $package = get_server_package(Db::$t['plans'][$args[1]]);
                    [$manager, $account] = get_am($order, $service);
                    $manager->changeAccountPackage($account, $package);
                }
                return true;
            case 'domain':
                if (perform_on_service($service)) {
                    [$manager, $account] = get_am($order, $service);
                    $manager->changeAccountDomain($account, $args[1] . $args[2]);
                }
                [$service['sld'], $service['tld']] = [$args[1], $args[2]];
                return true;
            case 'username':
                $username = strtolower($args[1]);
                if (perform_on_service($service)) {
                    [$manager, $account] = get_am($order, $service);
                    $manager->changeAccountUsername($account, $username);
                }
                $service['username'] = $username;
                return true;
            case 'ip':
                if (perform_on_service($service)) {
                    [$manager, $account] = get_am($order, $service);
                    $manager->changeAccountIp($account, $args[1]);
                }
                $service['ip'] = $args[1];
                return true;
        }
        throw new LogicException("no step {$step}");
    }

    [, $stateFile, $step] = $argv + [null, null, null];
    // FOSSBilling's cache directory, where the manager keeps the modules' info for getForm.
    define('PATH_CACHE', dirname((string) $stateFile));
    if (is_file((string) $stateFile)) {
        Db::$t = json_decode((string) file_get_contents($stateFile), true, flags: JSON_THROW_ON_ERROR);
    }
    try {
        $answer = ['ok' => run_step((string) $step, array_slice($argv, 3))];
    } catch (RequestDies $death) {
        // PHP's max_execution_time, a killed worker: nothing of the request is stored.
        echo json_encode(['died' => $death->getMessage(), 'log' => Activity::$lines, 'error_log' => Activity::$errorLog]), "\n";
        exit(0);
    } catch (FOSSBilling\Exception $failure) {
        $answer = ['error' => $failure->getMessage()];
    } catch (Throwable $failure) {
        // What FOSSBilling would not catch (a TypeError, a call to an undefined method): its error page.
        $answer = ['error' => $failure->getMessage(), 'uncaught' => get_class($failure)];
    }
    file_put_contents((string) $stateFile, json_encode(Db::$t, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));
    echo json_encode($answer + ['log' => Activity::$lines, 'error_log' => Activity::$errorLog], JSON_UNESCAPED_SLASHES), "\n";
}
