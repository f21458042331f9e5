<?php

/**
 * Blesta module "Sandboxed": a bridge from Blesta's services to
 * `provisioning serve`.
 *
 * Every provider module runs as a WebAssembly component inside the
 * provisioning host; this file holds no provider code. A module row is one
 * module of one host (serve's URL, its token, encrypted, and the module's
 * name in serve's manifest); a package takes the provider's package and the
 * module's product settings from its meta, both offered from the module's
 * `info`; a service keeps what the provider issued (its id, generated
 * credentials) in its service fields, secrets encrypted.
 *
 * Journal discipline, as in the WHMCS module:
 * - Idempotency keys per service. Blesta calls addService before the service
 *   has an id (Services::add) and without one when it activates a pending
 *   service (Services::edit), so a service is keyed by its client and domain
 *   (and the username, when one was given): service_id
 *   "blesta-c<client>-<domain>[-<username>]", create key "<service_id>-create"
 *   (plus "-after-<remote id>" once that service had an account before), or
 *   the key of a create of it still pending in the journal, so that a retry
 *   after a lost answer gets the recorded answer instead of a second account.
 *   Cancel carries "<service_id>-cancel-<remote id>".
 * - The answer stored before the entry is acknowledged: Blesta stores the
 *   fields addService returns only after it returns, so the create's entry
 *   is named in the field `sandboxed_journal_entry` and acknowledged by the
 *   next call that sees the fields stored (any lifecycle call, or the admin's
 *   view of the service), which then drops the field. Other calls store
 *   nothing new and are acknowledged at once, or, when the provider issued a
 *   credential (a reset password), once their fields are returned likewise.
 * - Unknown outcomes are left for the operator: the error names the entry.
 *
 * Errors reach Blesta through `$this->Input->setErrors()`, keyed by their
 * kind: a function the module does not support is the module's own
 * `unsupported` answer, which names the provider's limitation. A service's
 * fields are checked before anything reaches the provider (validateService
 * on add, validateServiceEdit, which Blesta's Services::edit calls first).
 *
 * The client's "Service" tab (getClientTabs) shows the status, the usage
 * with its limits and a single sign-on, where the provider's module can.
 *
 * Checked against Blesta 4.7's and 5.x's Services model and Module class;
 * see README.md for what it cannot do there.
 *
 * @see https://docs.blesta.com/display/dev/Modules
 */
class Sandboxed extends Module
{
    /** Default port of `provisioning serve`. */
    private const DEFAULT_URL = 'http://127.0.0.1:8790';

    /** Blesta's pricing terms as the contract's billing cycles. */
    private const CYCLES = ['1 month' => 'monthly', '3 month' => 'quarterly', '6 month' => 'semiannually',
        '1 year' => 'annually', '2 year' => 'biennially', '3 year' => 'triennially'];

    /** @var array<string, array<string, mixed>> module infos by row, read once per request */
    private array $infos = [];

    public function __construct()
    {
        $this->loadConfig(__DIR__ . DS . 'config.json');
        Loader::loadComponents($this, ['Input']);
        Language::loadLang('sandboxed', null, __DIR__ . DS . 'language' . DS);
    }

    // ---- Module rows ----------------------------------------------------------

    /** The module rows, as Blesta's manage page shows them. */
    public function manageModule($module, array &$vars)
    {
        return $this->render('manage', ['module' => $module]);
    }

    public function manageAddRow(array &$vars)
    {
        return $this->render('add_row', ['vars' => (object) $vars]);
    }

    public function manageEditRow($module_row, array &$vars)
    {
        // The token is never shown again: blank keeps the stored one.
        $shown = empty($vars) ? (array) $module_row->meta : $vars;
        unset($shown['token']);
        return $this->render('edit_row', ['vars' => (object) $shown]);
    }

    /** Checks the row (serve answers for the module with the token) and returns its meta. */
    public function addModuleRow(array &$vars)
    {
        return $this->rowMeta($vars);
    }

    public function editModuleRow($module_row, array &$vars)
    {
        if (trim((string) ($vars['token'] ?? '')) === '') {
            $vars['token'] = (string) ($module_row->meta->token ?? '');
        }
        return $this->rowMeta($vars);
    }

    public function deleteModuleRow($module_row)
    {
    }

    // ---- Packages ----------------------------------------------------------------

    /**
     * The package's fields from the module's info: the provider's package (a
     * list where the module can list packages) and each product setting.
     */
    public function getPackageFields($vars = null)
    {
        $fields = new ModuleFields();
        $row = $this->packageRow($vars);
        if ($row === null) {
            return $fields;
        }
        $meta = (array) ($vars->meta ?? []);
        try {
            $info = $this->info($row);
        } catch (SandboxedFailure $failure) {
            $this->Input->setErrors(['module_row' => ['unreachable' => $failure->describe()]]);
            return $fields;
        }
        $packages = null;
        if (in_array('list-packages', $info['functions'], true)) {
            try {
                $listed = $this->call($row, ['function' => 'list-packages'], [], null);
                $packages = [];
                foreach ($listed['value'] ?? [] as $package) {
                    $packages[(string) $package['id']] = (string) $package['name'];
                }
            } catch (SandboxedFailure $failure) {
                $packages = null;
            }
        }
        $label = $fields->label(Language::_($packages === null ? 'Sandboxed.package_fields.package_text' : 'Sandboxed.package_fields.package', true), 'sandboxed_package');
        $label->attach($packages === null
            ? $fields->fieldText('meta[package]', $meta['package'] ?? '', ['id' => 'sandboxed_package'])
            : $fields->fieldSelect('meta[package]', $packages, $meta['package'] ?? null, ['id' => 'sandboxed_package']));
        $fields->setField($label);
        foreach ($info['settings'] as $spec) {
            if ($spec['scope'] !== 'product') {
                continue;
            }
            $name = 'meta[' . $spec['name'] . ']';
            $id = 'sandboxed_' . $spec['name'];
            $value = $meta[$spec['name']] ?? ($spec['default'] ?? '');
            $label = $fields->label((string) $spec['label'], $id, ['title' => (string) ($spec['help'] ?? '')]);
            $label->attach(match ($spec['kind']) {
                'choice' => $fields->fieldSelect($name, array_combine($spec['choices'], $spec['choices']), $value, ['id' => $id]),
                'boolean' => $fields->fieldSelect($name, ['true' => 'true', 'false' => 'false'], $value, ['id' => $id]),
                'secret' => $fields->fieldPassword($name, ['id' => $id, 'value' => $value]),
                default => $fields->fieldText($name, $value, ['id' => $id]),
            });
            $fields->setField($label);
        }
        return $fields;
    }

    public function addPackage(array $vars = null)
    {
        return $this->packageMeta($vars ?? []);
    }

    public function editPackage($package, array $vars = null)
    {
        return $this->packageMeta($vars ?? []);
    }

    // ---- Service fields --------------------------------------------------------------

    public function getAdminAddFields($package, $vars = null)
    {
        return $this->serviceFields($vars, true);
    }

    public function getClientAddFields($package, $vars = null)
    {
        return $this->serviceFields($vars, false);
    }

    public function getAdminEditFields($package, $vars = null)
    {
        return $this->serviceFields($vars, true);
    }

    /**
     * Checks a service's fields: a domain that is a host name (required on
     * add; on edit, checked only when given). Blesta calls it before an add
     * (Services::validateService) and, through validateServiceEdit, before
     * an edit.
     */
    public function validateService($package, array $vars = null, $edit = false)
    {
        $this->Input->setRules(['sandboxed_domain' => [
            'empty' => ['if_set' => $edit, 'rule' => 'isEmpty', 'negate' => true,
                'message' => Language::_('Sandboxed.!error.sandboxed_domain.empty', true)],
            'format' => ['if_set' => true, 'rule' => [[self::class, 'isHostName']],
                'message' => Language::_('Sandboxed.!error.sandboxed_domain.format', true)],
        ]]);
        return $this->Input->validates($vars);
    }

    /**
     * Checks an edit of a service before Blesta runs it (Services::edit
     * validates through it with no module row set, and editService checks
     * again): the add's rules, each only for a field given.
     */
    public function validateServiceEdit($service, array $vars = null)
    {
        return $this->validateService($service->package ?? null, $vars, true);
    }

    /** Whether a value is a host name (labels of letters, digits and hyphens), upper case allowed. */
    public static function isHostName($value): bool
    {
        $name = strtolower(trim((string) $value));
        return strlen($name) <= 253
            && (bool) preg_match('/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/', $name);
    }

    /** The admin's view of a service: its provider id and module; confirms a create stored. */
    public function getAdminServiceInfo($service, $package)
    {
        $fields = $this->serviceFieldsToObject($service->fields);
        $this->confirmStored($fields);
        return '<p>' . self::html(Language::_('Sandboxed.service_info.remote_id', true)) . ': '
            . self::html($fields->sandboxed_remote_id ?? '-') . '</p>';
    }

    // ---- The client's tab ------------------------------------------------------------

    /** The client's tab of a service: what the WHMCS module's client area shows. */
    public function getClientTabs($package)
    {
        return ['tabClientService' => Language::_('Sandboxed.tab_client_service', true)];
    }

    /**
     * The service as its client sees it (views/default/tab_client_service.pdt):
     * the status (the provider's, where the module reports one), the usage
     * figures with their limits (an unlimited one said as such), and a
     * button that signs on to the provider's panel where the module can;
     * pressed (`sandboxed_action=sign_on` posted), the tab shows the
     * one-time link. A failure to read shows as a line of the tab.
     */
    public function tabClientService($package, $service, array $get = null, array $post = null, array $files = null)
    {
        $fields = $this->serviceFieldsToObject($service->fields);
        $shown = ['provider' => '', 'status' => (string) ($service->status ?? ''), 'status_source' => 'blesta',
            'usage' => [], 'usage_updated' => null, 'sign_on' => false, 'sign_on_url' => null, 'error' => null];
        $row = $this->getModuleRow();
        try {
            if (!$row) {
                throw new SandboxedFailure('module-row', Language::_('Sandboxed.!error.module_row.missing', true));
            }
            $info = $this->info($row);
            $shown['provider'] = (string) $info['name'];
            $settings = $this->packageSettings($info, $package);
            $contract = $this->contractService($row, $package, $fields, ['client_id' => $service->client_id ?? null,
                'pricing_id' => $service->pricing_id ?? null]);
            $read = function (string $function, array $more = []) use ($row, $settings, $contract): array {
                $result = $this->call($row, ['function' => $function, 'service' => $contract] + $more, $settings, null);
                if ($result['journal_entry'] !== null) {
                    $this->acknowledge($row, (int) $result['journal_entry']);
                }
                return $result['ok'];
            };
            // Signing on to a service that is not active would only fail.
            $shown['sign_on'] = in_array('single-sign-on', $info['functions'], true) && ($service->status ?? '') === 'active';
            if (in_array('service-status', $info['functions'], true) && $contract['remote_id'] !== null) {
                $shown['status'] = (string) ($read('service-status')['value']['state'] ?? 'unknown');
                $shown['status_source'] = 'provider';
            }
            if (in_array('usage-data', $info['functions'], true)) {
                $usage = $read('usage-data')['value'] ?? [];
                foreach ($usage['figures'] ?? [] as $figure) {
                    $limit = $figure['limit'] ?? null;
                    // Serve gives a limit as {"value": n}, and no limit as "unlimited".
                    $limitValue = is_array($limit) ? ($limit['value'] ?? null) : null;
                    $shown['usage'][] = ['name' => ucfirst((string) ($figure['name'] ?? '')),
                        'used' => self::figure((float) ($figure['used'] ?? 0)), 'unit' => (string) ($figure['unit'] ?? ''),
                        'limit' => $limitValue === null ? null : self::figure((float) $limitValue)];
                }
                $shown['usage_updated'] = self::text($usage['updated_at'] ?? null);
            }
            if ($shown['sign_on'] && ($post['sandboxed_action'] ?? '') === 'sign_on') {
                $shown['sign_on_url'] = (string) $read('single-sign-on', ['app' => null])['value'];
            }
        } catch (SandboxedFailure $failure) {
            $shown['error'] = Language::_('Sandboxed.tab_client_service.unreadable', true, $failure->kind);
        }
        return $this->render('tab_client_service', ['service_id' => (int) ($service->id ?? 0), 'shown' => (object) $shown]);
    }

    // ---- The lifecycle -------------------------------------------------------------------

    /**
     * Creates the service at the provider (when Blesta says use_module) and
     * returns its fields; its journal entry is acknowledged once Blesta has
     * stored them.
     */
    public function addService($package, array $vars = null, $parent_package = null, $parent_service = null, $status = 'pending')
    {
        $vars = $vars ?? [];
        $row = $this->getModuleRow();
        if (!$row) {
            $this->Input->setErrors(['module_row' => ['missing' => Language::_('Sandboxed.!error.module_row.missing', true)]]);
            return;
        }
        $this->validateService($package, $vars);
        if ($this->Input->errors()) {
            return;
        }
        $domain = strtolower(trim((string) $vars['sandboxed_domain']));
        $username = trim((string) ($vars['sandboxed_username'] ?? ''));
        $fields = ['sandboxed_domain' => $domain, 'sandboxed_username' => $username,
            'sandboxed_password' => (string) ($vars['sandboxed_password'] ?? ''),
            'sandboxed_service_id' => 'blesta-c' . (int) ($vars['client_id'] ?? 0) . '-' . $domain . ($username !== '' ? '-' . $username : '')];
        if (($vars['use_module'] ?? 'false') !== 'true') {
            return self::fieldList($fields);
        }
        if ($username === '') {
            // Blesta's own modules generate the username from the domain.
            $fields['sandboxed_username'] = substr((string) preg_replace('/[^a-z0-9]/', '', $domain), 0, 8);
        }
        try {
            $key = $this->pendingCreateKey($row, $fields['sandboxed_service_id']);
            if ($key === null) {
                $previous = $this->journalRemoteId($row, $fields['sandboxed_service_id']);
                $key = $fields['sandboxed_service_id'] . '-create' . ($previous !== null ? '-after-' . $previous : '');
            }
        } catch (SandboxedFailure $failure) {
            $this->Input->setErrors(['sandboxed' => [$failure->kind => $failure->getMessage()]]);
            return;
        }
        if ($fields['sandboxed_password'] === '') {
            // Derived from the create's key, not drawn at random: Blesta
            // adding the service again after losing the answer sends the
            // same request, which the journal then answers.
            $fields['sandboxed_password'] = 'Sb' . substr(hash_hmac('sha256', $key, (string) $row->meta->token), 0, 16) . '!9';
        }
        return $this->run($row, 'create-account', $package, (object) $fields, $vars,
            static fn (array $service): array => [['function' => 'create-account', 'service' => $service], $key]);
    }

    /**
     * Edits the service: a new domain through change-domain, a new password
     * through change-password, where the module can; the fields as edited.
     */
    public function editService($package, $service, array $vars = null, $parent_package = null, $parent_service = null)
    {
        $vars = $vars ?? [];
        if (!$this->validateServiceEdit($service, $vars)) {
            return;
        }
        $row = $this->getModuleRow();
        $fields = $this->serviceFieldsToObject($service->fields);
        $this->confirmStored($fields);
        if (($vars['use_module'] ?? 'false') === 'true' && $row) {
            $domain = strtolower(trim((string) ($vars['sandboxed_domain'] ?? '')));
            // Blesta passes a new pricing (with the new package) in $vars.
            $known = ['client_id' => $service->client_id ?? null, 'pricing_id' => $vars['pricing_id'] ?? $service->pricing_id ?? null];
            if ($domain !== '' && $domain !== ($fields->sandboxed_domain ?? '')) {
                $this->run($row, 'change-domain', $package, $fields, $known,
                    static fn (array $s): array => [['function' => 'change-domain', 'service' => $s, 'new_domain' => $domain], null]);
                if ($this->Input->errors()) {
                    return;
                }
                $fields->sandboxed_domain = $domain;
            }
            $password = (string) ($vars['sandboxed_password'] ?? '');
            if ($password !== '' && $password !== ($fields->sandboxed_password ?? '')) {
                // The old password is not sent: the new one replaces it.
                $issued = $this->run($row, 'change-password', $package, $fields, $known,
                    static fn (array $s): array => [['function' => 'change-password', 'service' => ['password' => null] + $s, 'new_password' => $password], null], $password);
                if ($this->Input->errors()) {
                    return;
                }
                if ($issued === null) {
                    $fields->sandboxed_password = $password;
                }
            }
        }
        return self::fieldList((array) $fields);
    }

    public function cancelService($package, $service, $parent_package = null, $parent_service = null)
    {
        return $this->lifecycle('terminate', $package, $service, static function (array $s): array {
            return [['function' => 'terminate', 'service' => $s], $s['remote_id'] === null ? null : $s['service_id'] . '-cancel-' . $s['remote_id']];
        });
    }

    public function suspendService($package, $service, $parent_package = null, $parent_service = null)
    {
        return $this->lifecycle('suspend', $package, $service,
            static fn (array $s): array => [['function' => 'suspend', 'service' => $s, 'reason' => null], null]);
    }

    public function unsuspendService($package, $service, $parent_package = null, $parent_service = null)
    {
        return $this->lifecycle('unsuspend', $package, $service,
            static fn (array $s): array => [['function' => 'unsuspend', 'service' => $s], null]);
    }

    /**
     * Moves the service to the new package's provider package (its meta
     * `package`). Blesta hands over the service as it was, its pricing_id
     * one of the old package's pricings, and not the new pricing: the
     * billing cycle sent is the service's current term.
     */
    public function changeServicePackage($package_from, $package_to, $service, $parent_package = null, $parent_service = null)
    {
        $new = trim((string) ($package_to->meta->package ?? ''));
        return $this->lifecycle('change-package', $package_to, $service,
            static fn (array $s): array => [['function' => 'change-package', 'service' => $s, 'new_package' => $new], null],
            $package_from);
    }

    // ---- The call --------------------------------------------------------------------------

    /**
     * A lifecycle call on a stored service: confirms an earlier create
     * stored, runs the call, and answers the fields to keep (null: keep them
     * as they are), or null with Input errors set. `$pricedBy` is the
     * package whose pricings hold the service's pricing_id, when not
     * `$package`.
     */
    private function lifecycle(string $function, $package, $service, callable $build, $pricedBy = null): ?array
    {
        $row = $this->getModuleRow();
        if (!$row) {
            $this->Input->setErrors(['module_row' => ['missing' => Language::_('Sandboxed.!error.module_row.missing', true)]]);
            return null;
        }
        $fields = $this->serviceFieldsToObject($service->fields);
        $confirmed = $this->confirmStored($fields);
        $known = ['client_id' => $service->client_id ?? null, 'pricing_id' => $service->pricing_id ?? null,
            'pricings' => ($pricedBy ?? $package)->pricing ?? []];
        $result = $this->run($row, $function, $package, $fields, $known, $build);
        // Returning the fields drops the entry of a create now acknowledged.
        return $result ?? ($confirmed && !$this->Input->errors() ? self::fieldList((array) $fields) : null);
    }

    /**
     * Runs one function and answers the service's fields with what the
     * provider issued, or null (a call that changes no field, or an error
     * set on Input). An entry whose answer brings fields to store stays
     * pending, named in `sandboxed_journal_entry`, until Blesta has stored
     * them; any other is acknowledged at once.
     *
     * @param callable(array<string, mixed>): array{0: array<string, mixed>, 1: ?string} $build the request and its key
     */
    private function run($row, string $function, $package, object $fields, array $vars, callable $build, string ...$secrets): ?array
    {
        try {
            $info = $this->info($row);
            [$request, $key] = $build($this->contractService($row, $package, $fields, $vars));
            $result = $this->call($row, $request, $this->packageSettings($info, $package), $key, ...$secrets);
            $answer = $result['ok'];
            $entry = $result['journal_entry'];
            $value = is_array($answer['value'] ?? null) ? $answer['value'] : [];
            $issued = false;
            if (($answer['kind'] ?? '') === 'created') {
                $fields->sandboxed_remote_id = (string) $value['remote_id'];
                $issued = true;
            }
            foreach ($value['credentials'] ?? [] as $credential) {
                $name = (string) $credential['name'];
                $field = in_array($name, ['username', 'password'], true) ? 'sandboxed_' . $name : 'sandboxed_credential_' . $name;
                $fields->{$field} = (string) $credential['value'];
                $issued = true;
            }
            if ($entry !== null && $issued) {
                $fields->sandboxed_journal_entry = (string) $entry;
            } elseif ($entry !== null) {
                $this->acknowledge($row, (int) $entry);
            }
            return $issued || $function === 'create-account' ? self::fieldList((array) $fields) : null;
        } catch (SandboxedFailure $failure) {
            $this->Input->setErrors(['sandboxed' => [$failure->kind => $failure->getMessage()]]);
            return null;
        }
    }

    /**
     * Acknowledges the entry named in the stored fields (Blesta has kept the
     * answer it carries) and drops it from them; whether there was one.
     */
    private function confirmStored(object $fields): bool
    {
        $entry = (int) ($fields->sandboxed_journal_entry ?? 0);
        $row = $this->getModuleRow();
        if ($entry <= 0 || !$row) {
            return false;
        }
        $this->acknowledge($row, $entry);
        unset($fields->sandboxed_journal_entry);
        return true;
    }

    /**
     * One call through serve; answers the CallResult with `ok`, or throws a
     * SandboxedFailure (a typed error, unknown outcomes naming the entry).
     *
     * @return array<string, mixed>
     */
    private function call($row, array $request, array $settings, ?string $key, string ...$secrets): array
    {
        $body = ['request' => $request];
        if ($settings !== []) {
            $body['settings'] = $settings;
        }
        if ($key !== null) {
            $body['idempotency_key'] = $key;
        }
        $secrets[] = (string) ($request['service']['password'] ?? '');
        $module = (string) $row->meta->module;
        $path = '/v1/modules/' . rawurlencode($module) . '/call';
        $result = $this->http($row, 'POST', $path, $body, $secrets);
        $this->log((string) $row->meta->url . '|' . $request['function'], self::mask(json_encode($body), $this->secrets($row, $secrets)), 'input', true);
        $this->log((string) $row->meta->url . '|' . $request['function'], self::mask(json_encode(self::withoutCredentials($result)), $this->secrets($row, $secrets)), 'output', !isset($result['error']));
        $entry = isset($result['journal_entry']) ? (int) $result['journal_entry'] : null;
        $result['journal_entry'] = $entry;
        if (!isset($result['error'])) {
            return $result;
        }
        $error = $result['error'];
        $kind = (string) ($error['kind'] ?? 'error');
        $message = (string) ($error['message'] ?? '');
        foreach (["{$module}: {$kind}: ", "{$module}: "] as $prefix) {
            if (str_starts_with($message, $prefix)) {
                $message = substr($message, strlen($prefix));
                break;
            }
        }
        $message = $kind . ': ' . self::mask($message, $this->secrets($row, $secrets));
        if ($entry !== null && (bool) ($error['uncertain'] ?? false)) {
            $message .= Language::_('Sandboxed.!error.unknown_outcome', true, $entry);
        } elseif ($entry !== null && !in_array($kind, ['outcome-unknown', 'in-progress'], true)) {
            // A refusal: nothing happened, and the journal knows it.
            $this->acknowledge($row, $entry);
        }
        throw new SandboxedFailure($kind, $message);
    }

    private function acknowledge($row, int $entry): void
    {
        try {
            $this->http($row, 'POST', "/v1/journal/{$entry}/ack", new stdClass(), []);
        } catch (SandboxedFailure $failure) {
            if ($failure->kind !== 'not-pending') {
                $this->log((string) $row->meta->url . '|ack', $failure->getMessage(), 'output', false);
            }
        }
    }

    /** The key of a create of this service still pending in the journal, or null. */
    private function pendingCreateKey($row, string $serviceId): ?string
    {
        $pending = $this->http($row, 'GET', '/v1/journal/pending', null, [])['pending'] ?? [];
        foreach (array_reverse($pending) as $entry) {
            $intent = $entry['intent'] ?? [];
            if (($intent['module'] ?? '') === $row->meta->module && ($intent['function'] ?? '') === 'create-account'
                && ($intent['service_id'] ?? '') === $serviceId) {
                return (string) $intent['idempotency_key'];
            }
        }
        return null;
    }

    /** The remote id the journal holds for a service id (from an earlier create), or null. */
    private function journalRemoteId($row, string $serviceId): ?string
    {
        $path = '/v1/modules/' . rawurlencode((string) $row->meta->module) . '/services/' . rawurlencode($serviceId) . '/remote-id';
        $remote = trim((string) ($this->http($row, 'GET', $path, null, [])['remote_id'] ?? ''));
        return $remote === '' ? null : $remote;
    }

    /**
     * The contract's service record from the service's fields, its package
     * and Blesta's client.
     *
     * @return array<string, mixed>
     */
    private function contractService($row, $package, object $fields, array $vars): array
    {
        $password = (string) ($fields->sandboxed_password ?? '');
        $pricingId = (int) ($vars['pricing_id'] ?? 0);
        $cycle = null;
        foreach ($vars['pricings'] ?? $package->pricing ?? [] as $pricing) {
            if ((int) $pricing->id === $pricingId) {
                $cycle = self::CYCLES[(int) $pricing->term . ' ' . $pricing->period] ?? null;
            }
        }
        $clientId = (int) ($vars['client_id'] ?? 0);
        return [
            'service_id' => (string) ($fields->sandboxed_service_id ?? ''),
            'remote_id' => self::text($fields->sandboxed_remote_id ?? null),
            'domain' => self::text($fields->sandboxed_domain ?? null),
            'username' => self::text($fields->sandboxed_username ?? null),
            'password' => $password === '' ? null : $password,
            'package' => self::text($package->meta->package ?? null),
            'billing_cycle' => $cycle,
            'client' => $this->client($clientId),
            'custom_fields' => [],
        ];
    }

    /** The contract's contact from Blesta's client record. */
    private function client(int $clientId): ?array
    {
        if ($clientId <= 0) {
            return null;
        }
        Loader::loadModels($this, ['Clients', 'Contacts']);
        // With its settings: the client's language is one of them.
        $client = $this->Clients->get($clientId, true);
        if (!$client || empty($client->email)) {
            return null;
        }
        $phone = null;
        foreach ($this->Contacts->getNumbers($client->contact_id) as $number) {
            if (($number->type ?? '') === 'phone') {
                $phone = self::text(preg_replace('/[\s.\-()]/', '', (string) $number->number));
                break;
            }
        }
        return [
            'first_name' => (string) $client->first_name, 'last_name' => (string) $client->last_name,
            'company' => self::text($client->company ?? null), 'email' => (string) $client->email, 'phone' => $phone,
            'address' => self::text(trim(($client->address1 ?? '') . ' ' . ($client->address2 ?? ''))),
            'city' => self::text($client->city ?? null), 'state' => self::text($client->state ?? null),
            'postcode' => self::text($client->zip ?? null), 'country' => self::text($client->country ?? null),
            'language' => self::text(substr((string) ($client->settings['language'] ?? ''), 0, 2)),
        ];
    }

    /**
     * The module's product settings from the package's meta.
     *
     * @return list<array{name: string, value: string}>
     */
    private function packageSettings(array $info, $package): array
    {
        $settings = [];
        foreach ($info['settings'] as $spec) {
            $value = trim((string) ($package->meta->{$spec['name']} ?? ''));
            if ($spec['scope'] === 'product' && $value !== '') {
                $settings[] = ['name' => (string) $spec['name'], 'value' => $value];
            }
        }
        return $settings;
    }

    // ---- The host ------------------------------------------------------------------------

    /** The module's info as serve describes it (its enums the contract's words). */
    private function info($row): array
    {
        $cacheKey = (string) $row->meta->url . "\0" . (string) $row->meta->module;
        if (!isset($this->infos[$cacheKey])) {
            $described = $this->http($row, 'GET', '/v1/modules/' . rawurlencode((string) $row->meta->module), null, []);
            $info = (array) ($described['info'] ?? []);
            $info['name'] = (string) ($info['name'] ?? '');
            $info['functions'] ??= [];
            $info['settings'] ??= [];
            $this->infos[$cacheKey] = $info;
        }
        return $this->infos[$cacheKey];
    }

    /**
     * One request to serve: the decoded JSON of a 200, else a
     * SandboxedFailure with the API's error kind.
     */
    private function http($row, string $method, string $path, array|object|null $body, array $secrets): array
    {
        if (!function_exists('curl_init')) {
            throw new SandboxedFailure('invalid-config', "PHP's curl extension is not installed");
        }
        $url = rtrim((string) ($row->meta->url ?? self::DEFAULT_URL), '/');
        $handle = curl_init($url . $path);
        $headers = ['Authorization: Bearer ' . (string) $row->meta->token, 'Accept: application/json'];
        $options = [CURLOPT_RETURNTRANSFER => true, CURLOPT_CUSTOMREQUEST => $method, CURLOPT_CONNECTTIMEOUT => 5,
            CURLOPT_TIMEOUT => 120, CURLOPT_FOLLOWLOCATION => false, CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS];
        if ($body !== null) {
            $headers[] = 'Content-Type: application/json';
            $options[CURLOPT_POSTFIELDS] = json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        }
        $options[CURLOPT_HTTPHEADER] = $headers;
        curl_setopt_array($handle, $options);
        $raw = curl_exec($handle);
        $error = curl_error($handle);
        $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        curl_close($handle);
        if ($raw === false) {
            throw new SandboxedFailure('transport', "could not reach provisioning serve at {$url}: {$error}");
        }
        $decoded = json_decode((string) $raw, true);
        if (!is_array($decoded)) {
            throw new SandboxedFailure('bad-response', "provisioning serve at {$url} answered HTTP {$status} with something that is not JSON");
        }
        if ($status !== 200) {
            $kind = (string) ($decoded['error']['kind'] ?? 'http-' . $status);
            throw new SandboxedFailure($kind, self::mask("{$kind}: provisioning serve refused {$method} {$path} (HTTP {$status}): "
                . (string) ($decoded['error']['message'] ?? ''), $this->secrets($row, $secrets)));
        }
        return $decoded;
    }

    // ---- Rows, packages, fields --------------------------------------------------------------

    /**
     * One of the module's views (views/default/NAME.pdt) rendered with
     * Blesta's Form, Html and Widget helpers.
     *
     * @param array<string, mixed> $values what the view is given
     */
    private function render(string $name, array $values): string
    {
        $this->view = new View($name, 'default');
        $this->view->base_uri = $this->base_uri;
        $this->view->setDefaultView('components' . DS . 'modules' . DS . 'sandboxed' . DS);
        Loader::loadHelpers($this, ['Form', 'Html', 'Widget']);
        foreach ($values as $key => $value) {
            $this->view->set($key, $value);
        }
        return $this->view->fetch();
    }

    /** The row's meta, after checking that serve has the module and takes the token. */
    private function rowMeta(array $vars): ?array
    {
        $this->Input->setRules([
            'server_label' => ['empty' => ['rule' => 'isEmpty', 'negate' => true, 'message' => Language::_('Sandboxed.!error.server_label.empty', true)]],
            'url' => ['format' => ['rule' => [static fn ($url): bool => (bool) preg_match('#^https?://[^/\s]+/?$#', (string) $url)],
                'message' => Language::_('Sandboxed.!error.url.format', true)]],
            'token' => ['empty' => ['rule' => 'isEmpty', 'negate' => true, 'message' => Language::_('Sandboxed.!error.token.empty', true)]],
        ]);
        if (!$this->Input->validates($vars)) {
            return null;
        }
        $row = (object) ['meta' => (object) ['url' => $vars['url'], 'token' => $vars['token'], 'module' => trim((string) ($vars['module'] ?? ''))]];
        try {
            $this->info($row);
        } catch (SandboxedFailure $failure) {
            $this->Input->setErrors(['module' => ['unknown' => Language::_('Sandboxed.!error.module.unknown', true, $failure->getMessage())]]);
            return null;
        }
        return [
            ['key' => 'server_label', 'value' => (string) $vars['server_label'], 'encrypted' => 0],
            ['key' => 'url', 'value' => rtrim((string) $vars['url'], '/'), 'encrypted' => 0],
            ['key' => 'token', 'value' => (string) $vars['token'], 'encrypted' => 1],
            ['key' => 'module', 'value' => $row->meta->module, 'encrypted' => 0],
        ];
    }

    /** The module row a package form is for: the one chosen, else the group's first. */
    private function packageRow($vars): ?object
    {
        if (!empty($vars->module_row) && $vars->module_row > 0) {
            return $this->getModuleRow($vars->module_row) ?: null;
        }
        $rows = $this->getModuleRows($vars->module_group ?? null);
        return $rows[0] ?? null;
    }

    /** A package's meta: every `meta[...]` value, none encrypted (secrets belong to serve's manifest). */
    private function packageMeta(array $vars): array
    {
        $meta = [];
        foreach ((array) ($vars['meta'] ?? []) as $key => $value) {
            $meta[] = ['key' => (string) $key, 'value' => (string) $value, 'encrypted' => 0];
        }
        return $meta;
    }

    private function serviceFields($vars, bool $admin): ModuleFields
    {
        $fields = new ModuleFields();
        $names = ['sandboxed_domain' => 'Sandboxed.service_fields.domain'] + ($admin
            ? ['sandboxed_username' => 'Sandboxed.service_fields.username', 'sandboxed_password' => 'Sandboxed.service_fields.password'] : []);
        foreach ($names as $name => $label) {
            $field = $fields->label(Language::_($label, true), $name);
            $field->attach($name === 'sandboxed_password'
                ? $fields->fieldPassword($name, ['id' => $name])
                : $fields->fieldText($name, (string) ($vars->{$name} ?? ''), ['id' => $name]));
            $fields->setField($field);
        }
        return $fields;
    }

    /**
     * Blesta's service fields: key, value, and `encrypted` for the password
     * and every other secret the provider issued.
     *
     * @param array<string, mixed> $fields
     *
     * @return list<array{key: string, value: string, encrypted: int}>
     */
    private static function fieldList(array $fields): array
    {
        $list = [];
        foreach ($fields as $key => $value) {
            $secret = $key === 'sandboxed_password' || str_starts_with($key, 'sandboxed_credential_');
            $list[] = ['key' => (string) $key, 'value' => (string) $value, 'encrypted' => $secret ? 1 : 0];
        }
        return $list;
    }

    // ---- Small helpers ------------------------------------------------------------------------

    private function secrets($row, array $more): array
    {
        return array_values(array_filter(array_merge([(string) ($row->meta->token ?? '')], $more), static fn ($s): bool => (string) $s !== ''));
    }

    /** @param array<string, mixed> $result */
    private static function withoutCredentials(array $result): array
    {
        foreach ($result['ok']['value']['credentials'] ?? [] as $index => $credential) {
            $result['ok']['value']['credentials'][$index]['value'] = '***';
        }
        if (($result['ok']['kind'] ?? '') === 'sign-on') {
            $result['ok']['value'] = '***';
        }
        return $result;
    }

    private static function mask(string $text, array $secrets): string
    {
        foreach ($secrets as $secret) {
            $text = str_replace([(string) $secret, substr((string) json_encode((string) $secret), 1, -1)], '***', $text);
        }
        return $text;
    }

    private static function text(mixed $value): ?string
    {
        $value = is_scalar($value) ? trim((string) $value) : '';
        return $value === '' ? null : $value;
    }

    /** A figure as people read it: no trailing ".0", two decimals at most. */
    private static function figure(float $value): string
    {
        return rtrim(rtrim(number_format($value, 2, '.', ''), '0'), '.');
    }

    private static function html(string $text): string
    {
        return htmlspecialchars($text, ENT_QUOTES, 'UTF-8');
    }
}

/** A failure before or around a call: its kind and a message without secrets. */
final class SandboxedFailure extends RuntimeException
{
    public function __construct(public readonly string $kind, string $message)
    {
        parent::__construct($message);
    }

    public function describe(): string
    {
        return $this->kind . ': ' . $this->getMessage();
    }
}
