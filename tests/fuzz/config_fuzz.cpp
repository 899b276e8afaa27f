// Configuration from the environment: NAME=VALUE lines. Invariants: loading
// never throws; what `config check` shows never contains a secret given.
#include <map>
#include <string>

#include "config/config.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace effectd::config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::map<std::string, std::string, std::less<>> vars;
  auto input = asText(data, size);
  while (!input.empty()) {
    const auto end = input.find('\n');
    const auto line = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
    const auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string name(line.substr(0, eq));
    if (name.ends_with("_FILE") || name == "CREDENTIALS_DIRECTORY") continue;  // no file reads
    vars[name] = std::string(line.substr(eq + 1));
  }
  const auto loaded = load([&](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
  const auto shown = describe(loaded.config);
  for (const char* secret : {"EFFECTD_ADMIN_TOKEN", "RESEND_API_KEY", "POSTMARK_SERVER_TOKEN",
                             "POSTHOG_API_KEY", "SEGMENT_WRITE_KEY", "WEBHOOK_SIGNING_SECRET"}) {
    auto it = vars.find(secret);
    if (it == vars.end() || it->second.size() < 8) continue;
    for (const auto& s : shown) FUZZ_CHECK(s.value.find(it->second) == std::string::npos);
    for (const auto& p : loaded.problems) FUZZ_CHECK(p.find(it->second) == std::string::npos);
  }
  return 0;
}
