#include "tests/soak/stripe_traffic.hpp"

#include <algorithm>

#include "daemon/http_post.hpp"

namespace effectd::soak {

StripeTraffic::StripeTraffic(std::vector<SignedEvent> events, Targets targets,
                             TrafficOptions options)
    : events_(std::move(events)),
      targets_(std::move(targets)),
      options_(options),
      accepted_(events_.size(), false) {
  const auto start = Clock::now();
  const auto spacing = std::chrono::duration<double>(1.0 / options_.eventsPerSecond);
  for (std::size_t k = 0; k < events_.size(); ++k) {
    const auto at = start + std::chrono::duration_cast<Clock::duration>(spacing * double(k));
    due_.push({.at = at, .event = k, .attempt = 0});
    loadEnds_ = at;
  }
  for (int i = 0; i < options_.senders; ++i) senders_.emplace_back([this] { send(); });
}

StripeTraffic::~StripeTraffic() {
  stop();
}

void StripeTraffic::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : senders_) {
    if (t.joinable()) t.join();
  }
}

void StripeTraffic::send() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (due_.empty()) {
      changed_.wait(lock);
      continue;
    }
    const auto next = due_.top();
    if (next.at > Clock::now()) {
      changed_.wait_until(lock, next.at);
      continue;
    }
    due_.pop();
    lock.unlock();

    const auto& event = events_[next.event];
    const auto ports = targets_();
    RequestRecord record{.sentAt = Clock::now()};
    if (!ports.empty()) {
      daemon::HttpCall call;
      call.port = ports[(next.event + static_cast<std::size_t>(next.attempt)) % ports.size()];
      call.target = "/webhooks/stripe";
      call.headers = {{"Content-Type", "application/json; charset=utf-8"},
                      {"User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"},
                      {"Stripe-Signature", event.signature}};
      call.body = event.body;
      call.timeout = options_.requestTimeout;
      const auto answer = daemon::httpCall(call);
      record.status = answer.status;
      record.retryAfter = !answer.header("Retry-After").empty();
    }
    record.latencyMs =
        std::chrono::duration<double, std::milli>(Clock::now() - record.sentAt).count();
    const bool ok = record.status >= 200 && record.status < 300;

    lock.lock();
    requests_.push_back(record);
    if (ok) {
      if (!accepted_[next.event]) ++acceptedCount_;
      accepted_[next.event] = true;
      changed_.notify_all();  // waitUntilAllAccepted
    } else {
      const auto backoff =
          std::min(options_.maxRetry, options_.firstRetry * (1 << std::min(next.attempt, 10)));
      due_.push({.at = Clock::now() + backoff, .event = next.event, .attempt = next.attempt + 1});
      changed_.notify_one();
    }
  }
}

bool StripeTraffic::waitUntilAllAccepted(std::chrono::seconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return acceptedCount_ == events_.size(); });
}

std::vector<RequestRecord> StripeTraffic::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::vector<std::string> StripeTraffic::acceptedIds() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (std::size_t k = 0; k < events_.size(); ++k) {
    if (accepted_[k]) out.push_back(events_[k].id);
  }
  return out;
}

std::vector<std::string> StripeTraffic::unacceptedIds() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (std::size_t k = 0; k < events_.size(); ++k) {
    if (!accepted_[k]) out.push_back(events_[k].id);
  }
  return out;
}

double percentileMs(const std::vector<RequestRecord>& requests, double p, Clock::time_point from,
                    Clock::time_point to) {
  std::vector<double> ms;
  for (const auto& r : requests) {
    if (r.status >= 200 && r.status < 300 && r.sentAt >= from && r.sentAt < to) {
      ms.push_back(r.latencyMs);
    }
  }
  if (ms.empty()) return 0;
  std::sort(ms.begin(), ms.end());
  const auto rank = static_cast<std::size_t>(p / 100.0 * double(ms.size() - 1) + 0.5);
  return ms[std::min(rank, ms.size() - 1)];
}

}  // namespace effectd::soak
