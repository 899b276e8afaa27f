// Structured logs: one JSON object (or one text line) per event on stdout,
// friendly to journald and Docker. Never pass a secret or a whole payload.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace effectd::log {

enum class Level { Trace, Debug, Info, Warn, Error };
enum class Format { Json, Text };

struct Field {
  using Value = std::variant<std::string_view, std::int64_t, std::uint64_t, bool, double>;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(std::int64_t{v}) {}
  Field(std::string_view k, long v) : key(k), value(std::int64_t{v}) {}
  Field(std::string_view k, long long v) : key(k), value(std::int64_t{v}) {}
  Field(std::string_view k, unsigned v) : key(k), value(std::uint64_t{v}) {}
  Field(std::string_view k, unsigned long v) : key(k), value(std::uint64_t{v}) {}
  Field(std::string_view k, unsigned long long v) : key(k), value(std::uint64_t{v}) {}
  std::string_view key;
  Value value;
};

using Fields = std::initializer_list<Field>;

void configure(Format format, std::string_view level);
bool enabled(Level level);
void write(Level level, std::string_view message, Fields fields);

inline void debug(std::string_view m, Fields f = {}) {
  write(Level::Debug, m, f);
}
inline void info(std::string_view m, Fields f = {}) {
  write(Level::Info, m, f);
}
inline void warn(std::string_view m, Fields f = {}) {
  write(Level::Warn, m, f);
}
inline void error(std::string_view m, Fields f = {}) {
  write(Level::Error, m, f);
}

// The line `write` would print, for tests.
std::string format(Format format, Level level, std::string_view message, Fields fields);

}  // namespace effectd::log
