<?php

/**
 * A router for `php -S` in front of `provisioning serve` (SERVE_URL) that
 * passes every request through except the journal's acknowledgements,
 * which it answers 503 `journal-unavailable`: the manager's call succeeds
 * and its acknowledgement fails, which must be logged, not fatal.
 */

declare(strict_types=1);

$path = (string) parse_url((string) $_SERVER['REQUEST_URI'], PHP_URL_PATH);
header('Content-Type: application/json');
if (preg_match('#^/v1/journal/\d+/ack$#', $path) === 1) {
    http_response_code(503);
    echo json_encode(['error' => ['kind' => 'journal-unavailable', 'message' => 'the journal does not answer (test proxy)']]);
    return true;
}
$handle = curl_init(rtrim((string) getenv('SERVE_URL'), '/') . $_SERVER['REQUEST_URI']);
$headers = ['Authorization: ' . ($_SERVER['HTTP_AUTHORIZATION'] ?? ''), 'Accept: application/json'];
$body = file_get_contents('php://input');
if ($body !== '' && $body !== false) {
    $headers[] = 'Content-Type: application/json';
    curl_setopt($handle, CURLOPT_POSTFIELDS, $body);
}
curl_setopt_array($handle, [CURLOPT_CUSTOMREQUEST => $_SERVER['REQUEST_METHOD'], CURLOPT_HTTPHEADER => $headers,
    CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 120]);
$answer = curl_exec($handle);
http_response_code((int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE) ?: 502);
echo $answer === false ? json_encode(['error' => ['kind' => 'proxy', 'message' => curl_error($handle)]]) : $answer;
return true;
