-- wrk script for B1: POST /data/{customerId}/{dialogId} with a small message, spread over
-- 100,000 dialogs. Environment: BENCH_TOKEN (writer token, may be empty for the ceiling),
-- BENCH_PREFIX (id prefix), BENCH_RATE (requests/s over all connections; 0: as fast as
-- possible), BENCH_CONNS (the -c given to wrk, to spread the rate).
local token = os.getenv("BENCH_TOKEN") or ""
local prefix = os.getenv("BENCH_PREFIX") or "b1"
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local conns = tonumber(os.getenv("BENCH_CONNS") or "64")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
wrk.body = '{"text":"hello, where is my parcel?","language":"EN"}'

request = function()
  local n = math.random(1, 100000)
  return wrk.format(nil, string.format("/data/%s-c%d/%s-d%d", prefix, n % 1000, prefix, n))
end

if rate > 0 then
  local gap = 1000 * conns / rate
  delay = function() return gap end
end

done = require("result").done
