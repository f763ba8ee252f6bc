//! The Lua scripts: every check-then-act step runs atomically inside Redis. Each script names
//! all its keys in `KEYS` (one hash tag per script, see [`keys`](super::keys)); the `redis`
//! crate sends them with EVALSHA and loads them on NOSCRIPT.
//!
//! Timestamps travel as decimal strings and are passed to Redis commands unchanged; Lua only
//! compares them as numbers (exact: unix ms fit a double's 53-bit mantissa).
use redis::Script;

/// Take a slot, honouring and (re)writing the session binding.
///
/// KEYS: slot index, [sticky key if ARGV[4] > 0], one slot zset per candidate.
/// ARGV: now, lease id, lease expiry, sticky TTL ms (0 = no session), then per candidate its
/// account id and limit (0 = unlimited).
/// Returns `{account, sticky_hit}` or nil when every candidate is full.
const ACQUIRE_SLOT: &str = r#"
local lease, expiry = ARGV[2], ARGV[3]
local sticky_ttl = tonumber(ARGV[4])
local first = 2
local sticky_key = nil
if sticky_ttl > 0 then
  sticky_key = KEYS[2]
  first = 3
end
local n = #KEYS - first + 1
local function account(i) return ARGV[3 + 2 * i] end

local bound_pos = nil
if sticky_key then
  local bound = redis.call('GET', sticky_key)
  if bound then
    for i = 1, n do
      if account(i) == bound then bound_pos = i break end
    end
  end
end

local function try_take(i)
  local key = KEYS[first + i - 1]
  local limit = tonumber(ARGV[4 + 2 * i])
  if limit > 0 and redis.call('ZCARD', key) >= limit then
    -- Purge expired leases only when the account looks full: unlimited and quiet accounts
    -- stay O(1).
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
    if redis.call('ZCARD', key) >= limit then return false end
  end
  redis.call('ZADD', key, expiry, lease)
  redis.call('SADD', KEYS[1], account(i))
  return true
end

local function grant(i)
  if sticky_key then
    redis.call('SET', sticky_key, account(i), 'PX', ARGV[4])
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

/// Operator patch: set and delete only the given fields of an existing account.
///
/// KEYS: account hash, records version. ARGV: number of set pairs n, n field/value pairs, then
/// the fields to delete. Returns the whole hash after the change, or nil when the account does
/// not exist (no partial record is created).
const PATCH_ACCOUNT: &str = r#"
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

/// Record uses: per existing account, keep the later of the stored and the given time.
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

/// The scripts, hashed once per store.
pub struct Scripts {
    pub acquire_slot: Script,
    pub sweep_leases: Script,
    pub patch_account: Script,
    pub set_field: Script,
    pub touch_last_used: Script,
    pub delete_account: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            acquire_slot: Script::new(ACQUIRE_SLOT),
            sweep_leases: Script::new(SWEEP_LEASES),
            patch_account: Script::new(PATCH_ACCOUNT),
            set_field: Script::new(SET_FIELD),
            touch_last_used: Script::new(TOUCH_LAST_USED),
            delete_account: Script::new(DELETE_ACCOUNT),
        }
    }
}
