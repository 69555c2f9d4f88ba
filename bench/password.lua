-- POST /token with grant_type=password (bcrypt-bound by design). Args after "--":
--   <basic-auth header value> <form-encoded username> <form-encoded password>
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
bad = 0

function init(args)
   wrk.method = "POST"
   wrk.headers["Authorization"] = args[1]
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   wrk.body = "grant_type=password&scope=openid%20email&username=" .. args[2]
      .. "&password=" .. args[3]
end
