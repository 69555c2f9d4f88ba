-- POST /token with grant_type=authorization_code (client_secret_basic, PKCE S256). Codes are
-- single-use, so bench/run.py makes a pool before the run (bench/codes.py) and each request pops
-- one; a request finding its thread's queue empty sends a dummy code, which the server rejects,
-- and counts as "dry": the run is invalid, the pool was too small for it.
-- Args after "--": <basic-auth header value> <code file, "code verifier" a line> <thread count>
-- <form-encoded redirect_uri>. Thread i takes lines i, i+n, i+2n, ... When the run ends, one
-- line "WRK_CODES_USED [<codes popped by thread 0>, ...]" lets run.py keep the unused ones.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local codes, verifiers = {}, {}
local headers = {}
local redirect_uri = ""
head, tail, bad, dry = 1, 0, 0, 0

function init(args)
   headers["Authorization"] = args[1]
   headers["Content-Type"] = "application/x-www-form-urlencoded"
   redirect_uri = args[4]
   local n, i = tonumber(args[3]), 0
   for line in io.lines(args[2]) do
      local code, verifier = line:match("^(%S+) (%S+)$")
      if code then
         if i % n == id then
            tail = tail + 1
            codes[tail], verifiers[tail] = code, verifier
         end
         i = i + 1
      end
   end
   if tail == 0 then error("code.lua: no codes for thread " .. id) end
end

function request()
   local code, verifier = "pool-ran-dry", "pool-ran-dry-pool-ran-dry-pool-ran-dry-pool-ran"
   if head <= tail then
      code, verifier = codes[head], verifiers[head]
      codes[head], verifiers[head] = nil, nil
      head = head + 1
   else
      dry = dry + 1
      first_bad = first_bad or "the code pool ran dry: make it bigger"
   end
   return wrk.format("POST", nil, headers, "grant_type=authorization_code&code=" .. code
      .. "&code_verifier=" .. verifier .. "&redirect_uri=" .. redirect_uri)
end

function response(status, _, body)
   if status ~= 200 or not body:find('"id_token"', 1, true) then
      bad = bad + 1
      first_bad = first_bad or (status .. " " .. body:sub(1, 300))
   end
end

local report_setup, report_done = setup, done
local threads = {}

function setup(thread)
   report_setup(thread)
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local used = {}
   for _, thread in ipairs(threads) do
      used[tonumber(thread:get("id")) + 1] = tonumber(thread:get("head")) - 1
   end
   io.write("WRK_CODES_USED [" .. table.concat(used, ",") .. "]\n")
   report_done(summary, latency, requests)
end
