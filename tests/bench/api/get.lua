-- GET one fixed URL with the demo tenant's Basic auth. Used unchanged for
-- pinbridge's GET /greenpin/{id} and for the baseline server (which ignores
-- the header), so both runs send identical requests.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_AUTH")
