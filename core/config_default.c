/* config_default: the embedded default configuration, DESIGN §5's sample with
 * the settings added since (every one at its default). It is
 * what pinbridge runs with no --config, and where absent trunks/tenants lists
 * come from. */
#include "core/config.h"

const char config_default_text[] =
    "data_dir = \"./var\";\n"
    "store = { map_size = \"8G\"; };\n"
    "http  = { listen = \"127.0.0.1:8080\"; threads = 16; public_url = \"\"; };\n"
    "sip   = { listen = [\"udp:127.0.0.1:5060\", \"tcp:127.0.0.1:5060\"]; advertise = \"\"; };\n"
    "media = { ip = \"127.0.0.1\"; advertise = \"\"; port_min = 16384; port_max = 32767;\n"
    "          port_quarantine = \"8s\"; };\n"
    "trunks = ( { name = \"demo\"; allow = [\"127.0.0.0/8\"]; outbound = \"sip:127.0.0.1:5080\";\n"
    "             dial_format = \"e164\"; latch = \"learn\"; } );\n"
    "tenants = ( {\n"
    "  id = \"demo\"; api_key = \"demo-key\"; api_token = \"demo-token\";   # or api_token_sha256\n"
    "  country = \"91\"; national_length = 10; countries = [\"91\"]; timezone = \"UTC\"; trunk = "
    "\"demo\";\n"
    "  vns = [\"+916292134400-+916292134499\"];\n"
    "  pin = { a = true; b = false; max_attempts = 3; first_digit = \"10s\"; inter_digit = "
    "\"5s\";\n"
    "          lockout_after = 10; lockout_window = \"1h\"; lockout_for = \"15m\"; cooloff = "
    "\"0s\"; };\n"
    "  deallocation = { default = \"180d\"; max = \"180d\"; retention = \"30d\"; };\n"
    "  ring_timeout = \"30s\"; max_hunt = \"60s\"; max_duration = \"4h\"; rtp_timeout = \"60s\";\n"
    "  calls = { retention = \"90d\"; };\n"
    "  record = false;\n"
    "  recordings = { dir = \"\"; retention = \"90d\"; };   # dir \"\" = <data_dir>/recordings\n"
    "  webhooks = { secret = \"change-me\"; backoff = \"1s\"; max_age = \"24h\"; concurrency = 8;\n"
    "               retention = \"7d\";\n"
    "               call_completed = \"\"; deallocation = \"\";\n"
    "               verification_success = \"\"; verification_failure = \"\"; };\n"
    "} );\n";
