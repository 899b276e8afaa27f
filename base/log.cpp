#include "base/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

namespace effectd::log {
namespace {

std::atomic<Level> g_level{Level::Info};
std::atomic<Format> g_format{Format::Json};
std::mutex g_write;

std::string_view name(Level level) {
  switch (level) {
    case Level::Trace:
      return "trace";
    case Level::Debug:
      return "debug";
    case Level::Info:
      return "info";
    case Level::Warn:
      return "warn";
    case Level::Error:
      return "error";
  }
  return "info";
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

// Quotes a string as JSON; invalid UTF-8 from a client is replaced, not fatal.
std::string quoted(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string render(const Field::Value& v, bool json) {
  return std::visit(
      [json](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          const bool bare = !json && !x.empty() && x.find_first_of(" \"=\n") == std::string::npos;
          return bare ? std::string(x) : quoted(x);
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else {
          return nlohmann::json(x).dump();
        }
      },
      v);
}

}  // namespace

void configure(Format format, std::string_view level) {
  g_format = format;
  static constexpr Level levels[] = {Level::Trace, Level::Debug, Level::Info, Level::Warn,
                                     Level::Error};
  for (auto l : levels) {
    if (name(l) == level) g_level = l;
  }
}

bool enabled(Level level) {
  return level >= g_level.load(std::memory_order_relaxed);
}

std::string format(Format fmt, Level level, std::string_view message, Fields fields) {
  std::string line;
  line.reserve(128);
  if (fmt == Format::Json) {
    line += "{\"ts\":\"" + timestamp() + "\",\"level\":\"";
    line += name(level);
    line += "\",\"msg\":" + quoted(message);
    for (const auto& f : fields) {
      line += "," + quoted(f.key) + ":" + render(f.value, true);
    }
    line += "}";
  } else {
    line += timestamp() + " " + std::string(name(level)) + " " + std::string(message);
    for (const auto& f : fields) {
      line += " " + std::string(f.key) + "=" + render(f.value, false);
    }
  }
  line += '\n';
  return line;
}

void write(Level level, std::string_view message, Fields fields) {
  if (!enabled(level)) return;
  const auto line = format(g_format.load(std::memory_order_relaxed), level, message, fields);
  std::lock_guard lock(g_write);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace effectd::log
