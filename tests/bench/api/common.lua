-- Shared by the API benchmark scripts (loaded with dofile): numbers each wrk
-- thread (global `tid` in its Lua state, from 1) and prints one result line,
-- "BENCH key=value ...", that run.sh parses. A script lists the per-thread
-- counters to sum in the global `bench_counters`.
local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("tid", #threads)
end

function done(summary, latency, requests)
	local secs = summary.duration / 1e6
	local e = summary.errors
	local extra = ""
	for _, name in ipairs(bench_counters or {}) do
		local sum = 0
		for _, t in ipairs(threads) do
			sum = sum + (t:get(name) or 0)
		end
		extra = extra .. string.format(" %s=%d", name, sum)
	end
	io.write(string.format(
		"BENCH rps=%.1f p50_us=%.0f p99_us=%.0f requests=%d seconds=%.3f " ..
		"bad_status=%d socket_errors=%d%s\n",
		summary.requests / secs, latency:percentile(50), latency:percentile(99),
		summary.requests, secs, e.status, e.connect + e.read + e.write + e.timeout, extra))
end
