-- wrk script for B1: POST /data/{customerId}/{dialogId} with a small message, spread over
-- 100,000 dialogs. Environment: BENCH_TOKEN (writer token, may be empty for the ceiling),
-- BENCH_PREFIX (id prefix), BENCH_RATE (requests/s over all connections; 0: as fast as
-- possible), BENCH_THREADS (the -t given to wrk, to share the rate out).
local token = os.getenv("BENCH_TOKEN") or ""
local prefix = os.getenv("BENCH_PREFIX") or "b1"
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local dialogs = tonumber(os.getenv("BENCH_POST_DIALOGS") or "100000")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
wrk.body = '{"text":"hello, where is my parcel?","language":"EN"}'

request = function()
  local n = math.random(1, dialogs)
  return wrk.format(nil, string.format("/data/%s-c%d/%s-d%d", prefix, n % 1000, prefix, n))
end

-- At a given rate each wrk thread keeps a schedule of send times, one every
-- threads / rate seconds, and a connection that is ready waits for the next free slot.
-- (A fixed pause after each response would add the response's latency to every period
-- and undershoot the rate.) A slot missed because every connection was busy is not made
-- up later.
if rate > 0 then
  local ffi = require("ffi")
  ffi.cdef [[
    struct dapi_timespec { long tv_sec; long tv_nsec; };
    int clock_gettime(int clock, struct dapi_timespec *ts);
  ]]
  local ts = ffi.new("struct dapi_timespec")
  local interval = 1000 * threads / rate -- ms
  local next_ms = 0
  delay = function()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    local now = tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
    if next_ms < now then next_ms = now end
    local wait = next_ms - now
    next_ms = next_ms + interval
    return wait
  end
end

done = require("result").done
