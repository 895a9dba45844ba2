-- wrk script for B3: GET the path given to wrk with the reader token (BENCH_TOKEN).
local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
done = require("result").done
