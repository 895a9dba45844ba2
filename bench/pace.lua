-- Pacing for the wrk scripts: at BENCH_RATE requests a second over all connections (0: as
-- fast as possible), shared by BENCH_THREADS (the -t given to wrk). Each wrk thread keeps
-- a schedule of send times, one every threads / rate seconds, and a connection that is
-- ready waits for the next free slot. (A fixed pause after each response would add the
-- response's latency to every period and undershoot the rate.) A slot missed because
-- every connection was busy is not made up later.
local M = {}

-- wrk's delay() for the rate, or nil when there is none.
function M.delay()
  local rate = tonumber(os.getenv("BENCH_RATE") or "0")
  local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
  if rate <= 0 then return nil end
  local ffi = require("ffi")
  ffi.cdef [[
    struct dapi_timespec { long tv_sec; long tv_nsec; };
    int clock_gettime(int clock, struct dapi_timespec *ts);
  ]]
  local ts = ffi.new("struct dapi_timespec")
  local interval = 1000 * threads / rate -- ms
  local next_ms = 0
  return function()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    local now = tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
    if next_ms < now then next_ms = now end
    local wait = next_ms - now
    next_ms = next_ms + interval
    return wait
  end
end

return M
