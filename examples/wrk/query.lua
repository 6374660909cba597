-- wrk script: POST /api/v1/query with a brief cohort's expression.
--   wrk -t2 -c8 -d20s --latency -s examples/wrk/query.lua http://127.0.0.1:8080
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"expr": "engagement_tier == \'champion\' AND days_since_last_visit < 7", "limit": 10}'
