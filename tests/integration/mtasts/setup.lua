-- Lays out the MTA-STS test servers in a temporary directory (run_mtasts.sh):
--
--   lua5.4 setup.lua DIR MANIFEST_DIR
--
-- DIR/pki     two test CAs made here with openssl: "good" (the one the
--             tests trust, DIR/pki/good/ca.pem) and "rogue" (never trusted);
--             one EC P-256 key for every server certificate
-- DIR/certs   a certificate per policy host (mta-sts.<domain>.pem), and the
--             variants the manifest and the hostile tests ask for
--             (<host>.expired.pem, .notyet, .mismatch, .untrusted, .selfsigned)
-- DIR/www     the policy bodies, byte for byte as served
-- DIR/nginx.conf.in   nginx's configuration; run_mtasts.sh fills in @PORT@
--             (the main port: the 24 discovery cases and a good policy for
--             every hostile domain), @HPORT@ (the misbehaving twins) and
--             @USER@
--
-- The discovery cases come from MANIFEST_DIR/manifest.json, read in place:
-- each case's https status, content type and body (the over-64-KiB bodies
-- are generated from their body_note) and its "tls" field (valid, untrusted
-- CA, name mismatch).
local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path
local C = require "common"
local cjson = require "cjson"

local dir, mdir = arg[1], arg[2]
if not dir or not mdir then
  io.stderr:write("usage: lua5.4 setup.lua DIR MANIFEST_DIR\n")
  os.exit(2)
end
local q = C.quote

local function die(msg)
  io.stderr:write("setup.lua: " .. msg .. "\n")
  os.exit(1)
end

local function run(cmd)
  if not C.sh(cmd .. " >>" .. q(dir .. "/openssl.log") .. " 2>&1") then
    io.stderr:write(C.readfile(dir .. "/openssl.log") or "")
    die("failed: " .. cmd)
  end
end

for _, d in ipairs{ "pki/good/new", "pki/rogue/new", "certs", "www", "ngx-tmp" } do C.mkdir(dir .. "/" .. d) end

-- PKI -------------------------------------------------------------------
local pki = dir .. "/pki"
local cnf = pki .. "/openssl.cnf"
local ca_section = [[
[ CA_%s ]
dir = %s/%s
certificate = $dir/ca.pem
private_key = $dir/ca.key
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
default_md = sha256
default_days = 3
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
]]
C.writefile(cnf, table.concat{ [[
# mailauth MTA-STS tests: test CAs, made and thrown away by each run.
[ ca ]
default_ca = CA_good
]], ca_section:format("good", pki, "good"), ca_section:format("rogue", pki, "rogue"), [[
[ policy_any ]
commonName = supplied
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
]] })

local function ossl(san, args)
  run("SAN=" .. q(san or "DNS:unused.invalid") .. " openssl " .. args)
end

for _, ca in ipairs{ "good", "rogue" } do
  local d = pki .. "/" .. ca
  C.writefile(d .. "/index.txt", "")
  C.writefile(d .. "/serial", ca == "good" and "1000\n" or "2000\n")
  ossl(nil, ("req -config %s -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s -out %s"
    .. " -days 3 -subj %s -extensions v3_ca"):format(q(cnf), q(d .. "/ca.key"), q(d .. "/ca.pem"),
    q("/CN=mailauth MTA-STS " .. ca .. " test CA")))
end
local leaf_key = pki .. "/leaf.key"
ossl(nil, ("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s"):format(q(leaf_key)))

-- A certificate for `cn` with the DNS names `sans`, signed by CA `ca`
-- ("good", "rogue" or "self"), valid from `from` to `to` (openssl ca
-- dates) or for 3 days from now.
local function issue(out, cn, sans, ca, from, to)
  local san = {}
  for i, s in ipairs(sans) do san[i] = "DNS:" .. s end
  san = table.concat(san, ",")
  if ca == "self" then
    ossl(san, ("req -config %s -x509 -new -key %s -subj %s -days 3 -extensions leaf -out %s"):format(q(cnf),
      q(leaf_key), q("/CN=" .. cn), q(out)))
    return
  end
  local csr = dir .. "/certs/tmp.csr"
  ossl(san, ("req -config %s -new -key %s -subj %s -out %s"):format(q(cnf), q(leaf_key), q("/CN=" .. cn), q(csr)))
  local dates = from and ("-startdate %s -enddate %s"):format(from, to) or "-days 3"
  ossl(san, ("ca -config %s -name CA_%s -batch -notext -extensions leaf %s -in %s -out %s"):format(q(cnf), ca,
    dates, q(csr), q(out)))
  os.remove(csr)
end

local certs = dir .. "/certs"
local function cert_path(host, variant)
  return certs .. "/" .. host .. (variant and ("." .. variant) or "") .. ".pem"
end
local made = {}
local function cert(host, variant)
  local path = cert_path(host, variant)
  if made[path] then return path end
  made[path] = true
  if variant == nil then
    issue(path, host, { host }, "good")
  elseif variant == "untrusted" then
    issue(path, host, { host }, "rogue")
  elseif variant == "mismatch" then
    -- a trusted certificate that does not name the policy host: the
    -- manifest's bad-cert2 has the domain's own name only
    local other = host:gsub("^mta%-sts%.", "")
    if other == host then other = "www." .. host end
    issue(path, other, { other }, "good")
  elseif variant == "expired" then
    issue(path, host, { host }, "good", "20200101000000Z", "20200201000000Z")
  elseif variant == "notyet" then
    issue(path, host, { host }, "good", "20990101000000Z", "20991231000000Z")
  elseif variant == "selfsigned" then
    issue(path, host, { host }, "self")
  else
    die("unknown certificate variant " .. variant)
  end
  return path
end

-- nginx -----------------------------------------------------------------
local function ngx_string(s)
  if s:find("$", 1, true) then die("a body with '$' cannot be given to nginx's return") end
  return '"' .. s:gsub("\\", "\\\\"):gsub('"', '\\"'):gsub("\n", "\\n"):gsub("\r", "\\r"):gsub("\t", "\\t") .. '"'
end

local www = dir .. "/www"
local nbody = 0
local function body_file(data)
  nbody = nbody + 1
  local path = ("%s/body%03d.txt"):format(www, nbody)
  C.writefile(path, data)
  return path
end

local servers = {}
-- One server block: `loc` is the inside of location = /.well-known/mta-sts.txt.
local function server(port, host, certfile, loc)
  servers[#servers + 1] = table.concat({
    "  server {",
    "    listen 127.0.0.1:" .. port .. " ssl;",
    "    server_name " .. host .. ";",
    "    ssl_certificate " .. certfile .. ";",
    "    ssl_certificate_key " .. leaf_key .. ";",
    "    location = /.well-known/mta-sts.txt {",
    loc,
    "    }",
    "    location / { return 404; }",
    "  }",
  }, "\n")
end

-- Serve `body` with status 200 (from a file: exact bytes, Content-Length,
-- or chunked with no length), or another status through return.
local function serve(status, ctype, body, chunked)
  local t = { "      types { }", "      default_type " .. ngx_string(ctype) .. ";" }
  if status == 200 then
    t[#t + 1] = "      alias " .. body_file(body) .. ";"
    if chunked then
      -- sub_filter drops the Content-Length: the body goes out chunked
      t[#t + 1] = "      sub_filter_types *;"
      t[#t + 1] = "      sub_filter NEVER-IN-THE-BODY x;"
    end
  elseif body and body ~= "" then
    t[#t + 1] = "      return " .. status .. " " .. ngx_string(body) .. ";"
  else
    t[#t + 1] = "      return " .. status .. ";"
  end
  return table.concat(t, "\n")
end

-- The 24 discovery cases.
local mf = cjson.decode((assert(C.readfile(mdir .. "/manifest.json"), "cannot read the manifest")))
local hosts_seen = {}
local ndisc = 0
for _, case in ipairs(mf.discovery.cases) do
  local h = case.https
  if type(h) == "table" then
    local host = h.url:match("^https://([^/:]+)/%.well%-known/mta%-sts%.txt$")
    if not host then die("unexpected url " .. tostring(h.url)) end
    local spec = cjson.encode(h)
    if hosts_seen[host] then
      if hosts_seen[host] ~= spec then die("two different servers for " .. host) end
    else
      hosts_seen[host] = spec
      local tls = h.tls or ""
      local variant
      if tls:find("does not trust", 1, true) or tls:find("untrusted", 1, true) then
        variant = "untrusted"
      elseif tls:find("name mismatch", 1, true) then
        variant = "mismatch"
      elseif tls:find("^valid certificate") then
        variant = nil
      else
        die("unknown tls kind: " .. tls)
      end
      local body = h.body
      local chunked = false
      if type(body) ~= "string" then
        local note = h.body_note or die("no body and no body_note for " .. host)
        local n, m = note:match('(%d+) x (%d+) "a" bytes')
        if not n or not note:find("valid 4%-line policy") then die("unknown body_note: " .. note) end
        -- the four lines of postfix-mta-sts-resolver's nginx.conf (ngx.say)
        body = "version: STSv1\nmode: enforce\nmax_age: 86400\nmx: mail.loc\n" .. ("a"):rep(n * m)
        local cl = note:match("Content%-Length: (%d+)")
        if cl and tonumber(cl) ~= #body then die(("body_note length %s, generated %d"):format(cl, #body)) end
        chunked = note:find("chunked", 1, true) ~= nil
        if not cl and not chunked then die("body_note says neither Content-Length nor chunked") end
      end
      server("@PORT@", host, cert(host, variant), serve(math.tointeger(h.status), h.content_type, body, chunked))
      ndisc = ndisc + 1
    end
  end
end

-- The hostile domains: a good policy on the main port for each, the
-- misbehaving twin on the second port for those served by nginx; the
-- python server's hosts need certificates too.
local nhost = 0
local function good_server(domain)
  local host = "mta-sts." .. domain
  server("@PORT@", host, cert(host), serve(200, "text/plain", C.good_policy(domain)))
  nhost = nhost + 1
end
for _, hc in ipairs(C.HOSTILE) do
  local domain = C.domain(hc.name)
  local host = "mta-sts." .. domain
  good_server(domain)
  local g = hc.ngx
  if g then
    local pol = C.good_policy(domain)
    local loc
    if g.redirect then
      -- to the good policy of the same host on the main port: a client
      -- that follows redirects would find a valid policy there
      loc = ("      return %d https://%s:@PORT@/.well-known/mta-sts.txt;"):format(g.redirect, host)
    elseif g.code then
      loc = serve(g.code, "text/plain", g.code ~= 204 and pol or nil)
    elseif g.ctype then
      loc = serve(200, g.ctype, pol)
    elseif g.size then
      loc = serve(200, "text/plain", C.padded_policy(domain, g.size), g.chunked)
    elseif g.body then
      loc = serve(200, "text/plain", g.body)
    elseif g.cert then
      loc = serve(200, "text/plain", pol)
    else
      die("nothing to serve for " .. hc.name)
    end
    server("@HPORT@", host, cert(host, g.cert), loc)
  end
end
for _, name in ipairs(C.GOOD) do good_server(C.domain(name)) end
-- readiness probes (run_mtasts.sh) and the defaults for unknown names
local ready = "mta-sts.ready" .. C.SUFFIX
server("@PORT@", ready, cert(ready), serve(200, "text/plain", C.good_policy("ready" .. C.SUFFIX)))
server("@HPORT@", ready, cert(ready), serve(200, "text/plain", C.good_policy("ready" .. C.SUFFIX)))
C.writefile(certs .. "/default.pem", C.readfile(cert("default.invalid")))

local tmp = dir .. "/ngx-tmp"
C.writefile(dir .. "/nginx.conf.in", table.concat({
  "# mailauth MTA-STS tests (generated by tests/integration/mtasts/setup.lua)",
  "@USER@",
  "worker_processes 1;",
  "pid " .. dir .. "/nginx.pid;",
  "error_log " .. dir .. "/nginx-error.log info;",
  "events { worker_connections 512; }",
  "http {",
  "  log_format sts '$server_port $host $status $request_uri';",
  "  access_log " .. dir .. "/access.log sts;",
  "  client_body_temp_path " .. tmp .. "/body;",
  "  proxy_temp_path " .. tmp .. "/proxy;",
  "  fastcgi_temp_path " .. tmp .. "/fastcgi;",
  "  uwsgi_temp_path " .. tmp .. "/uwsgi;",
  "  scgi_temp_path " .. tmp .. "/scgi;",
  "  server_tokens off;",
  "  keepalive_timeout 5;",
  "  server_names_hash_bucket_size 128;",
  "  server {",
  "    listen 127.0.0.1:@PORT@ ssl default_server;",
  "    listen 127.0.0.1:@HPORT@ ssl default_server;",
  "    server_name _;",
  "    ssl_certificate " .. certs .. "/default.pem;",
  "    ssl_certificate_key " .. leaf_key .. ";",
  "    return 404;",
  "  }",
  table.concat(servers, "\n"),
  "}",
  "",
}, "\n"))
print(("setup: %d discovery hosts, %d hostile/good hosts, %d bodies, %d certificates in %s"):format(ndisc, nhost,
  nbody, (function() local n = 0 for _ in pairs(made) do n = n + 1 end return n end)(), dir))
