-- Plain GET load (discovery, /keys, /userinfo with -H "Authorization: Bearer ..."): only the
-- shared reporting of report.lua; wrk counts non-2xx/3xx answers itself.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
bad = 0
