-- The one line every wrk run of deploy/bench.sh prints: a JSON object (bench/results.py).
-- seconds: the run's length when not wrk's own (a script whose threads stop early).
local M = {}
function M.done(summary, latency, requests, seconds)
  local e = summary.errors
  io.write(string.format(
    '{"rps":%.1f,"p50_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,"requests":%d,"socket_errors":%d,"non2xx":%d}\n',
    summary.requests / (seconds or summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests,
    e.connect + e.read + e.write + e.timeout, e.status))
end
return M
