// Every setting once: its name, type, bounds, whether it is a secret, and
// what it is for. The loader, `effectd config check`, the example file
// (config/effectd.env.example) and the README's table of settings are all
// made from this table; the defaults are Config's own member initializers.
// `deploy.settings_docs` in make test keeps the two documents in step
// (`make settings-docs` writes them).
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.hpp"

namespace effectd::config {

enum class SettingKind {
  Text,          // trimmed
  Secret,        // NAME, NAME_FILE or the credential NAME; shown as "(1 set, redacted)"
  SecretUrl,     // a secret shown with its password masked
  SecretList,    // comma-separated secrets
  Url,           // an http(s) URL the HTTP client accepts
  Integer,       // within [min, max]
  Seconds,       // whole seconds within [min, max]
  Milliseconds,  // whole milliseconds within [min, max]
  Rate,          // per second within [min, max]; unset keeps a negative default
  Choice,        // one of `choices`, "a|b|c"; an enum member takes the index
  Address,       // host:port
  AddressOrOff,  // host:port, or off
  Hosts,         // comma-separated host[:port], https (443 unless given)
  HttpHosts,     // comma-separated host[:port], plain http (80 unless given)
  Networks,      // comma-separated addresses or CIDR networks
};

using SettingField =
    std::variant<std::string Config::*, int Config::*, std::size_t Config::*,
                 std::chrono::seconds Config::*, std::chrono::milliseconds Config::*,
                 double Config::*, ListenAddress Config::*, std::vector<std::string> Config::*,
                 LivemodePolicy Config::*, LogFormat Config::*>;

struct SettingSpec {
  std::string_view name;
  std::string_view group;  // the example file's and the README's section
  SettingKind kind;
  SettingField field;
  long min = 0;
  long max = 0;
  std::string_view choices;      // Choice: "a|b|c", in the enum's order
  std::string_view defaultNote;  // the README's default when Config's alone would mislead
  std::string_view example;      // the example file's value when not the default
  std::string_view help;

  bool secret() const {
    return kind == SettingKind::Secret || kind == SettingKind::SecretUrl ||
           kind == SettingKind::SecretList;
  }
};

std::span<const SettingSpec> settings();

// The value as `config check` shows it: secrets redacted.
std::string shownValue(const Config& config, const SettingSpec& spec);

// config/effectd.env.example and the README's table, as they must read.
std::string exampleFile();
std::string referenceTable();

}  // namespace effectd::config
