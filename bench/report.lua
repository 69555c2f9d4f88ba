-- Shared by the bench scripts (loaded with dofile): numbers each wrk thread and, when the run
-- ends, prints one machine-readable line that bench/run.py parses:
--   WRK_RESULT {"requests":..,"duration_us":..,"p50_us":..,"p99_us":..,"status":..,...}
-- "status" is wrk's count of non-2xx/3xx answers; "bad" is what the scripts' own response()
-- checks rejected (e.g. a 200 without a refresh_token).

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local bad = 0
   for _, thread in ipairs(threads) do
      bad = bad + (tonumber(thread:get("bad")) or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
         .. '"max_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,"bad":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, e.status, bad))
end
