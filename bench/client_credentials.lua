-- POST /token with grant_type=client_credentials. Args after "--":
--   <basic-auth header value> [scope, default openid]
-- The method and headers come from password.lua; only the body differs.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "password.lua")
local form_init = init

function init(args)
   form_init({args[1], "", ""})
   wrk.body = "grant_type=client_credentials&scope=" .. (args[2] or "openid")
end

function response(status, headers, body)
   if status ~= 200 or not body:find('"access_token"', 1, true) then
      bad = bad + 1
      first_bad = first_bad or (status .. " " .. body:sub(1, 300))
   end
end
