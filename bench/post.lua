-- wrk script: POST the body in $BODY_FILE with the credential header of one API family.
--   BODY_FILE      the request body (JSON)
--   API_KEY        the credential
--   AUTH_HEADER    x-api-key (default, Anthropic) | x-goog-api-key (Gemini) |
--                  authorization (OpenAI: sent as "Bearer <API_KEY>")
--   EXTRA_HEADERS  optional "name: value" pairs separated by ";" (e.g. "anthropic-version: 2023-06-01")
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["content-type"] = "application/json"

local key = os.getenv("API_KEY")
local auth = (os.getenv("AUTH_HEADER") or "x-api-key"):lower()
if auth == "authorization" then
  wrk.headers["authorization"] = "Bearer " .. key
else
  wrk.headers[auth] = key
end

for pair in (os.getenv("EXTRA_HEADERS") or ""):gmatch("[^;]+") do
  local name, value = pair:match("^%s*([^:]+):%s*(.-)%s*$")
  if name then
    wrk.headers[name] = value
  end
end
