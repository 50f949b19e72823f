-- Durable writes: each connection alternates a create (POST /greenpin) with
-- the DELETE of an allocation a create answered. Every create has its own
-- transaction_id and its own A and B numbers (so R1 never conflicts) on one
-- of the demo pool's 100 VNs, with a generated A PIN (the demo tenant has A
-- PINs on, B PINs off). Counts answered creates and deletes per thread.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

bench_counters = { "creates", "deletes", "failures" }
creates, deletes, failures = 0, 0, 0

local base = os.getenv("BENCH_BASE") -- e.g. /v1/tenants/demo/greenpin
local auth = "Basic " .. os.getenv("BENCH_AUTH")
local post_headers = { ["Authorization"] = auth, ["Content-Type"] = "application/json" }
local delete_headers = { ["Authorization"] = auth }
local n = 0
local queue, qhead, qtail = {}, 1, 0 -- greenpin_ids created, not yet deleted

function request()
	if qhead <= qtail then
		local id = queue[qhead]
		queue[qhead] = nil
		qhead = qhead + 1
		return wrk.format("DELETE", base .. "/" .. id, delete_headers)
	end
	n = n + 1
	local body = string.format(
		'{"transaction_id":"bench-%d-%d",' ..
		'"a":{"numbers":["+9180%02d%06d"],"vns":["+9162921344%02d"]},' ..
		'"b":{"numbers":["+9170%02d%06d"]},' ..
		'"usage":"twoway","deallocation_policy":{"duration":"1h"}}',
		tid, n, tid, n % 1000000, n % 100, tid, n % 1000000)
	return wrk.format("POST", base, post_headers, body)
end

function response(status, headers, body)
	if status ~= 200 then
		failures = failures + 1
		if failures <= 3 then
			io.stderr:write(string.format("create_delete: HTTP %d: %s\n", status, body))
		end
		return
	end
	if body:find('"state"%s*:%s*"active"') then
		local id = body:match('"greenpin_id"%s*:%s*"([%x%-]+)"')
		creates = creates + 1
		if id then
			qtail = qtail + 1
			queue[qtail] = id
		end
	elseif body:find('"state"%s*:%s*"vault"') then
		deletes = deletes + 1
	end
end
