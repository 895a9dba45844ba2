-- wrk script for B1: POST /data/{customerId}/{dialogId} with a small message, spread over
-- 100,000 dialogs. Environment: BENCH_TOKEN (writer token, may be empty for the ceiling),
-- BENCH_PREFIX (id prefix), BENCH_RATE and BENCH_THREADS (pace.lua).
local token = os.getenv("BENCH_TOKEN") or ""
local prefix = os.getenv("BENCH_PREFIX") or "b1"
local dialogs = tonumber(os.getenv("BENCH_POST_DIALOGS") or "100000")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
wrk.body = '{"text":"hello, where is my parcel?","language":"EN"}'

request = function()
  local n = math.random(1, dialogs)
  return wrk.format(nil, string.format("/data/%s-c%d/%s-d%d", prefix, n % 1000, prefix, n))
end

delay = require("pace").delay()

done = require("result").done
