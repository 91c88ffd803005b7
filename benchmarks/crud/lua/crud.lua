-- wrk script for the CRUD benchmark: one of three request mixes, chosen by CRUD_MIX.
--
--   read   GET /items/<random id among the seeded rows>
--   write  40% PUT /items/<random seeded id>, 30% POST /items, 30% DELETE /items/<id>
--   mixed  90% read, 10% write (the write split as above)
--
-- DELETE only removes rows this script created (ids read from the POST responses), so every
-- response is a 2xx and the seeded rows stay for the reads; with none created yet, a DELETE
-- turns into a POST. CRUD_ROWS is the number of seeded rows (ids 1..CRUD_ROWS).

local mix = os.getenv("CRUD_MIX") or "read"
local rows = tonumber(os.getenv("CRUD_ROWS") or "10000")
local read_percent = ({ read = 100, write = 0, mixed = 90 })[mix]
if read_percent == nil then
   error("CRUD_MIX must be read, write or mixed, not " .. mix)
end

local created = {}
local counter = 0
local json = { ["Content-Type"] = "application/json" }

local function item_body()
   counter = counter + 1
   return string.format(
      '{"name": "item %d", "description": "written by wrk, request %d of this run",'
         .. ' "price_cents": %d, "quantity": %d}',
      counter, counter, math.random(100, 99999), math.random(0, 999))
end

local function write_request()
   local r = math.random(100)
   if r <= 40 then
      return wrk.format("PUT", "/items/" .. math.random(rows), json, item_body())
   end
   if r <= 70 or #created == 0 then
      return wrk.format("POST", "/items", json, item_body())
   end
   return wrk.format("DELETE", "/items/" .. table.remove(created))
end

function init(args)
   math.randomseed(os.time())
end

function request()
   if math.random(100) <= read_percent then
      return wrk.format("GET", "/items/" .. math.random(rows))
   end
   return write_request()
end

if read_percent < 100 then
   -- Only the mixes that write read responses: a response() hook costs wrk time.
   function response(status, headers, body)
      if status == 201 then
         local id = body:match('"id"%s*:%s*(%d+)')
         if id then
            created[#created + 1] = id
         end
      end
   end
end
