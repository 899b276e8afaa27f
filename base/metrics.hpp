// The daemon's own measurements, in Prometheus' data model: counters,
// gauges and histograms kept in memory, rendered as the text exposition
// format 0.0.4 for `/metrics`. One registry per process, as in every
// Prometheus client library, so each layer counts where the thing happens
// without being handed a sink. Updates are lock-free except for a labelled
// counter's lookup of its series (a short mutex, no allocation once seen).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace effectd::metrics {

// A counter with labels. Label values come from the code (status codes,
// reasons, kinds) or from verified Stripe events (event types); past
// `maxSeries` distinct sets, new ones are counted under "other" so that no
// input can grow memory without bound.
class CounterFamily {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> labels,
                std::size_t maxSeries = 256);
  void inc(std::initializer_list<std::string_view> values, std::uint64_t by = 1);
  std::uint64_t value(std::initializer_list<std::string_view> values) const;
  void render(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> labels_;
  std::size_t maxSeries_;
  mutable std::mutex mutex_;
  // Keyed by the label values joined with a byte no label value has.
  std::map<std::string, std::uint64_t, std::less<>> series_;
};

class Gauge {
 public:
  Gauge(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t by) { value_.fetch_add(by, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }
  void render(std::string& out) const;

 private:
  std::string name_, help_;
  std::atomic<std::int64_t> value_{0};
};

// A gauge for each of a fixed set of values of one label (the listeners by
// name): nothing a client sends can add a series.
class GaugeFamily {
 public:
  GaugeFamily(std::string name, std::string help, std::string label,
              std::initializer_list<std::string_view> values);
  Gauge* find(std::string_view value);  // null for a value not listed
  void render(std::string& out) const;

 private:
  std::string name_, help_, label_;
  std::vector<std::string> values_;
  std::deque<Gauge> gauges_;  // one per value; a deque never moves them
};

// Fixed upper bounds, chosen per histogram; observations are lock-free.
class Histogram {
 public:
  static constexpr std::size_t kMaxBuckets = 16;
  Histogram(std::string name, std::string help, std::initializer_list<double> bounds);
  void observe(double value);
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  void render(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<double> bounds_;
  std::array<std::atomic<std::uint64_t>, kMaxBuckets + 1> buckets_{};  // last: +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Everything effectd counts in memory. What lives in the database (effects
// by status, queue depth) is read by the admin listener when it is scraped.
struct Registry {
  CounterFamily webhookRequests{"effectd_webhook_requests_total",
                                "Requests to /webhooks/stripe by the status answered and why.",
                                {"status", "reason"}};
  Histogram webhookDuration{
      "effectd_webhook_duration_seconds",
      "From a webhook's header read to its answer written (body upload included).",
      {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}};
  CounterFamily eventsProcessed{
      "effectd_events_processed_total",
      "Stripe events whose handler ran and committed, by event type and outcome.",
      {"type", "outcome"}};
  CounterFamily deliveryAttempts{"effectd_delivery_attempts_total",
                                 "Delivery attempts of effects by provider and outcome.",
                                 {"provider", "outcome"}};
  CounterFamily lateCompletions{
      "effectd_completions_unmatched_total",
      "Delivery outcomes whose claim was gone when written (rescued by another daemon, or "
      "claimed again), by the status they would have written and what became of them: "
      "settled (a sent that marked the effect sent) or dropped.",
      {"outcome", "result"}};
  Histogram deliveryLatency{
      "effectd_delivery_latency_seconds",
      "From an effect's enqueueing to the provider accepting it (a retried effect counts from its "
      "first enqueueing).",
      {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600}};
  Gauge intakeQueueLength{"effectd_intake_queue_length",
                          "Webhook events waiting for an intake writer."};
  Histogram intakeBatchSize{"effectd_intake_batch_size",
                            "Events stored per intake transaction (group commit).",
                            {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}};
  Gauge databasePoolSize{"effectd_db_pool_size",
                         "Intake writer connections (EFFECTD_DB_POOL_SIZE)."};
  Gauge databasePoolInUse{"effectd_db_pool_in_use",
                          "Intake writer connections inside a transaction now."};
  GaugeFamily httpConnections{"effectd_http_connections",
                              "Open connections by listener (public: webhooks; admin).",
                              "listener",
                              {"public", "admin"}};
  GaugeFamily httpIdleConnections{
      "effectd_http_idle_connections",
      "Open connections waiting for their next request, by listener: the ones that give way "
      "at EFFECTD_MAX_CONNECTIONS.",
      "listener",
      {"public", "admin"}};

  void render(std::string& out) const;
};

Registry& registry();

// The process' own figures under the names every Prometheus client uses:
// process_resident_memory_bytes, process_cpu_seconds_total, open fds.
void renderProcess(std::string& out);

// Appends one sample line: name{labels} value.
void appendSample(std::string& out, std::string_view name,
                  std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                  double value);
void appendHeader(std::string& out, std::string_view name, std::string_view help,
                  std::string_view type);

}  // namespace effectd::metrics
