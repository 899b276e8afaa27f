#include "base/metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace effectd::metrics {
namespace {

constexpr char kSeparator = '\x1f';

// Set when the binary starts, before main (the clock does not throw).
const double kStartTime =  // NOLINT(cert-err58-cpp)
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

void appendEscaped(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void appendNumber(std::string& out, double value) {
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    out += std::to_string(static_cast<long long>(value));
    return;
  }
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, ec == std::errc{} ? end : buffer);
}

// The series key: the label values joined with a separator. A separator
// inside a value would merge two series; it never occurs in the values
// counted here, and is dropped if it does.
void buildKey(std::string& key, std::initializer_list<std::string_view> values) {
  key.clear();
  bool first = true;
  for (auto v : values) {
    if (!first) key += kSeparator;
    first = false;
    for (char c : v) {
      if (c != kSeparator) key += c;
    }
  }
}

}  // namespace

void appendHeader(std::string& out, std::string_view name, std::string_view help,
                  std::string_view type) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void appendSample(std::string& out, std::string_view name,
                  std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                  double value) {
  out.append(name);
  if (labels.size() > 0) {
    out += '{';
    bool first = true;
    for (const auto& [label, v] : labels) {
      if (!first) out += ',';
      first = false;
      out.append(label).append("=\"");
      appendEscaped(out, v);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  appendNumber(out, value);
  out += '\n';
}

CounterFamily::CounterFamily(std::string name, std::string help, std::vector<std::string> labels,
                             std::size_t maxSeries)
    : name_(std::move(name)),
      help_(std::move(help)),
      labels_(std::move(labels)),
      maxSeries_(maxSeries) {}

void CounterFamily::inc(std::initializer_list<std::string_view> values, std::uint64_t by) {
  thread_local std::string key;  // no allocation once it has grown
  buildKey(key, values);
  std::lock_guard lock(mutex_);
  if (auto it = series_.find(std::string_view(key)); it != series_.end()) {
    it->second += by;
    return;
  }
  if (series_.size() >= maxSeries_) {
    std::string other;
    for (std::size_t i = 0; i < labels_.size(); ++i) {
      if (i > 0) other += kSeparator;
      other += "other";
    }
    series_[other] += by;
    return;
  }
  series_.emplace(key, by);
}

std::uint64_t CounterFamily::value(std::initializer_list<std::string_view> values) const {
  std::string key;
  buildKey(key, values);
  std::lock_guard lock(mutex_);
  auto it = series_.find(key);
  return it == series_.end() ? 0 : it->second;
}

void CounterFamily::render(std::string& out) const {
  appendHeader(out, name_, help_, "counter");
  std::lock_guard lock(mutex_);
  for (const auto& [key, count] : series_) {
    out.append(name_);
    out += '{';
    std::size_t start = 0;
    for (std::size_t i = 0; i < labels_.size(); ++i) {
      const auto end = std::min(key.find(kSeparator, start), key.size());
      if (i > 0) out += ',';
      out.append(labels_[i]).append("=\"");
      appendEscaped(out, std::string_view(key).substr(start, end - start));
      out += '"';
      start = end + 1;
    }
    out += "} ";
    appendNumber(out, static_cast<double>(count));
    out += '\n';
  }
}

void Gauge::render(std::string& out) const {
  appendHeader(out, name_, help_, "gauge");
  appendSample(out, name_, {}, static_cast<double>(value()));
}

GaugeFamily::GaugeFamily(std::string name, std::string help, std::string label,
                         std::initializer_list<std::string_view> values)
    : name_(std::move(name)), help_(std::move(help)), label_(std::move(label)) {
  for (const auto value : values) {
    values_.emplace_back(value);
    gauges_.emplace_back(name_, help_);
  }
}

Gauge* GaugeFamily::find(std::string_view value) {
  for (std::size_t i = 0; i < values_.size(); ++i) {
    if (values_[i] == value) return &gauges_[i];
  }
  return nullptr;
}

void GaugeFamily::render(std::string& out) const {
  appendHeader(out, name_, help_, "gauge");
  for (std::size_t i = 0; i < values_.size(); ++i) {
    appendSample(out, name_, {{label_, values_[i]}}, static_cast<double>(gauges_[i].value()));
  }
}

Histogram::Histogram(std::string name, std::string help, std::initializer_list<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), bounds_(bounds) {
  if (bounds_.size() > kMaxBuckets) bounds_.resize(kMaxBuckets);
}

void Histogram::observe(double value) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::render(std::string& out) const {
  appendHeader(out, name_, help_, "histogram");
  const auto bucket = name_ + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::string le;
    appendNumber(le, bounds_[i]);
    appendSample(out, bucket, {{"le", le}}, static_cast<double>(cumulative));
  }
  cumulative += buckets_[bounds_.size()].load(std::memory_order_relaxed);
  appendSample(out, bucket, {{"le", "+Inf"}}, static_cast<double>(cumulative));
  appendSample(out, name_ + "_sum", {}, sum_.load(std::memory_order_relaxed));
  // The count is the +Inf bucket, so that the two always agree in a scrape.
  appendSample(out, name_ + "_count", {}, static_cast<double>(cumulative));
}

void Registry::render(std::string& out) const {
  webhookRequests.render(out);
  webhookDuration.render(out);
  eventsProcessed.render(out);
  deliveryAttempts.render(out);
  lateCompletions.render(out);
  deliveryLatency.render(out);
  intakeQueueLength.render(out);
  intakeBatchSize.render(out);
  databasePoolSize.render(out);
  databasePoolInUse.render(out);
  httpConnections.render(out);
  httpIdleConnections.render(out);
}

Registry& registry() {
  static Registry instance;
  return instance;
}

void renderProcess(std::string& out) {
  long pages = 0;
  long residentPages = 0;
  std::ifstream("/proc/self/statm") >> pages >> residentPages;
  const auto pageSize = static_cast<double>(sysconf(_SC_PAGESIZE));
  appendHeader(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
  appendSample(out, "process_resident_memory_bytes", {},
               static_cast<double>(residentPages) * pageSize);
  appendHeader(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge");
  appendSample(out, "process_virtual_memory_bytes", {}, static_cast<double>(pages) * pageSize);

  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  appendHeader(out, "process_cpu_seconds_total", "User and system CPU time spent in seconds.",
               "counter");
  appendSample(out, "process_cpu_seconds_total", {},
               seconds(usage.ru_utime) + seconds(usage.ru_stime));

  std::error_code ec;
  double fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++fds;
  }
  appendHeader(out, "process_open_fds", "Number of open file descriptors.", "gauge");
  appendSample(out, "process_open_fds", {}, fds);
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  appendHeader(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge");
  appendSample(out, "process_max_fds", {}, static_cast<double>(limit.rlim_cur));
  appendHeader(out, "process_start_time_seconds",
               "Start time of the process since the Unix epoch in seconds.", "gauge");
  appendSample(out, "process_start_time_seconds", {}, kStartTime);
  appendHeader(out, "effectd_build_info", "effectd's version, always 1.", "gauge");
  appendSample(out, "effectd_build_info", {{"version", EFFECTD_VERSION}}, 1);
}

}  // namespace effectd::metrics
