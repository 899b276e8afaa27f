// The admin page's live view of the queue: one LISTEN connection follows the
// transitions `effects tail` follows and hands each, as a JSON line, to every
// open event stream. A browser that reads slowly holds at most `maxQueued`
// lines; past that, new ones are dropped and counted for it, so a stalled
// tab never grows the daemon's memory and never stalls the LISTEN (which
// would fill PostgreSQL's notification queue for every writer).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/service.hpp"

namespace effectd::daemon {

class TransitionFeed final : public Service {
 public:
  struct Options {
    std::string listenUrl;         // empty: no live view (DATABASE_URL through a pooler)
    std::size_t maxQueued = 1000;  // per subscriber
  };

  class Subscriber {
   public:
    struct Batch {
      std::vector<std::string> lines;
      std::size_t dropped = 0;
    };
    Batch take();

   private:
    friend class TransitionFeed;
    std::mutex mutex_;
    std::deque<std::string> lines_;
    std::size_t dropped_ = 0;
    std::function<void()> wake_;  // called on the feed's thread when lines arrive
  };

  explicit TransitionFeed(Options options);
  ~TransitionFeed() override;
  TransitionFeed(const TransitionFeed&) = delete;
  TransitionFeed& operator=(const TransitionFeed&) = delete;

  // After start(), the LISTEN starts with the first subscriber and runs
  // until stop.
  std::shared_ptr<Subscriber> subscribe(std::function<void()> wake);
  void unsubscribe(const std::shared_ptr<Subscriber>& subscriber);
  std::size_t subscribers() const;
  // True once the LISTEN is in place: a page reads its history only then,
  // so that no transition falls between the history and the stream.
  bool listening() const { return listening_; }
  bool available() const { return !options_.listenUrl.empty(); }

  void start() override;
  void beginStop(Clock::time_point deadline) override;
  void stop() override;

 private:
  void run();
  void startListening();  // with mutex_ held
  void publish(const std::string& line);

  Options options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::list<std::shared_ptr<Subscriber>> subscribers_;
  bool enabled_ = false;  // start() was called
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> listening_{false};
  std::thread thread_;
};

}  // namespace effectd::daemon
