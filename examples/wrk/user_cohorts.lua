-- wrk script: GET /api/v1/users/{id}/cohorts over ids read from ids.txt
-- (one user_id a line, e.g. `cohortd query --format ids true | shuf -n 10000 > ids.txt`).
--   wrk -t2 -c64 -d20s -s examples/wrk/user_cohorts.lua http://127.0.0.1:8080
local ids = {}
for line in io.lines("ids.txt") do ids[#ids + 1] = line end
local i = 0
request = function()
  i = i % #ids + 1
  return wrk.format("GET", "/api/v1/users/" .. ids[i] .. "/cohorts")
end
