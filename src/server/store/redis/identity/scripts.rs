//! The Lua scripts of the identity store: each change is one script, atomic, that also
//! announces it (see `announcements`) only if something changed.

use redis::Script;

/// Deletes every session listed in the set `set` (hashes after the key prefix `prefix`), and
/// the set; returns how many sessions there were.
const DELETE_SESSIONS: &str = r"
local function delete_sessions(set, prefix)
  local count = 0
  for _, hash in ipairs(redis.call('SMEMBERS', set)) do
    count = count + redis.call('DEL', prefix .. hash)
  end
  redis.call('DEL', set)
  return count
end
";

/// KEYS: account, accounts, channel. ARGV: key, name, password hash, disabled, created at, event.
const CREATE_ACCOUNT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[2], 'password_hash', ARGV[3], 'disabled', ARGV[4],
           'created_at', ARGV[5])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[6])
return 1
";

/// KEYS: account, channel. ARGV: password hash, event.
const SET_PASSWORD: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'password_hash', ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1
";

/// KEYS: account, its sessions set, channel. ARGV: disabled, session key prefix, event.
const SET_DISABLED: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'disabled', ARGV[1])
if ARGV[1] == '1' then delete_sessions(KEYS[2], ARGV[2]) end
redis.call('PUBLISH', KEYS[3], ARGV[3])
return 1
";

/// KEYS: session, its account's sessions set. ARGV: account, expires at (seconds, as given),
/// expires at (Unix milliseconds), token hash, session key prefix.
const CREATE_SESSION: &str = r"
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[5] .. hash) == 0 then redis.call('SREM', KEYS[2], hash) end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'account', ARGV[1], 'expires_at', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
local ttl = redis.call('PTTL', KEYS[2])
local now = redis.call('TIME')
if ttl < 0 or tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000 + ttl < tonumber(ARGV[3]) then
  redis.call('PEXPIREAT', KEYS[2], ARGV[3])
end
return 1
";

/// KEYS: session, channel. ARGV: token hash, sessions set key prefix, event.
const DELETE_SESSION: &str = r"
local account = redis.call('HGET', KEYS[1], 'account')
if not account then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[2] .. account, ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[3])
return 1
";

/// KEYS: the account's sessions set, channel. ARGV: session key prefix, event.
const DELETE_SESSIONS_OF: &str = r"
local count = delete_sessions(KEYS[1], ARGV[1])
if count > 0 then redis.call('PUBLISH', KEYS[2], ARGV[2]) end
return count
";

/// KEYS: room, members, rooms, channel. ARGV: name, owner, event, members...
const CREATE_PRIVATE_ROOM: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
redis.call('DEL', KEYS[2])
for i = 4, #ARGV do
  if ARGV[i] ~= ARGV[2] then redis.call('SADD', KEYS[2], ARGV[i]) end
end
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('PUBLISH', KEYS[4], ARGV[3])
return 1
";

/// KEYS: room, members, rooms, channel, its joiners. ARGV: name, event, joined key prefix.
const DELETE_PRIVATE_ROOM: &str = r"
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
for _, account in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  redis.call('HDEL', ARGV[3] .. account, ARGV[1])
end
redis.call('DEL', KEYS[5])
redis.call('PUBLISH', KEYS[4], ARGV[2])
return 1
";

/// KEYS: room, members, channel. ARGV: account, event.
const ADD_MEMBER: &str = r"
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return 0 end
if owner ~= ARGV[1] and redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  redis.call('PUBLISH', KEYS[3], ARGV[2])
end
return 1
";

/// KEYS: members, channel, the member's joined rooms, the room's joiners. ARGV: account,
/// event, room.
const REMOVE_MEMBER: &str = r"
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1
";

/// KEYS: the account's joined rooms, the room's joiners, room, members, the account's levels.
/// ARGV: account, room, last read id (empty: none), level (empty: as kept). Answers the kept
/// id (empty: none) and level (empty: none chosen), or nil for a private room the account is
/// not in. Canonical ids compare as strings, and the empty string before all.
const SET_READ: &str = r"
local owner = redis.call('HGET', KEYS[3], 'owner')
if owner and owner ~= ARGV[1] and redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 0 then
  return false
end
local kept = redis.call('HGET', KEYS[1], ARGV[2])
if not kept or ARGV[3] > kept then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  kept = ARGV[3]
end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[5], ARGV[2], ARGV[4])
end
redis.call('SADD', KEYS[2], ARGV[1])
return {kept, redis.call('HGET', KEYS[5], ARGV[2]) or ''}
";

/// KEYS: the account's joined rooms, the room's joiners, the account's levels. ARGV: account,
/// room.
const LEAVE_ROOM: &str = r"
if redis.call('HDEL', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
";

pub(super) struct Scripts {
    pub create_account: Script,
    pub set_password: Script,
    pub set_disabled: Script,
    pub create_session: Script,
    pub delete_session: Script,
    pub delete_sessions_of: Script,
    pub create_private_room: Script,
    pub delete_private_room: Script,
    pub add_member: Script,
    pub remove_member: Script,
    pub set_read: Script,
    pub leave_room: Script,
}

impl Scripts {
    pub fn new() -> Self {
        let with_delete_sessions = |body: &str| Script::new(&format!("{DELETE_SESSIONS}{body}"));
        Self {
            create_account: Script::new(CREATE_ACCOUNT),
            set_password: Script::new(SET_PASSWORD),
            set_disabled: with_delete_sessions(SET_DISABLED),
            create_session: Script::new(CREATE_SESSION),
            delete_session: Script::new(DELETE_SESSION),
            delete_sessions_of: with_delete_sessions(DELETE_SESSIONS_OF),
            create_private_room: Script::new(CREATE_PRIVATE_ROOM),
            delete_private_room: Script::new(DELETE_PRIVATE_ROOM),
            add_member: Script::new(ADD_MEMBER),
            remove_member: Script::new(REMOVE_MEMBER),
            set_read: Script::new(SET_READ),
            leave_room: Script::new(LEAVE_ROOM),
        }
    }
}
