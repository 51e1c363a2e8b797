-- POST logins with a correct password (a burst of argon2 verifications). Args: username, password.
local body = ""

init = function(args)
  body = string.format('{"username":"%s","password":"%s"}', args[1], args[2])
end

request = function()
  return wrk.format("POST", "/api/v1/auth/login", {["Content-Type"] = "application/json"}, body)
end
