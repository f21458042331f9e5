<?php

/**
 * Loads the helpers of the `sandboxed` server module, one job per file
 * (each file's docblock says which). sandboxed.php and hooks.php load this
 * file, which WHMCS may include in either order; `require_once` defines
 * each helper once. They are required by path: the module ships without
 * composer, and WHMCS's module class autoloading (classes of
 * `WHMCS\Module\Server\Sandboxed` in `lib/`) loads classes only, where
 * these are the `sandboxed_` functions the entry points and the harness
 * (examples/whmcs/tests) call by name.
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

require_once __DIR__ . '/failure.php';
require_once __DIR__ . '/secrets.php';
require_once __DIR__ . '/serve_client.php';
require_once __DIR__ . '/contract.php';
require_once __DIR__ . '/storage.php';
require_once __DIR__ . '/setting_slots.php';
require_once __DIR__ . '/journal.php';
