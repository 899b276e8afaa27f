#include "daemon/admin/transition_feed.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "base/log.hpp"
#include "daemon/cli/operator_json.hpp"
#include "queue/effect_transitions.hpp"
#include "sql/connection.hpp"
#include "sql/error_text.hpp"

namespace effectd::daemon {

TransitionFeed::Subscriber::Batch TransitionFeed::Subscriber::take() {
  std::lock_guard lock(mutex_);
  Batch batch{{std::make_move_iterator(lines_.begin()), std::make_move_iterator(lines_.end())},
              dropped_};
  lines_.clear();
  dropped_ = 0;
  return batch;
}

TransitionFeed::TransitionFeed(Options options) : options_(std::move(options)) {}

TransitionFeed::~TransitionFeed() {
  stop();
}

std::shared_ptr<TransitionFeed::Subscriber> TransitionFeed::subscribe(std::function<void()> wake) {
  auto subscriber = std::make_shared<Subscriber>();
  subscriber->wake_ = std::move(wake);
  std::lock_guard lock(mutex_);
  subscribers_.push_back(subscriber);
  startListening();
  return subscriber;
}

void TransitionFeed::start() {
  std::lock_guard lock(mutex_);
  enabled_ = true;
  if (!subscribers_.empty()) startListening();
}

void TransitionFeed::startListening() {
  if (!enabled_ || started_ || stopping_ || !available()) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void TransitionFeed::unsubscribe(const std::shared_ptr<Subscriber>& subscriber) {
  std::lock_guard lock(mutex_);
  subscribers_.remove(subscriber);
}

std::size_t TransitionFeed::subscribers() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

void TransitionFeed::beginStop(Clock::time_point /*the LISTEN loop ends within 200 ms*/) {
  {
    std::lock_guard lock(mutex_);  // so the reconnect wait cannot miss it
    stopping_ = true;
  }
  wake_.notify_all();
}

void TransitionFeed::stop() {
  beginStop(Clock::now());
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

void TransitionFeed::publish(const std::string& line) {
  std::lock_guard lock(mutex_);
  for (const auto& s : subscribers_) {
    bool wasEmpty = false;
    {
      std::lock_guard own(s->mutex_);
      if (s->lines_.size() >= options_.maxQueued) {
        ++s->dropped_;
        continue;
      }
      wasEmpty = s->lines_.empty() && s->dropped_ == 0;
      s->lines_.push_back(line);
    }
    // One wake per batch: the stream takes everything queued when it runs.
    if (wasEmpty) s->wake_();
  }
}

void TransitionFeed::run() {
  bool warned = false;
  while (!stopping_) {
    try {
      sql::DirectConnection conn(options_.listenUrl);
      pqxx::nontransaction(*conn).exec("SET application_name = 'effectd admin feed'");
      queue::followTransitions(
          *conn, {},
          [&] {
            warned = false;
            listening_ = true;
            std::lock_guard lock(mutex_);
            for (const auto& s : subscribers_) s->wake_();
          },
          [&](const queue::EffectTransition& t) {
            publish(toJson(t).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
          },
          stopping_);
    } catch (const std::exception& e) {
      listening_ = false;
      if (!warned) {
        log::warn("the admin page's live feed lost its database connection; retrying",
                  {{"error", sql::errorText(e)}});
        warned = true;
      }
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_.load(); });
    }
  }
}

}  // namespace effectd::daemon
