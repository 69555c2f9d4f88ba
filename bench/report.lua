-- Shared by the bench scripts (loaded with dofile): numbers each wrk thread and, when the run
-- ends, prints one machine-readable line that bench/run.py parses:
--   WRK_RESULT {"requests":..,"duration_us":..,"p50_us":..,"p99_us":..,"status":..,...}
-- "status" is wrk's count of non-2xx/3xx answers; "bad" is what the scripts' own response()
-- checks rejected (e.g. a 200 without a refresh_token); a script that sets the thread global
-- "first_bad" gets it printed on a second line, "WRK_FIRST_BAD <status> <body>".

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local bad, first_bad = 0, nil
   for _, thread in ipairs(threads) do
      bad = bad + (tonumber(thread:get("bad")) or 0)
      first_bad = first_bad or thread:get("first_bad")
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
         .. '"max_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,"bad":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, e.status, bad))
   if first_bad then
      io.write("WRK_FIRST_BAD " .. first_bad:gsub("[\r\n]+", " ") .. "\n")
   end
end
