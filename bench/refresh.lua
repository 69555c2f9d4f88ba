-- POST /token with grant_type=refresh_token. Each use rotates the token, and replaying an old
-- one revokes the chain, so each thread keeps a queue of live tokens: request() pops one,
-- response() takes the rotated token out of the JSON body and pushes it back.
-- Args after "--": <basic-auth header value> <token file, one token a line> <thread count>.
-- Thread i takes lines i, i+n, i+2n, ... so no token is shared between threads.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local queue, head, tail = {}, 1, 0
local headers = {}
bad = 0

local function push(token)
   tail = tail + 1
   queue[tail] = token
end

function init(args)
   headers["Authorization"] = args[1]
   headers["Content-Type"] = "application/x-www-form-urlencoded"
   local n, i = tonumber(args[3]), 0
   for line in io.lines(args[2]) do
      if line ~= "" then
         if i % n == id then push(line) end
         i = i + 1
      end
   end
   if tail == 0 then error("refresh.lua: no tokens for thread " .. id) end
end

function request()
   local token = "none.empty-queue" -- only when tokens were lost to errors; answered with 400
   if head <= tail then
      token = queue[head]
      queue[head] = nil
      head = head + 1
   end
   return wrk.format("POST", nil, headers, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, _, body)
   local token = status == 200 and body:match('"refresh_token":"([^"]+)"')
   if token then
      push(token)
   else
      bad = bad + 1
      first_bad = first_bad or (status .. " " .. body:sub(1, 300))
   end
end
