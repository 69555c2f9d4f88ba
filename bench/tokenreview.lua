-- POST {issuer}/kubernetes/tokenreview as kube-apiserver's webhook authenticator does: one fixed
-- TokenReview (authentication.k8s.io/v1) for a valid ID token. Args after "--":
--   <caller token> <ID token>
-- An answer that is not 200 with "authenticated":true counts as bad.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
bad = 0

function init(args)
   wrk.method = "POST"
   wrk.headers["Authorization"] = "Bearer " .. args[1]
   wrk.headers["Content-Type"] = "application/json"
   wrk.body = '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview",'
      .. '"spec":{"token":"' .. args[2] .. '"}}'
end

function response(status, headers, body)
   if status ~= 200 or not body:find('"authenticated":true', 1, true) then
      bad = bad + 1
      first_bad = first_bad or (status .. " " .. body:sub(1, 300))
   end
end
