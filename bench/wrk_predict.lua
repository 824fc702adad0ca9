-- wrk script of bench/api_bench.py: POSTs prediction bodies built from a model's real held-out samples.
--
--   wrk -t2 -c64 -d10s --latency -s bench/wrk_predict.lua URL -- SAMPLES_FILE MODE OFFSET THREADS [AUTH]
--
-- SAMPLES_FILE (written by api_bench.py): line 1 "N P", then per held-out sample one line with the JSON
-- object of its features but P of them, and P lines "fragment0<TAB>fragment1": the JSON text of one
-- more feature, `,"NAME":value`, with its real value (0) or a perturbed one (1: a binary feature flipped,
-- a count plus one). P are the features the model relies on least.
--
-- MODE "repeated": every request is the same body, held-out sample 1 as it is (the API answers all
-- but the first from its result cache).
-- MODE "distinct": request u (OFFSET + a counter, interleaved over THREADS threads so no two threads
-- send the same u) is held-out sample (u mod N) with the perturbed features set from the bits of
-- floor(u / N), and sample id "d<u>": no two requests of a run, nor of runs with distant OFFSETs,
-- carry the same values, so each one takes the model path. api_bench.py builds the same bodies.
--
-- AUTH: the Authorization header's value, or "-" for none. done() prints one line "BENCH_RESULT {json}".

-- every body names its samples' data-use basis first, as api_bench.py's DATA_USE_HEAD does
local HEAD = '{"data_use":{"basis":"public","reference":"GDSC and TCGA public releases (benchmark)"},'
   .. '"samples":[{"id":"'
local MID, TAIL = '","features":', '}}]}'
local n, p, prefixes, fragments
local mode, offset, step, counter = "repeated", 0, 1, 0
local headers = {["Content-Type"] = "application/json"}
local fixed_request

local next_id = 0
function setup(thread)
   thread:set("thread_index", next_id)
   next_id = next_id + 1
end

local function load(path)
   local file = assert(io.open(path, "r"), "cannot open " .. path)
   n, p = file:read("*n", "*n")
   file:read("*l")  -- rest of the first line
   prefixes, fragments = {}, {}
   for i = 1, n do
      prefixes[i] = file:read("*l")
      local row = {}
      for j = 1, p do
         local line = file:read("*l")
         local tab = line:find("\t", 1, true)
         row[j] = {line:sub(1, tab - 1), line:sub(tab + 1)}
      end
      fragments[i] = row
   end
   file:close()
end

local function body(sample, bits, id)
   local parts = {HEAD, id, MID, prefixes[sample]}
   local row = fragments[sample]
   for j = 1, p do
      parts[#parts + 1] = row[j][bits % 2 + 1]
      bits = math.floor(bits / 2)
   end
   parts[#parts + 1] = TAIL
   return table.concat(parts)
end

function init(args)
   load(args[1])
   mode = args[2] or "repeated"
   offset = tonumber(args[3] or "0")
   step = tonumber(args[4] or "1")
   if args[5] and args[5] ~= "-" then headers["Authorization"] = args[5] end
   counter = thread_index or 0
   if mode == "repeated" then
      fixed_request = wrk.format("POST", nil, headers, body(1, 0, "repeated-sample"))
   end
end

function request()
   if fixed_request then return fixed_request end
   local u = offset + counter
   counter = counter + step
   return wrk.format("POST", nil, headers, body(u % n + 1, math.floor(u / n), string.format("d%d", u)))
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
      '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
