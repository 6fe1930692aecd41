/**
 * The per-user Redis layout of `RedisTokenStore`, as Lua scripts and the codec of its lines.
 *
 * `<prefix>u:{<userId>}` is a string with one line per login, `<session id> <expiry>|<sealed record>`
 * (expiry in base-36 epoch seconds); `<prefix>us:{<userId>}` lists, as `<session id> <login end>`, the
 * logins that outlive their records. Every script prunes what has ended and sets each key's TTL to its
 * latest line (or deletes it when none is left), so one command reads or changes a user's logins.
 */
import { RedisScript } from './redis-client';

// Shared by the scripts: `logins` reads a key's live lines, `save` writes them back with the latest
// expiry as the key's TTL (or deletes the key when none is left), `hold` keeps the second key's lines.
const LOGINS = `
local function expiry(v) return tonumber(string.match(v, '^(%w+)|'), 36) end
local function logins(key, now)
  local list, v = {}, redis.call('GET', key)
  if v then
    for line in string.gmatch(v, '[^\\n]+') do
      local sp = string.find(line, ' ', 1, true)
      local exp = sp and expiry(string.sub(line, sp + 1))
      if exp and exp > now then list[#list + 1] = { string.sub(line, 1, sp - 1), string.sub(line, sp + 1), exp } end
    end
  end
  return list
end
local function save(key, list, now)
  local lines, latest = {}, 0
  for i, e in ipairs(list) do
    lines[i] = e[1] .. ' ' .. e[2]
    if e[3] > latest then latest = e[3] end
  end
  if #lines == 0 then redis.call('DEL', key) else redis.call('SET', key, table.concat(lines, '\\n'), 'EX', latest - now) end
end
-- The logins that outlive their records, lines '<session id> <end>' of the second key: drops the ended
-- ones, those in gone and the field's, and adds the field's with its end when there is one (ends ~= '').
-- Of the logins whose record is gone (not in live), keeps the spare ones that end latest. Returns the
-- session ids dropped for that bound.
local function hold(key, now, field, ends, gone, live, spare)
  if ends == '' and redis.call('EXISTS', key) == 0 then return {} end
  local list, past, v = {}, {}, redis.call('GET', key)
  if v then
    for id, e in string.gmatch(v, '(%S+) (%w+)') do
      local t = tonumber(e, 36)
      if t and t > now and id ~= field and not gone[id] then
        list[#list + 1] = { id, e, t }
        if not live[id] then past[#past + 1] = list[#list] end
      end
    end
  end
  local over = {}
  if #past > spare then
    table.sort(past, function(a, b) return a[3] < b[3] end)
    local cut, rest = {}, {}
    for i = 1, #past - spare do over[i], cut[past[i][1]] = past[i][1], true end
    for _, e in ipairs(list) do if not cut[e[1]] then rest[#rest + 1] = e end end
    list = rest
  end
  if ends ~= '' then list[#list + 1] = { field, ends, tonumber(ends, 36) } end
  save(key, list, now)
  return over
end`;

// KEYS[1] user key, KEYS[2] its logins that outlive their records. ARGV: session id, value, now (s), max
// logins, session id never dropped (offline), the login's end when it outlives the record (base 36) or ''.
// Returns the session ids dropped beyond the bound (the logins that expire first).
export const SET = new RedisScript(`${LOGINS}
local key, now, field = KEYS[1], tonumber(ARGV[3]), ARGV[1]
local kept, others = {}, {}
for _, e in ipairs(logins(key, now)) do
  if e[1] ~= field then
    kept[#kept + 1] = e
    if e[1] ~= ARGV[5] then others[#others + 1] = e end
  end
end
local dropped, gone, keep = {}, {}, tonumber(ARGV[4]) - 1
if #others > keep then
  table.sort(others, function(a, b) return a[3] < b[3] end)
  for i = 1, #others - keep do
    gone[others[i][1]] = true
    dropped[#dropped + 1] = others[i][1]
  end
  local rest = {}
  for _, e in ipairs(kept) do if not gone[e[1]] then rest[#rest + 1] = e end end
  kept = rest
end
kept[#kept + 1] = { field, ARGV[2], expiry(ARGV[2]) }
save(key, kept, now)
-- The bound covers the logins that outlived their records too (the offline set is never one): they get
-- what the records leave of it.
local live, spare = { [ARGV[5]] = true }, keep - (#others - #dropped)
for _, e in ipairs(kept) do live[e[1]] = true end
for _, id in ipairs(hold(KEYS[2], now, field, ARGV[6], gone, live, spare)) do dropped[#dropped + 1] = id end
return dropped`);

// KEYS as SET. ARGV: session id, expected sealed record, new value, now (s), the login's end or ''. Like
// SET, it prunes the expired logins and sets the key's TTL to the latest expiry (which a shorter new value
// can lower).
export const CAS = new RedisScript(`${LOGINS}
local key, now, field = KEYS[1], tonumber(ARGV[4]), ARGV[1]
local list, found = logins(key, now), false
for _, e in ipairs(list) do
  if e[1] == field then
    if string.sub(e[2], string.find(e[2], '|', 1, true) + 1) ~= ARGV[2] then return 0 end
    e[2], e[3], found = ARGV[3], expiry(ARGV[3]), true
  end
end
if not found then return 0 end
save(key, list, now)
hold(KEYS[2], now, field, ARGV[5], {}, {}, math.huge)
return 1`);

// KEYS[1] user key. ARGV: session id, now (s). The login's value, or false.
export const GET_LOGIN = new RedisScript(`${LOGINS}
for _, e in ipairs(logins(KEYS[1], tonumber(ARGV[2]))) do
  if e[1] == ARGV[1] then return e[2] end
end
return false`);

// KEYS as SET. ARGV: session id, now (s).
export const DELETE_LOGIN = new RedisScript(`${LOGINS}
local now, rest = tonumber(ARGV[2]), {}
for _, e in ipairs(logins(KEYS[1], now)) do
  if e[1] ~= ARGV[1] then rest[#rest + 1] = e end
end
save(KEYS[1], rest, now)
hold(KEYS[2], now, ARGV[1], '', {}, {}, math.huge)
return #rest`);

// KEYS as SET. Both texts ('' for an absent key). (Not MGET: it answers nil for a key of another type.)
export const LIST_USER = new RedisScript(`
return { redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '' }`);

// KEYS as SET. Both texts, as LIST_USER.
export const DELETE_USER = new RedisScript(`
local v, w = redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2])
return { v or '', w or '' }`);

export const DELETE_IF = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

/**
 * A value as it sits in its line of the user's key: backslashes and newlines escaped (a cipher envelope
 * has neither, so it is stored as it is). The scripts compare escaped values and never unescape.
 */
export function escapeLine(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function unescapeLine(text: string): string {
  return text.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** The `[session id, value]` pairs of a user key's text. */
export function loginLines(text: unknown): Array<[string, string]> {
  if (typeof text !== 'string') return [];
  return text.split('\n').flatMap((line): Array<[string, string]> => {
    const space = line.indexOf(' ');
    return space > 0 ? [[line.slice(0, space), line.slice(space + 1)]] : [];
  });
}

export function parseValue(value: string): { expiresAt: number; sealed: string } | undefined {
  const sep = value.indexOf('|');
  const expiresAt = sep > 0 ? parseInt(value.slice(0, sep), 36) * 1000 : NaN;
  return Number.isFinite(expiresAt) ? { expiresAt, sealed: unescapeLine(value.slice(sep + 1)) } : undefined;
}
