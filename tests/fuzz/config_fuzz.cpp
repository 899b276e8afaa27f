// Configuration from the environment: NAME=VALUE lines. Invariants: loading
// never throws; what `config check` shows never contains a secret given.
#include <map>
#include <string>

#include "config/config.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace effectd::config;

namespace {

using Vars = std::map<std::string, std::string, std::less<>>;

// Everything `config check` prints for these variables, problems included.
std::string printed(const Vars& vars) {
  const auto loaded = load([&](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
  std::string out;
  for (const auto& s : describe(loaded.config)) out += s.name + "=" + s.value + "\n";
  for (const auto& p : loaded.problems) out += p + "\n";
  return out;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Vars vars;
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
  const auto output = printed(vars);
  // A secret leaks if it shows more often than when it is replaced by other
  // bytes: the same text may occur elsewhere by chance (another variable's
  // value, a problem's fixed words: both found by make fuzz).
  for (const char* secret : {"EFFECTD_ADMIN_TOKEN", "RESEND_API_KEY", "POSTMARK_SERVER_TOKEN",
                             "POSTHOG_API_KEY", "SEGMENT_WRITE_KEY", "WEBHOOK_SIGNING_SECRET"}) {
    auto it = vars.find(secret);
    if (it == vars.end() || it->second.size() < 8) continue;
    auto replaced = vars;
    replaced[secret] = std::string(it->second.size(), '\x01');
    FUZZ_CHECK(occurrences(output, it->second) <= occurrences(printed(replaced), it->second));
  }
  return 0;
}
