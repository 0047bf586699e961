-- One КИ per outCheck request, keep-alive, rotating through the scan stream. Requests are
-- formatted once up front so that wrk spends its time sending, not building strings.
package.path = os.getenv("LUA_DIR") .. "/?.lua;" .. package.path
local codes = require("common")
local requests = {}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
for k = 1, math.min(#codes, 20000) do
  requests[k] = wrk.format(nil, "/api/v2/cis/outCheck", nil, '{"cis_list":[{"cis":"' .. codes[k] .. '"}]}')
end
local i = 0
request = function()
  i = i % #requests + 1
  return requests[i]
end
