-- wrk script: POST /api/v1/embed/generate-token with a tokens-scoped key, a different user each time.
-- The key and workspace come from the environment (BENCH_KEY, BENCH_WORKSPACE).
local key = os.getenv("BENCH_KEY")
local workspace = os.getenv("BENCH_WORKSPACE")
local counter = 0

request = function()
  counter = counter + 1
  local body = '{"workspaceId":"' .. workspace .. '","userContext":{"id":"bench-' .. counter .. '"}}'
  return wrk.format("POST", "/api/v1/embed/generate-token",
    { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end

done = function(summary, latency, requests)
  io.write(string.format("BENCH errors=%d non2xx=%d\n",
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
