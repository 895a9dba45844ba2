-- wrk script of test_lifecycle's drain test: POSTs a message to a new dialog per request
-- over kept-alive connections and writes each answer ("<status> <body>") to
-- $DRAIN_OUT.<thread>; a thread stops after $DRAIN_MAX answers.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  prefix = os.getenv("DRAIN_PREFIX")
  token = os.getenv("DRAIN_TOKEN")
  max = tonumber(os.getenv("DRAIN_MAX"))
  out = io.open(os.getenv("DRAIN_OUT") .. "." .. id, "w")
  sent, answered = 0, 0
end

function request()
  sent = sent + 1
  return wrk.format("POST", "/data/drain-c/" .. prefix .. "-" .. id .. "-" .. sent,
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
    '{"text":"drain","language":"EN"}')
end

function response(status, headers, body)
  answered = answered + 1
  out:write(status, " ", body, "\n")
  out:flush()
  if answered >= max then
    wrk.thread:stop()
  end
end
