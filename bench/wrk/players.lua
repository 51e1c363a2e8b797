-- GET a random player's rank on a board of N players. Args: board, N.
local board, players = "bench", 1000
init = function(args)
  board = args[1]
  players = tonumber(args[2])
  math.randomseed(os.time())
end
request = function()
  local id = string.format("00000000-0000-4000-8000-%012d", math.random(1, players))
  return wrk.format("GET", "/api/v1/leaderboards/" .. board .. "/players/" .. id)
end
