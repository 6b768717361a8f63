-- wrk script: every request POSTs a lead no one posted before, shaped like bench/routed_org.py's lead_payload.
--
--   wrk -t2 -c8 -d10s --latency -H "Authorization: Bearer TOKEN" -s unique_lead.lua http://host:port -- RUN PATH
--
-- RUN (a number, distinct per invocation against one database) and the thread id and a per-thread counter make
-- the external id, e-mail and phone unique, so no lead is deduplicated against another or against the history.
-- done() prints "STATUS created=N other=M": answers 201 and everything else (wrk's own Non-2xx line counts
-- only statuses above 399, and a lead found again would answer 200).

local threads = {}
local next_id = 1
local regions = {"east", "south", "north", "central", "southwest"}

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   run = tonumber(args[1])
   path = args[2]
   sent = 0
   created = 0
   other = 0
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   sent = sent + 1
   local key = string.format("%02d%02d%07d", run, id, sent)
   local n = tonumber(key)
   local body = string.format(
      '{"source":"website","external_id":"wrk-%s","company":"华东智能制造%s有限公司","contact_name":"李雷",' ..
      '"email":"buyer%s@corp%s.cn","phone":"15%s","title":"采购经理","industry":"制造业","region":"%s",' ..
      '"company_size":%d}',
      key, key, key, key, key, regions[n % 5 + 1], 50 + (n * 37) % 400)
   return wrk.format("POST", path, nil, body)
end

function response(status, headers, body)
   if status == 201 then
      created = created + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local total_created, total_other = 0, 0
   for _, thread in ipairs(threads) do
      total_created = total_created + thread:get("created")
      total_other = total_other + thread:get("other")
   end
   io.write(string.format("STATUS created=%d other=%d\n", total_created, total_other))
end
