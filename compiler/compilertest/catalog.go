package compilertest

// DiffCatalog is the cohorts file of the differential tests (bitmap plan vs
// expr-lang program vs ClickHouse SQL): every type, values: lists, derived
// values and predicates, static and referencing cohorts. Pair it with Gen
// (Cohorts: c_sport, c_ref, vip, c_deep) and RandomUsers.
const DiffCatalog = `version: 1
attributes:
  user_id: {type: string, key: true}
  tier:    {type: string, values: [champion, loyal, casual, "é-x", "a'b"]}
  s1:      {type: string}
  s2:      {type: string}
  i1:      {type: int}
  i2:      {type: int}
  f1:      {type: float}
  f2:      {type: float}
  b1:      {type: bool}
  b2:      {type: bool}
  t1:      {type: timestamp}
  t2:      {type: timestamp}
  l1:      {type: "list<string>"}
  l2:      {type: "list<string>"}
derived:
  ds1: days_since(t1)
  active: "i1 > 3 AND b1"
  tier_alias: tier
  hot: "active OR ds1 <= 7"
cohorts:
  g:
    c_sport: "s1 CONTAINS 'a' OR ds1 < 7"
    c_ref: "cohort('c_sport') AND NOT cohort('vip')"
    vip:
      members: [u001, u003, u005, u005, nobody, "日本"]
  h:
    c_deep: "cohort('c_ref') OR (f1 > 0.5 AND 'a' IN l1)"
`
