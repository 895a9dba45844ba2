-- wrk script for B1b: POST /batch, each request BENCH_BATCH_LINES (100) message lines to
-- dialogs drawn from the BENCH_POST_DIALOGS ids post.lua uses (so a run after post.lua's
-- finds their data keys). Each thread builds 64 bodies at start and sends them in turn:
-- the client's own cost stays out of the figure. Environment: BENCH_TOKEN, BENCH_PREFIX,
-- BENCH_POST_DIALOGS, BENCH_BATCH_LINES, and BENCH_RATE / BENCH_THREADS as post.lua's
-- (the rate in requests, that is batches, a second).
local token = os.getenv("BENCH_TOKEN") or ""
local prefix = os.getenv("BENCH_PREFIX") or "b1"
local dialogs = tonumber(os.getenv("BENCH_POST_DIALOGS") or "100000")
local lines = tonumber(os.getenv("BENCH_BATCH_LINES") or "100")

wrk.method = "POST"
wrk.path = "/batch"
wrk.headers["Content-Type"] = "application/x-ndjson"
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end

local bodies, next_body = {}, 1

init = function()
  for b = 1, 64 do
    local out = {}
    for i = 1, lines do
      local n = math.random(1, dialogs)
      out[i] = string.format(
        '{"customerId":"%s-c%d","dialogId":"%s-d%d","text":"hello, where is my parcel?","language":"EN"}',
        prefix, n % 1000, prefix, n)
    end
    bodies[b] = table.concat(out, "\n") .. "\n"
  end
end

request = function()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, body)
end

delay = require("pace").delay()

done = require("result").done
