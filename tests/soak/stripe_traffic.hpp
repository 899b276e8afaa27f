// Stripe as a client: posts signed events at a steady rate on several
// connections and, as Stripe does for anything but a 2xx (or no answer),
// delivers the same event again later, until each one is accepted. Records
// every request, so a soak can tell what Stripe would have seen.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

namespace effectd::soak {

using Clock = std::chrono::steady_clock;

// Signed once, before the traffic starts: every retry reuses the signature,
// where Stripe signs each attempt again. Fine while a case lasts less than
// the 300 s tolerance.
struct SignedEvent {
  std::string id;
  std::string body;
  std::string signature;  // Stripe-Signature, from Stripe's SDK
};

struct TrafficOptions {
  double eventsPerSecond = 50;  // first deliveries; retries come on top
  int senders = 12;             // concurrent connections
  std::chrono::milliseconds requestTimeout{10000};
  // Stripe backs off over hours; a soak compresses that to seconds.
  std::chrono::milliseconds firstRetry{250};
  std::chrono::milliseconds maxRetry{2000};
};

struct RequestRecord {
  Clock::time_point sentAt;
  double latencyMs = 0;
  int status = 0;           // 0: no answer (refused, reset, timed out)
  bool retryAfter = false;  // the answer had Retry-After
};

class StripeTraffic {
 public:
  // The ports to post to, asked before every request: instances come and
  // go. Retries of an event go to the next one, as behind a load balancer.
  using Targets = std::function<std::vector<std::uint16_t>()>;

  // Starts sending at once.
  StripeTraffic(std::vector<SignedEvent> events, Targets targets, TrafficOptions options);
  ~StripeTraffic();
  StripeTraffic(const StripeTraffic&) = delete;
  StripeTraffic& operator=(const StripeTraffic&) = delete;

  // True once every event has been answered 2xx.
  bool waitUntilAllAccepted(std::chrono::seconds timeout) const;
  // When the last first delivery is due (the end of the steady load).
  Clock::time_point loadEnds() const { return loadEnds_; }
  void stop();

  std::vector<RequestRecord> requests() const;
  std::vector<std::string> acceptedIds() const;
  std::vector<std::string> unacceptedIds() const;

 private:
  struct Due {
    Clock::time_point at;
    std::size_t event;
    int attempt;
    bool operator>(const Due& o) const { return at > o.at; }
  };
  void send();

  std::vector<SignedEvent> events_;
  Targets targets_;
  TrafficOptions options_;
  Clock::time_point loadEnds_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  std::vector<bool> accepted_;
  std::size_t acceptedCount_ = 0;
  std::vector<RequestRecord> requests_;
  bool stopping_ = false;
  std::vector<std::thread> senders_;
};

// The p-th percentile (0..100) of the latencies of 2xx answers to requests
// sent in [from, to).
double percentileMs(const std::vector<RequestRecord>& requests, double p, Clock::time_point from,
                    Clock::time_point to);

}  // namespace effectd::soak
