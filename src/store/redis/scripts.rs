//! The Lua scripts: every check-then-act step runs atomically inside Redis. Each script names
//! all its keys in `KEYS` (one hash tag per script, see [`keys`](super::keys)); the `redis`
//! crate sends them with EVALSHA and loads them on NOSCRIPT.
//!
//! Timestamps travel as decimal strings and are passed to Redis commands unchanged; Lua only
//! compares them as numbers (exact: unix ms fit a double's 53-bit mantissa).
use redis::Script;

/// Session bindings: a hash (binding key → account) and a sorted set (binding key → expiry),
/// prepended to the scripts that read or write bindings. Expiry is by score, not a native TTL,
/// so the bindings can be counted and the least recently used found: the sorted set is the
/// bound on their number.
///
/// `bound_account(bindings, expiry, field, now)`: the live binding, or nil.
/// `bind(bindings, expiry, field, account, until, now, max)`: (re)binds; binding a new field
/// when `max` are kept drops the expired ones, then the least recently used.
/// `forget(bindings, expiry, fields)`: removes fields from both (in chunks: `unpack` is bounded).
const STICKY: &str = r#"
local function forget(bindings, expiry, fields)
  for i = 1, #fields, 1000 do
    local last = math.min(i + 999, #fields)
    redis.call('HDEL', bindings, unpack(fields, i, last))
    redis.call('ZREM', expiry, unpack(fields, i, last))
  end
end

local function bound_account(bindings, expiry, field, now)
  local until_ms = redis.call('ZSCORE', expiry, field)
  if not until_ms or tonumber(until_ms) <= tonumber(now) then return nil end
  return redis.call('HGET', bindings, field)
end

local function bind(bindings, expiry, field, account, until_ms, now, max)
  max = math.max(tonumber(max), 1)
  if not redis.call('ZSCORE', expiry, field) and redis.call('ZCARD', expiry) >= max then
    -- Expired bindings score lowest, so the ZRANGE below would take them first anyway; this
    -- drops a batch of them at once.
    forget(bindings, expiry, redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 1000))
    local excess = redis.call('ZCARD', expiry) - max + 1
    if excess > 0 then
      forget(bindings, expiry, redis.call('ZRANGE', expiry, 0, excess - 1))
    end
  end
  redis.call('HSET', bindings, field, account)
  redis.call('ZADD', expiry, until_ms, field)
end
"#;

/// Bind a session (operator or explicit bind).
///
/// KEYS: sticky bindings hash, sticky expiry zset. ARGV: binding key, account, expiry, now,
/// max bindings.
const STICKY_SET: &str = r#"
bind(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return 1
"#;

/// Drop expired session bindings, at most 10000 per call so one sweep never holds Redis long
/// (the next sweep, or binding a new session when full, takes the rest).
/// KEYS: sticky bindings hash, sticky expiry zset. ARGV: now. Returns how many were dropped.
const STICKY_SWEEP: &str = r#"
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 10000)
forget(KEYS[1], KEYS[2], expired)
return #expired
"#;

/// Take a slot, honouring and (re)writing the session binding.
///
/// KEYS: slot index, [sticky bindings hash and sticky expiry zset if ARGV[4] > 0], one slot
/// zset per candidate.
/// ARGV: now, lease id, lease expiry, binding expiry (0 = no session), binding key, max
/// bindings, then per candidate its account id and limit (0 = unlimited).
/// Returns `{account, sticky_hit}` or nil when every candidate is full.
const ACQUIRE_SLOT: &str = r#"
local now, lease, expiry = ARGV[1], ARGV[2], ARGV[3]
local sticky_until = ARGV[4]
local field, max_bindings = ARGV[5], ARGV[6]
local first = 2
local bindings, bindings_expiry = nil, nil
if tonumber(sticky_until) > 0 then
  bindings, bindings_expiry = KEYS[2], KEYS[3]
  first = 4
end
local n = #KEYS - first + 1
local function account(i) return ARGV[5 + 2 * i] end

local bound_pos = nil
if bindings then
  local bound = bound_account(bindings, bindings_expiry, field, now)
  if bound then
    for i = 1, n do
      if account(i) == bound then bound_pos = i break end
    end
  end
end

local function try_take(i)
  local key = KEYS[first + i - 1]
  local limit = tonumber(ARGV[6 + 2 * i])
  if limit > 0 and redis.call('ZCARD', key) >= limit then
    -- Purge expired leases only when the account looks full: unlimited and quiet accounts
    -- stay O(1).
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    if redis.call('ZCARD', key) >= limit then return false end
  end
  redis.call('ZADD', key, expiry, lease)
  redis.call('SADD', KEYS[1], account(i))
  return true
end

local function grant(i)
  if bindings then
    bind(bindings, bindings_expiry, field, account(i), sticky_until, now, max_bindings)
  end
  return { account(i), (i == bound_pos) and 1 or 0 }
end

if bound_pos and try_take(bound_pos) then return grant(bound_pos) end
for i = 1, n do
  if i ~= bound_pos and try_take(i) then return grant(i) end
end
return false
"#;

/// Remove expired leases of the given accounts and drop emptied ones from the index.
///
/// KEYS: slot index, one slot zset per account. ARGV: now, then the account ids.
/// Returns how many leases were removed.
const SWEEP_LEASES: &str = r#"
local removed = 0
for i = 2, #KEYS do
  removed = removed + redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1])
  if redis.call('ZCARD', KEYS[i]) == 0 then
    redis.call('SREM', KEYS[1], ARGV[i])
  end
end
return removed
"#;

/// Operator patch: set and delete only the given fields of an existing account or API key.
///
/// KEYS: the record's hash, its version counter. ARGV: number of set pairs n, n field/value pairs, then
/// the fields to delete. Returns the whole hash after the change, or nil when the account does
/// not exist (no partial record is created).
const PATCH_RECORD: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local n = tonumber(ARGV[1])
if n > 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + 2 * n))
end
if #ARGV > 1 + 2 * n then
  redis.call('HDEL', KEYS[1], unpack(ARGV, 2 + 2 * n, #ARGV))
end
redis.call('INCR', KEYS[2])
return redis.call('HGETALL', KEYS[1])
"#;

/// Set one field of an existing account (the credential on token refresh).
///
/// KEYS: account hash, records version. ARGV: field, value. Returns 1, or 0 when the account
/// does not exist.
const SET_FIELD: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[2])
return 1
"#;

/// Swap a field written in plaintext by an older version for its sealed form, only if it still
/// holds that plaintext (another instance or an operator may have written it since).
///
/// KEYS: account hash. ARGV: field, the plaintext value, the sealed value. Returns 1 when
/// swapped. The version is not bumped: the account reads the same.
const RESEAL_FIELD: &str = r#"
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"#;

/// Record uses: per existing account (or API key), keep the later of the stored and the given
/// time.
/// Writes only the `last_used_at` field and does not bump the records version (a use is not
/// a record change other instances must reload for).
///
/// KEYS: account hashes. ARGV: one time (unix ms) per key.
const TOUCH_LAST_USED: &str = r#"
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local cur = redis.call('HGET', KEYS[i], 'last_used_at')
    if not cur or tonumber(cur) < tonumber(ARGV[i]) then
      redis.call('HSET', KEYS[i], 'last_used_at', ARGV[i])
    end
  end
end
return 0
"#;

/// Delete an account: its hash, index entry, health and group memberships.
///
/// KEYS: account hash, account index, health hash, groups hash, records version.
/// ARGV: account id. Returns 1 when the account existed.
///
/// An emptied member list is removed from the group JSON (it defaults to empty), because
/// cjson would encode an empty Lua table as `{}`.
const DELETE_ACCOUNT: &str = r#"
local id = ARGV[1]
local existed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], id)
redis.call('HDEL', KEYS[3], id)
local groups = redis.call('HGETALL', KEYS[4])
for i = 1, #groups, 2 do
  local g = cjson.decode(groups[i + 1])
  if type(g.members) == 'table' then
    local kept, changed = {}, false
    for _, m in ipairs(g.members) do
      if m == id then changed = true else kept[#kept + 1] = m end
    end
    if changed then
      if #kept == 0 then g.members = nil else g.members = kept end
      redis.call('HSET', KEYS[4], groups[i], cjson.encode(g))
    end
  end
end
redis.call('INCR', KEYS[5])
return existed
"#;

/// Replace an API key whole and point the hash index at it (dropping the old hash's entry when
/// the hash changed).
///
/// KEYS: key hash, hash index, id set, keys version. ARGV: id, the key's SHA-256 hex, then
/// field/value pairs (`hash` among them, as JSON text).
const PUT_KEY: &str = r#"
local old = redis.call('HGET', KEYS[1], 'hash')
if old then
  local ok, h = pcall(cjson.decode, old)
  if ok and type(h) == 'string' and h ~= ARGV[2] and redis.call('HGET', KEYS[2], h) == ARGV[1] then
    redis.call('HDEL', KEYS[2], h)
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('INCR', KEYS[4])
return 1
"#;

/// Delete an API key: its hash, id set entry and hash index entry.
///
/// KEYS: key hash, hash index, id set, keys version. ARGV: id. Returns 1 when it existed.
const DELETE_KEY: &str = r#"
local old = redis.call('HGET', KEYS[1], 'hash')
local existed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
if old then
  local ok, h = pcall(cjson.decode, old)
  if ok and type(h) == 'string' and redis.call('HGET', KEYS[2], h) == ARGV[1] then
    redis.call('HDEL', KEYS[2], h)
  end
end
redis.call('INCR', KEYS[4])
return existed
"#;

/// `a >= b` for non-negative decimal integers as strings without leading zeros: exact for any
/// u64 (Lua numbers are doubles and are not, beyond 2^53 picodollars ≈ $9,007).
const GE: &str = r#"
local function ge(a, b)
  if #a ~= #b then return #a > #b end
  for i = 1, #a do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return true
end
"#;

/// Admission, the rules of `limits::memory::KeyState::admit`: roll the window when
/// `now - start >= length`; refuse on the first limit reached (requests, then tokens — which
/// take precedence over window cost — then daily, total, weekly cost), counting nothing; else
/// count the request in the window.
///
/// KEYS: limits hash, day bucket, week bucket. ARGV: now, window length ms ('' = no window),
/// max requests, max tokens, max window cost, max daily, max total, max weekly (0 = none;
/// money in picodollars). Returns `{'ok'[, window start]}` or `{kind, current, limit[, window
/// start]}`, every value a decimal string.
const ADMIT: &str = r#"
local function pos(x) return x ~= '0' end
local start = false
if ARGV[2] ~= '' then
  local w = redis.call('HMGET', KEYS[1], 'window_start', 'window_requests', 'window_tokens', 'window_cost')
  start = w[1]
  local reqs, toks, cost = w[2] or '0', w[3] or '0', w[4] or '0'
  if not start or tonumber(ARGV[1]) - tonumber(start) >= tonumber(ARGV[2]) then
    start = ARGV[1]
    reqs, toks, cost = '0', '0', '0'
    redis.call('HSET', KEYS[1], 'window_start', start, 'window_requests', '0', 'window_tokens', '0',
      'window_cost', '0')
  end
  if pos(ARGV[3]) and ge(reqs, ARGV[3]) then return {'requests', reqs, ARGV[3], start} end
  if pos(ARGV[4]) then
    if ge(toks, ARGV[4]) then return {'tokens', toks, ARGV[4], start} end
  elseif pos(ARGV[5]) and ge(cost, ARGV[5]) then
    return {'window_cost', cost, ARGV[5], start}
  end
end
local daily = redis.call('GET', KEYS[2]) or '0'
if pos(ARGV[6]) and ge(daily, ARGV[6]) then return {'daily', daily, ARGV[6]} end
local total = redis.call('HGET', KEYS[1], 'total_cost') or '0'
if pos(ARGV[7]) and ge(total, ARGV[7]) then return {'total', total, ARGV[7]} end
local weekly = redis.call('GET', KEYS[3]) or '0'
if pos(ARGV[8]) and ge(weekly, ARGV[8]) then return {'weekly', weekly, ARGV[8]} end
if ARGV[2] ~= '' then
  redis.call('HINCRBY', KEYS[1], 'window_requests', 1)
  return {'ok', start}
end
return {'ok'}
"#;

/// A settlement batch's share for one key, at most once: SET NX of the batch's marker (with a
/// TTL), and only if it was not there, add the settlements — tokens and rated cost to the window
/// only if it is still the one they were admitted in, cost to the total, day and week (integers:
/// HINCRBY / INCRBY, exact). Day and week buckets get their TTL here. The caller sums the
/// batch's settlements per window start, day and week (integer sums: the same result as one
/// `settle` after another, since nothing here moves the window).
///
/// KEYS: limits hash, batch marker, the day buckets, then the week buckets.
/// ARGV: marker TTL s, day TTL s, week TTL s, total cost, number of day buckets d, number of
/// window entries w, then w triples (window start, tokens, cost), then d day costs, then one
/// cost per week bucket (money in picodollars).
/// Returns 1 when applied, 0 when the batch was applied before.
const SETTLE_BATCH: &str = r#"
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local d, w = tonumber(ARGV[5]), tonumber(ARGV[6])
if w > 0 then
  local start = redis.call('HGET', KEYS[1], 'window_start')
  for i = 0, w - 1 do
    if start == ARGV[7 + 3 * i] then
      redis.call('HINCRBY', KEYS[1], 'window_tokens', ARGV[8 + 3 * i])
      redis.call('HINCRBY', KEYS[1], 'window_cost', ARGV[9 + 3 * i])
    end
  end
end
redis.call('HINCRBY', KEYS[1], 'total_cost', ARGV[4])
local a = 7 + 3 * w
for i = 3, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[a + i - 3])
  redis.call('EXPIRE', KEYS[i], (i < 3 + d) and ARGV[2] or ARGV[3])
end
return 1
"#;

/// `LimitStore::raise_counters`, the rules of `limits::memory::KeyState::raise`: the window
/// taken over when the given one started later (or none is stored), raised when it is the same;
/// the total, day and week each raised to the given value (never lowered). Values are decimal
/// strings compared with `ge` (exact); day and week buckets get their TTL when written.
///
/// KEYS: limits hash, day bucket, week bucket. ARGV: window start ('' = none), window requests,
/// window tokens, window cost, total, daily, weekly, day TTL s, week TTL s.
/// Returns 1 when anything changed, else 0.
const RAISE_COUNTERS: &str = r#"
local changed = 0
local function raise_field(field, value)
  local held = redis.call('HGET', KEYS[1], field) or '0'
  if not ge(held, value) then
    redis.call('HSET', KEYS[1], field, value)
    changed = 1
  end
end
if ARGV[1] ~= '' then
  local start = redis.call('HGET', KEYS[1], 'window_start')
  if not start or (start ~= ARGV[1] and ge(ARGV[1], start)) then
    redis.call('HSET', KEYS[1], 'window_start', ARGV[1], 'window_requests', ARGV[2],
      'window_tokens', ARGV[3], 'window_cost', ARGV[4])
    changed = 1
  elseif start == ARGV[1] then
    raise_field('window_requests', ARGV[2])
    raise_field('window_tokens', ARGV[3])
    raise_field('window_cost', ARGV[4])
  end
end
raise_field('total_cost', ARGV[5])
for i = 2, 3 do
  local held = redis.call('GET', KEYS[i]) or '0'
  if not ge(held, ARGV[4 + i]) then
    redis.call('SET', KEYS[i], ARGV[4 + i], 'EX', ARGV[6 + i])
    changed = 1
  end
end
return changed
"#;

/// A usage batch, at most once: SET NX of the batch's marker (with a TTL), and only if it was
/// not there, per delta HINCRBY of its non-zero counters (`requests` always, so a delta of zeros
/// still lists the id), SADD of the id to the bucket's index, and EXPIRE of both for dated
/// buckets. Atomic: a batch is applied whole or not at all.
///
/// KEYS: batch marker, then per delta its counters hash and its index set.
/// ARGV: marker TTL s, then per delta: id, TTL s (0 = none), the 8 counters in
/// `UsageCounters::FIELDS` order.
/// Returns 1 when applied, 0 when the batch was applied before.
const ADD_USAGE: &str = r#"
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local fields = {'requests', 'input_tokens', 'output_tokens', 'cache_creation_5m_tokens',
  'cache_creation_1h_tokens', 'cache_read_tokens', 'cost', 'rated_cost'}
local a = 2
for k = 2, #KEYS, 2 do
  local hash, index = KEYS[k], KEYS[k + 1]
  for f = 1, 8 do
    local v = ARGV[a + 1 + f]
    if f == 1 or v ~= '0' then redis.call('HINCRBY', hash, fields[f], v) end
  end
  redis.call('SADD', index, ARGV[a])
  if ARGV[a + 1] ~= '0' then
    redis.call('EXPIRE', hash, ARGV[a + 1])
    redis.call('EXPIRE', index, ARGV[a + 1])
  end
  a = a + 10
end
return 1
"#;

/// Takes an account's user-turn gate. KEYS: gate, released. ARGV: holder, min gap ms, TTL ms,
/// now (unix ms). Returns 0 when taken, else about how many ms to wait: the gate's remaining
/// TTL while another holds it, the rest of the gap after the last release.
pub const PACING_TAKE: &str = r#"
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  local left = redis.call('PTTL', KEYS[1])
  if left < 1 then left = 1 end
  return left
end
local ready = tonumber(redis.call('GET', KEYS[2]) or '0') + tonumber(ARGV[2])
local now = tonumber(ARGV[4])
if ready > now then
  return ready - now
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 0
"#;

/// Releases an account's user-turn gate if ARGV[1] still holds it and notes when. KEYS: gate,
/// released. ARGV: holder, now (unix ms), how long to keep the release time (ms).
pub const PACING_RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
return 1
"#;

/// The scripts, hashed once per store.
pub struct Scripts {
    pub acquire_slot: Script,
    pub sweep_leases: Script,
    pub sticky_set: Script,
    pub sticky_sweep: Script,
    pub patch_record: Script,
    pub set_field: Script,
    pub reseal_field: Script,
    pub touch_last_used: Script,
    pub delete_account: Script,
    pub put_key: Script,
    pub delete_key: Script,
    pub admit: Script,
    pub settle_batch: Script,
    pub raise_counters: Script,
    pub add_usage: Script,
    pub pacing_take: Script,
    pub pacing_release: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            acquire_slot: Script::new(&format!("{STICKY}{ACQUIRE_SLOT}")),
            sweep_leases: Script::new(SWEEP_LEASES),
            sticky_set: Script::new(&format!("{STICKY}{STICKY_SET}")),
            sticky_sweep: Script::new(&format!("{STICKY}{STICKY_SWEEP}")),
            patch_record: Script::new(PATCH_RECORD),
            set_field: Script::new(SET_FIELD),
            reseal_field: Script::new(RESEAL_FIELD),
            touch_last_used: Script::new(TOUCH_LAST_USED),
            delete_account: Script::new(DELETE_ACCOUNT),
            put_key: Script::new(PUT_KEY),
            delete_key: Script::new(DELETE_KEY),
            admit: Script::new(&format!("{GE}{ADMIT}")),
            settle_batch: Script::new(SETTLE_BATCH),
            raise_counters: Script::new(&format!("{GE}{RAISE_COUNTERS}")),
            add_usage: Script::new(ADD_USAGE),
            pacing_take: Script::new(PACING_TAKE),
            pacing_release: Script::new(PACING_RELEASE),
        }
    }
}
