-- POST score submissions: each request a fresh action_id, users taken round-robin from a
-- tokens file (one "user_id token" per line). Args: board, tokens file.
local counter = 0
local thread_id = 0
local tokens = {}
local board = "bench"
local threads = {}

setup = function(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

init = function(args)
  board = args[1] or board
  for line in io.lines(args[2]) do
    table.insert(tokens, line)
  end
  math.randomseed(os.time() + thread_id)
end

request = function()
  counter = counter + 1
  local token = tokens[(counter + thread_id * 7919) % #tokens + 1]
  local body = string.format(
    '{"action_id":"b-%d-%d-%d","score_increment":%d,"timestamp":"%s"}',
    thread_id, os.time(), counter, (counter % 5) + 1, os.date("!%Y-%m-%dT%H:%M:%SZ"))
  return wrk.format("POST", "/api/v1/leaderboards/" .. board .. "/scores",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
