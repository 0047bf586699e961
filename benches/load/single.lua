-- One КИ per outCheck request, keep-alive, rotating through the scan stream.
package.path = os.getenv("LUA_DIR") .. "/?.lua;" .. package.path
local codes = require("common")
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #codes + 1
  return wrk.format(nil, "/api/v2/cis/outCheck", nil, '{"cis_list":[{"cis":"' .. codes[i] .. '"}]}')
end
