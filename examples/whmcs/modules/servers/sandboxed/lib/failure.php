<?php

/**
 * Failures of the `sandboxed` server module: its one exception type,
 * SandboxedFailure (a kind and a message that holds no secret), and a
 * call's typed error (a CallResult's `error`) turned into one, as WHMCS
 * shows it.
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

/**
 * A failure before or around a call: the kind (the host's or the API's, or
 * this module's own `transport`, `bad-response`, `invalid-config`,
 * `platform`) and a message that holds no secret.
 */
final class SandboxedFailure extends RuntimeException
{
    /**
     * @param string $kind    machine-readable kind, e.g. "unauthorized"
     * @param string $message for people; never a secret
     */
    public function __construct(public readonly string $kind, string $message)
    {
        parent::__construct($message);
    }

    /** The error as WHMCS shows it: "kind: message". */
    public function describe(): string
    {
        return $this->kind . ': ' . $this->getMessage();
    }
}

/**
 * A typed error of a call as WHMCS shows it: "kind: message", without the
 * host's "module: kind: " prefix.
 *
 * @param array<string, mixed> $error  the CallResult's error
 * @param string               $module module name
 */
function sandboxed_error_text(array $error, string $module): string
{
    return sandboxed_error_failure($error, $module)->describe();
}

/**
 * A typed error of a call as a failure to throw.
 *
 * @param array<string, mixed> $error  the CallResult's error
 * @param string               $module module name
 */
function sandboxed_error_failure(array $error, string $module): SandboxedFailure
{
    $kind = (string) ($error['kind'] ?? 'error');
    $message = (string) ($error['message'] ?? '');
    foreach (["{$module}: {$kind}: ", "{$module}: "] as $prefix) {
        if (str_starts_with($message, $prefix)) {
            $message = substr($message, strlen($prefix));
            break;
        }
    }
    if (isset($error['retry_after_seconds'])) {
        $message .= ' (retry after ' . (int) $error['retry_after_seconds'] . ' s)';
    }
    return new SandboxedFailure($kind, $message);
}
