-- wrk script for B1's first-message pass: one POST to each of BENCH_POST_DIALOGS dialogs
-- (the ids post.lua uses), each a dialog's first message, so with sealing each waits for
-- its data key to be created. Thread i of n posts to dialogs i+1, i+1+n, ... and stops
-- after its share; the rate is the dialogs over the time from the first request to the
-- last answer (wrk's own duration would count the idle rest of -d).
-- Environment: BENCH_TOKEN, BENCH_PREFIX, BENCH_POST_DIALOGS, BENCH_THREADS (wrk's -t).
local ffi = require("ffi")
ffi.cdef [[
  struct dapi_timespec { long tv_sec; long tv_nsec; };
  int clock_gettime(int clock, struct dapi_timespec *ts);
]]
local ts = ffi.new("struct dapi_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC, the same clock in every thread
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local token = os.getenv("BENCH_TOKEN") or ""
local prefix = os.getenv("BENCH_PREFIX") or "b1"
local dialogs = tonumber(os.getenv("BENCH_POST_DIALOGS") or "100000")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")

local threads, made = {}, 0
setup = function(thread)
  thread:set("index", made)
  made = made + 1
  table.insert(threads, thread)
end

init = function()
  share = math.ceil((dialogs - index) / nthreads)
  sent, answered, first_at, last_at = 0, 0, 0, 0
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
wrk.body = '{"text":"hello, where is my parcel?","language":"EN"}'

request = function()
  if sent == 0 then first_at = now() end
  -- past its share a connection repeats the thread's last dialog (a known one) until the
  -- thread stops
  local n = index + 1 + math.min(sent, share - 1) * nthreads
  sent = sent + 1
  return wrk.format(nil, string.format("/data/%s-c%d/%s-d%d", prefix, n % 1000, prefix, n))
end

response = function()
  answered = answered + 1
  if answered == share then
    last_at = now()
    wrk.thread:stop()
  end
end

done = function(summary, latency, requests)
  local from, to = math.huge, 0
  for _, t in ipairs(threads) do
    from = math.min(from, t:get("first_at"))
    to = math.max(to, t:get("last_at"))
  end
  local seconds = to > from and to - from or nil
  require("result").done(summary, latency, requests, seconds)
end
