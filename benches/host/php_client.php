<?php
// The PHP client a hosting company runs today, in the provider's documented
// style: a new curl handle per request, the envelope built with
// json_encode, the answer read with json_decode. The benchmarks (part 8)
// time it against the host on the same sandbox and services.
//
// php php_client.php <endpoint> <api-key> <services-file> <in-flight>
//
// <services-file> holds one service id per line; each is read once.
// <in-flight> 1 reads them one after another; more uses curl_multi with
// that many requests in flight. Prints one JSON line:
// {"calls":N,"seconds":S,"failures":F,"first_failure":"..."}.

if ($argc !== 5) {
    fwrite(STDERR, "usage: php php_client.php <endpoint> <api-key> <services-file> <in-flight>\n");
    exit(2);
}
[, $endpoint, $apiKey, $servicesFile, $inFlight] = $argv;
$services = file($servicesFile, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES);
$inFlight = max(1, (int) $inFlight);

/** A curl handle for one usage read, as the provider's example sets it up. */
function usage_handle(string $endpoint, string $apiKey, string $serviceId)
{
    $handle = curl_init($endpoint);
    curl_setopt_array($handle, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => json_encode([
            'action' => 'get_Bandwidth_Disk_Usage',
            'api_key' => $apiKey,
            'params' => ['serviceid' => $serviceId],
        ]),
        CURLOPT_HTTPHEADER => ['Content-Type: application/json'],
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_TIMEOUT => 30,
    ]);
    return $handle;
}

/** Null when the answer is a usage report, else why not. */
function failure_of($handle, $body): ?string
{
    $status = curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
    if ($body === false || $status < 200 || $status >= 300) {
        return "HTTP $status " . curl_error($handle);
    }
    $answer = json_decode($body, true);
    if (!is_array($answer) || ($answer['status'] ?? '') !== 'success'
        || !isset($answer['disk_usage']['used_mb'], $answer['bandwidth_usage']['current_month_mb'])) {
        return 'not a usage report: ' . substr((string) $body, 0, 200);
    }
    return null;
}

$failures = [];
$started = hrtime(true);
if ($inFlight === 1) {
    foreach ($services as $serviceId) {
        $handle = usage_handle($endpoint, $apiKey, $serviceId);
        $body = curl_exec($handle);
        $failure = failure_of($handle, $body);
        if ($failure !== null) {
            $failures[] = "$serviceId: $failure";
        }
        curl_close($handle);
    }
} else {
    $multi = curl_multi_init();
    $next = 0;
    $running = 0;
    $add = function () use (&$next, &$running, $services, $multi, $endpoint, $apiKey) {
        $handle = usage_handle($endpoint, $apiKey, $services[$next]);
        curl_setopt($handle, CURLOPT_PRIVATE, $services[$next]);
        curl_multi_add_handle($multi, $handle);
        $next++;
        $running++;
    };
    while ($next < count($services) && $running < $inFlight) {
        $add();
    }
    while ($running > 0) {
        curl_multi_exec($multi, $active);
        while ($done = curl_multi_info_read($multi)) {
            $handle = $done['handle'];
            $failure = $done['result'] === CURLE_OK
                ? failure_of($handle, curl_multi_getcontent($handle))
                : curl_strerror($done['result']);
            if ($failure !== null) {
                $failures[] = curl_getinfo($handle, CURLINFO_PRIVATE) . ": $failure";
            }
            curl_multi_remove_handle($multi, $handle);
            curl_close($handle);
            $running--;
            if ($next < count($services)) {
                $add();
            }
        }
        if ($running > 0 && $active > 0) {
            curl_multi_select($multi, 1.0);
        }
    }
    curl_multi_close($multi);
}
$seconds = (hrtime(true) - $started) / 1e9;
echo json_encode([
    'calls' => count($services),
    'seconds' => $seconds,
    'failures' => count($failures),
    'first_failure' => $failures[0] ?? null,
]), "\n";
