#include "sql/call_deadline.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

namespace effectd::sql {
namespace {

using Clock = std::chrono::steady_clock;

// One thread for the whole process watches every armed deadline. Each entry
// holds a duplicate of the connection's descriptor: libpq may close its own
// descriptor in the middle of a call (on a reset), and the number may then
// be reused by another socket, but the duplicate keeps this socket open and
// is only closed when the deadline is disarmed. shutdown() through it cuts
// the connection libpq uses and nothing else.
class Watcher {
 public:
  static Watcher& instance() {
    static Watcher watcher;
    return watcher;
  }

  std::uint64_t arm(int connectionSocket, Clock::time_point deadline) {
    const int socket = ::fcntl(connectionSocket, F_DUPFD_CLOEXEC, 0);
    if (socket < 0) return 0;  // out of descriptors: the call runs without a deadline
    std::lock_guard lock(mutex_);
    const auto id = ++lastId_;
    entries_.emplace(id, Entry{socket, deadline, false});
    if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { run(); });
    // Every deadline is "now + the same limit", so a new one is almost never
    // the earliest: the watcher is woken only when it is, not on every call.
    if (deadline < nextWake_) wake_.notify_one();
    return id;
  }

  bool disarm(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(id);
    if (it == entries_.end()) return false;
    const bool expired = it->second.expired;
    ::close(it->second.socket);
    entries_.erase(it);
    return expired;
  }

  bool expired(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(id);
    return it != entries_.end() && it->second.expired;
  }

 private:
  struct Entry {
    int socket;
    Clock::time_point deadline;
    bool expired;
  };

  Watcher() = default;
  ~Watcher() { stop(); }

 public:
  void start() {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { run(); });
  }

  // Deadlines armed after this are never cut: only for the end of serve,
  // when every service that makes database calls has stopped.
  void stop() {
    std::thread thread;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      thread.swap(thread_);
    }
    wake_.notify_one();
    if (thread.joinable()) thread.join();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      auto next = Clock::time_point::max();
      const auto now = Clock::now();
      for (auto& [id, e] : entries_) {
        if (e.expired) continue;
        if (e.deadline <= now) {
          // Both directions: a call blocked in send() or recv() returns now.
          ::shutdown(e.socket, SHUT_RDWR);
          e.expired = true;
        } else {
          next = std::min(next, e.deadline);
        }
      }
      nextWake_ = next;
      if (next == Clock::time_point::max()) {
        wake_.wait(lock);
      } else {
        wake_.wait_until(lock, next);
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::uint64_t, Entry> entries_;
  std::uint64_t lastId_ = 0;
  Clock::time_point nextWake_ = Clock::time_point::min();  // when the watcher wakes next
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

CallDeadline::CallDeadline(pqxx::connection_base& conn, std::chrono::milliseconds limit) {
  if (limit.count() <= 0) return;
  const int socket = conn.sock();
  if (socket < 0) return;
  id_ = Watcher::instance().arm(socket, Clock::now() + limit);
}

CallDeadline::~CallDeadline() {
  if (id_ != 0) Watcher::instance().disarm(id_);
}

bool CallDeadline::expired() const {
  return id_ != 0 && Watcher::instance().expired(id_);
}

void CallDeadlineWatcher::start() {
  Watcher::instance().start();
}

void CallDeadlineWatcher::stop() {
  Watcher::instance().stop();
}

}  // namespace effectd::sql
