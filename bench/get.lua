-- wrk script: GET the path in BENCH_PATH with the bearer credential in BENCH_TOKEN.
local token = os.getenv("BENCH_TOKEN")
local path = os.getenv("BENCH_PATH")

request = function()
  return wrk.format("GET", path, token and { ["Authorization"] = "Bearer " .. token } or {})
end

done = function(summary, latency, requests)
  io.write(string.format("BENCH errors=%d non2xx=%d\n",
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
