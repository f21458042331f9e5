<?php

/**
 * Hooks of the `sandboxed` server module (WHMCS loads a server module's
 * hooks.php by itself): an admin dashboard widget listing every journal
 * entry the provisioning hosts still hold, so that an unknown outcome is
 * seen on the admin's home page rather than only through the CLI.
 *
 * It asks every server of type "sandboxed" (GET /v1/journal/pending) with
 * the server's own token, and shows each entry's state, module, function,
 * service and key; never the credentials an entry holds.
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

use WHMCS\Database\Capsule;

require_once __DIR__ . '/lib/loader.php';

if (!class_exists('SandboxedJournalWidget')) {
    /** The dashboard widget: the hosts' pending and unknown journal entries. */
    final class SandboxedJournalWidget extends \WHMCS\Module\AbstractWidget
    {
        protected $title = 'Provisioning journal';
        protected $description = 'Calls of the sandboxed provisioning modules still pending, and those whose outcome is unknown';
        protected $weight = 150;
        protected $columns = 1;
        protected $cache = false;
        protected $cacheExpiry = 60;
        protected $requiredPermission = '';

        /**
         * Each sandboxed server's pending entries, or why it could not be asked.
         *
         * @return list<array{server: string, entries: list<array<string, mixed>>, error: ?string}>
         */
        public function getData()
        {
            $servers = [];
            foreach (Capsule::table('tblservers')->where('type', 'sandboxed')->get() as $row) {
                $row = (array) $row;
                if (!empty($row['disabled'])) {
                    continue;
                }
                $password = (string) ($row['password'] ?? '');
                if ($password !== '' && function_exists('decrypt')) {
                    $password = (string) decrypt($password);
                }
                $params = [
                    'serverhostname' => (string) ($row['hostname'] ?? ''),
                    'serverip' => (string) ($row['ipaddress'] ?? ''),
                    'serverport' => (string) ($row['port'] ?? ''),
                    'serversecure' => !empty($row['secure']),
                    'serverpassword' => $password,
                    'serveraccesshash' => (string) ($row['accesshash'] ?? ''),
                ];
                $server = ['server' => (string) ($row['name'] ?? ('server ' . $row['id'])), 'entries' => [], 'error' => null];
                try {
                    [, $list] = sandboxed_http(sandboxed_connection($params), 'GET', '/v1/journal/pending');
                    foreach ($list['pending'] ?? [] as $entry) {
                        $intent = $entry['intent'] ?? [];
                        $server['entries'][] = [
                            'id' => (int) ($entry['id'] ?? 0),
                            'state' => (string) ($entry['state'] ?? ''),
                            'module' => (string) ($intent['module'] ?? ''),
                            'function' => (string) ($intent['function'] ?? ''),
                            'service' => (string) ($intent['service_id'] ?? ''),
                            'key' => (string) ($intent['idempotency_key'] ?? ''),
                        ];
                    }
                } catch (SandboxedFailure $failure) {
                    $server['error'] = sandboxed_mask($failure->describe(), array_filter([$password, $params['serveraccesshash']]));
                }
                $servers[] = $server;
            }
            return $servers;
        }

        /**
         * The widget's HTML: unknown outcomes first, each with what to do.
         *
         * @param list<array{server: string, entries: list<array<string, mixed>>, error: ?string}> $data
         */
        public function generateOutput($data)
        {
            $e = static fn (string $text): string => htmlspecialchars($text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
            $rank = ['unknown' => 0, 'in-flight' => 1, 'answered' => 2];
            $html = '';
            foreach ($data as $server) {
                $html .= '<div class="sandboxed-journal"><strong>' . $e($server['server']) . '</strong>';
                if ($server['error'] !== null) {
                    $html .= '<p class="text-danger">Could not be asked: ' . $e($server['error']) . '</p></div>';
                    continue;
                }
                $entries = $server['entries'];
                if ($entries === []) {
                    $html .= '<p>Nothing pending.</p></div>';
                    continue;
                }
                usort($entries, static fn (array $a, array $b): int => [$rank[$a['state']] ?? 3, $a['id']] <=> [$rank[$b['state']] ?? 3, $b['id']]);
                $html .= '<ul>';
                foreach ($entries as $entry) {
                    [$service] = explode('-a', $entry['service'], 2);
                    $link = ctype_digit($service) ? ' <a href="clientsservices.php?productselect=' . $e($service) . '">service ' . $e($entry['service']) . '</a>' : '';
                    $what = match ($entry['state']) {
                        'unknown' => 'outcome unknown: check at the provider, then give the finding from the service\'s buttons',
                        'in-flight' => 'running',
                        default => 'answered, not yet acknowledged',
                    };
                    $html .= '<li><span class="label label-' . ($entry['state'] === 'unknown' ? 'danger' : 'default') . '">'
                        . $e($entry['state']) . '</span> #' . $entry['id'] . ' ' . $e($entry['module']) . ' '
                        . $e($entry['function']) . $link . ' (' . $e($entry['key']) . '): ' . $e($what) . '</li>';
                }
                $html .= '</ul></div>';
            }
            return $html === '' ? '<p>No sandboxed provisioning server is set up.</p>' : $html;
        }
    }

    add_hook('AdminHomeWidgets', 1, static function (): SandboxedJournalWidget {
        return new SandboxedJournalWidget();
    });
}
