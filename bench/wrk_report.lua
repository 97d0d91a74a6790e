-- wrk script: print one JSON line with the figures the benchmark needs, and optionally pace requests.
-- Pacing (wrk2's fixed rate is not in Debian's wrk): set WRK_DELAY_MS in the environment and each
-- connection waits that long after each answer, so the rate is at most connections * 1000 / WRK_DELAY_MS.

local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")

-- WRK_ACCEPT: the Accept header every request sends (e.g. application/health+json), when set.
local accept = os.getenv("WRK_ACCEPT")
if accept then
  wrk.headers["Accept"] = accept
end

if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "non_2xx_3xx": %d, "errors_connect": %d, '
      .. '"errors_read": %d, "errors_write": %d, "errors_timeout": %d, "latency_us": {"mean": %.1f, '
      .. '"p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes, errors.status, errors.connect, errors.read,
    errors.write, errors.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
