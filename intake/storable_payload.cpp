#include "intake/storable_payload.hpp"

#include <cstddef>

namespace effectd::intake {
namespace {

// The code unit of the \uXXXX escape at `at` (pointing at the backslash),
// or -1 when there is none there.
long escapeAt(std::string_view json, std::size_t at) {
  if (at + 6 > json.size() || json[at] != '\\' || json[at + 1] != 'u') return -1;
  long value = 0;
  for (std::size_t i = at + 2; i < at + 6; ++i) {
    const char c = json[i];
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

bool isHigh(long unit) {
  return unit >= 0xD800 && unit <= 0xDBFF;
}
bool isLow(long unit) {
  return unit >= 0xDC00 && unit <= 0xDFFF;
}

}  // namespace

std::optional<std::string> jsonbStorable(std::string_view json) {
  std::optional<std::string> out;
  const auto replace = [&](std::size_t at) {
    if (!out) out.emplace(json);
    out->replace(at, 6, "\\ufffd");
  };
  for (std::size_t i = 0; i < json.size(); ++i) {
    if (json[i] != '\\') continue;
    const long unit = escapeAt(json, i);
    if (unit < 0) {
      ++i;  // any other escape: skip the escaped character (\\ included)
      continue;
    }
    if (isHigh(unit) && isLow(escapeAt(json, i + 6))) {
      i += 11;  // a proper pair
      continue;
    }
    if (unit == 0 || isHigh(unit) || isLow(unit)) replace(i);
    i += 5;
  }
  return out;
}

}  // namespace effectd::intake
