<?php

/**
 * The secrets of the `sandboxed` server module: which values are secret
 * (the token, the service's passwords, secret product settings,
 * credentials the provider generated, single sign-on URLs), their masking
 * (they reach `logModuleCall` only as `$replaceVars`, and never an error
 * message), and a new random password for the Reset password button.
 */

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

/**
 * The secrets among the module parameters: the service's password and the
 * server's token.
 *
 * @param array<string, mixed> $params module parameters
 *
 * @return list<string>
 */
function sandboxed_param_secrets(array $params): array
{
    return array_values(array_filter([
        (string) ($params['password'] ?? ''),
        (string) ($params['serverpassword'] ?? ''),
        (string) ($params['serveraccesshash'] ?? ''),
    ], static fn (string $secret): bool => $secret !== ''));
}

/**
 * Every form a secret takes in what is logged: plain and JSON-escaped,
 * longest first so that no part of one is left.
 *
 * @param list<string> $secrets the secrets
 *
 * @return list<string>
 */
function sandboxed_replace_vars(array $secrets): array
{
    $forms = [];
    foreach ($secrets as $secret) {
        $secret = (string) $secret;
        if ($secret === '') {
            continue;
        }
        $forms[] = $secret;
        foreach ([JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE, 0] as $flags) {
            $json = json_encode($secret, $flags);
            if (is_string($json)) {
                $forms[] = substr($json, 1, -1);
            }
        }
    }
    $forms = array_values(array_unique($forms));
    usort($forms, static fn (string $a, string $b): int => strlen($b) <=> strlen($a));
    return $forms;
}

/**
 * Masks the secrets in a message.
 *
 * @param string       $text    the message
 * @param list<string> $secrets the secrets
 */
function sandboxed_mask(string $text, array $secrets): string
{
    $forms = sandboxed_replace_vars($secrets);
    return $forms === [] ? $text : str_replace($forms, '***', $text);
}

/**
 * Logs one exchange in WHMCS's module log, the secrets given as values to
 * replace, in plain and JSON-escaped form.
 *
 * @param string              $action    the WHMCS function
 * @param string              $request   what was sent
 * @param string              $response  what came back
 * @param array<mixed>        $processed the decoded answer
 * @param list<string>        $secrets   values to replace
 */
function sandboxed_log(string $action, string $request, string $response, array $processed, array $secrets): void
{
    if (function_exists('logModuleCall')) {
        logModuleCall('sandboxed', $action, $request, $response, $processed, sandboxed_replace_vars($secrets));
    }
}

/** A random password of 16 letters, digits and signs (at least one of each kind). */
function sandboxed_new_password(): string
{
    $sets = ['abcdefghijkmnpqrstuvwxyz', 'ABCDEFGHJKLMNPQRSTUVWXYZ', '23456789', '!#%+-_'];
    $chars = [];
    foreach ($sets as $set) {
        $chars[] = $set[random_int(0, strlen($set) - 1)];
    }
    $all = implode('', $sets);
    while (count($chars) < 16) {
        $chars[] = $all[random_int(0, strlen($all) - 1)];
    }
    for ($i = count($chars) - 1; $i > 0; $i--) {
        $j = random_int(0, $i);
        [$chars[$i], $chars[$j]] = [$chars[$j], $chars[$i]];
    }
    return implode('', $chars);
}
