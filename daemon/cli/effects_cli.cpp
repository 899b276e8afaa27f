#include "daemon/cli/effects_cli.hpp"

#include <pthread.h>
#include <unistd.h>
#include <condition_variable>

#include <csignal>
#include <cstdlib>
#include <deque>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "daemon/cli/cli_database.hpp"
#include "daemon/cli/operator_json.hpp"
#include "queue/effect_status.hpp"
#include "sql/connection.hpp"
#include "sql/error_text.hpp"

namespace effectd::daemon {
namespace {

using nlohmann::json;

std::atomic<bool> tailStop{false};

std::string formatTransition(const queue::EffectTransition& t, bool asJson) {
  if (asJson) return toJson(t).dump(-1, ' ', false, json::error_handler_t::replace);
  std::ostringstream out;
  out << t.at << "  " << std::left << std::setw(10) << t.status << std::setw(10) << t.kind
      << std::setw(7) << (std::to_string(t.attempts) + "/" + std::to_string(t.maxAttempts))
      << t.key;
  const auto status = queue::parseEffectStatus(t.status);
  using queue::EffectStatus;
  if (status == EffectStatus::Running && !t.lockedBy.empty()) out << "  [" << t.lockedBy << "]";
  if (status != EffectStatus::Running && status != EffectStatus::Sent && !t.error.empty()) {
    out << "  (" << t.error << ")";
  }
  return out.str();
}

// Writes tail's lines on a thread of its own, so that a paused reader
// (`effects tail | less`) never stops tail from consuming notifications:
// a listener that stops reading holds PostgreSQL's notification queue, and
// once that fills, every transaction that notifies fails. Past `capacity`
// waiting lines, new ones are dropped and counted.
class LineWriter {
 public:
  explicit LineWriter(std::size_t capacity)
      : capacity_(capacity), thread_([this] {
          // Signals go to the main thread; a write here is never interrupted.
          sigset_t signals;
          sigemptyset(&signals);
          sigaddset(&signals, SIGINT);
          sigaddset(&signals, SIGTERM);
          pthread_sigmask(SIG_BLOCK, &signals, nullptr);
          run();
        }) {}
  ~LineWriter() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  // Stopped by a signal: the operator wants out. What is queued is dropped,
  // and a writer blocked on a reader that never reads ends the process.
  void abandon() {
    std::unique_lock lock(mutex_);
    lines_.clear();
    dropped_ = 0;
    done_ = true;
    wake_.notify_one();
    if (!idle_.wait_for(lock, std::chrono::seconds(1), [this] { return finished_; })) {
      std::_Exit(0);
    }
  }
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  void push(std::string line) {
    {
      std::lock_guard lock(mutex_);
      if (lines_.size() >= capacity_) {
        ++dropped_;
        return;
      }
      lines_.push_back(std::move(line));
    }
    wake_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return done_ || !lines_.empty() || dropped_ > 0; });
      if (lines_.empty() && dropped_ == 0) {  // done, and all written
        finished_ = true;
        idle_.notify_all();
        return;
      }
      auto lines = std::move(lines_);
      lines_.clear();
      const auto dropped = std::exchange(dropped_, 0);
      lock.unlock();
      for (const auto& line : lines) std::cout << line << "\n";
      if (dropped > 0) {
        std::cout << "... " << dropped
                  << " changes not shown: the output was not read fast enough\n";
      }
      std::cout.flush();  // the reader is often a pipe
      lock.lock();
    }
  }

  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> lines_;
  std::size_t dropped_ = 0;
  bool done_ = false;
  bool finished_ = false;
  std::condition_variable idle_;
  std::thread thread_;
};

// An operator's yes before a change that --yes also allows: 0 to go on, else
// the exit code (2 without a terminal to ask on, 1 when not confirmed).
int askOperator(bool yes, const std::string& question, const std::string& withoutTerminal) {
  if (yes) return 0;
  if (!isatty(STDIN_FILENO)) {
    std::cerr << withoutTerminal << "\n";
    return 2;
  }
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  if (answer == "y" || answer == "Y" || answer == "yes") return 0;
  std::cerr << "nothing changed\n";
  return 1;
}

}  // namespace

int effectsTail(const config::Config& config, const TailOptions& options) {
  struct sigaction action {};
  action.sa_handler = [](int) { tailStop = true; };
  action.sa_flags = SA_RESETHAND;  // a second Ctrl-C ends it at once
  std::cerr.tie(nullptr);          // an error message must not wait on a paused stdout
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const auto& url = config.databaseListenUrl;
  if (url.empty()) {
    std::cerr << "effectd: effects tail needs DATABASE_LISTEN_URL, a direct connection: "
                 "DATABASE_URL goes through a transaction pooler, where LISTEN does not work\n";
    return 2;
  }
  std::string lastAt;  // the newest change printed: where to pick up after a reconnect
  bool connectedOnce = false;
  // A change seen both live and in a history query (at LISTEN time, or when
  // catching up from the same millisecond after a reconnect) is printed once.
  std::set<std::string> shown;
  LineWriter output(100000);
  while (!tailStop) {
    try {
      sql::DirectConnection conn(url);
      // So that an operator looking at pg_stat_activity knows what this is.
      pqxx::nontransaction(*conn).exec("SET application_name = 'effectd effects tail'");
      // LISTEN first, then the history: nothing falls between the two.
      auto show = [&](const queue::EffectTransition& t) {
        if (!shown.insert(t.id + t.status + t.at).second) return;
        output.push(formatTransition(t, options.json));
        lastAt = std::max(lastAt, t.at);
      };
      queue::followTransitions(
          *conn, options.filter,
          [&] {
            const auto history =
                connectedOnce ? queue::latestTransitions(*conn, options.filter, 10000, lastAt)
                              : queue::latestTransitions(*conn, options.filter, options.lines);
            connectedOnce = true;
            for (const auto& t : history) show(t);
          },
          [&](const queue::EffectTransition& t) {
            show(t);
            if (shown.size() > 10000) shown.clear();  // only the history's overlap matters
          },
          tailStop);
    } catch (const std::exception& e) {
      if (!connectedOnce) {
        std::cerr << "effectd effects tail: " << sql::errorText(e) << "\n";
        return 1;
      }
      std::cerr << "effectd effects tail: connection lost (" << sql::errorText(e)
                << "); reconnecting\n";
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  output.abandon();
  return 0;
}

int effectsList(const config::Config& config, const queue::EffectFilter& filter, bool asJson) {
  return withDatabase(config, "effects list", [&](pqxx::connection_base& conn) {
    const auto effects = queue::listEffects(conn, filter);
    if (asJson) {
      json out = json::array();
      for (const auto& e : effects) out.push_back(toJson(e));
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::cout << std::left << std::setw(10) << "STATUS" << std::setw(10) << "KIND" << std::setw(9)
              << "ATTEMPTS" << std::setw(26) << "RUN AT"
              << "KEY / LAST ERROR\n";
    for (const auto& e : effects) {
      std::cout << std::setw(10) << e.status << std::setw(10) << e.kind << std::setw(9)
                << (std::to_string(e.attempts) + "/" + std::to_string(e.maxAttempts))
                << std::setw(26) << e.runAt << e.key
                << (e.lastError.empty() ? "" : "  (" + e.lastError + ")") << "\n";
    }
    return 0;
  });
}

int effectsShow(const config::Config& config, const std::string& idOrKey, bool asJson) {
  return withDatabase(config, "effects show", [&](pqxx::connection_base& conn) {
    const auto found = queue::findEffect(conn, idOrKey);
    if (found.empty()) {
      std::cerr << "effectd effects show: no effect with id or key " << idOrKey << "\n";
      return 1;
    }
    std::cout << toJson(found.front()).dump(asJson ? -1 : 2) << "\n";
    return 0;
  });
}

int effectsSteer(const config::Config& config, const SteerOptions& o) {
  const bool retry = o.command == queue::OperatorCommand::Retry;
  const char* command = retry ? "effects retry" : "effects cancel";
  const char* verb = retry ? "retry" : "cancel";
  auto s = o.selection;
  if (s.empty()) {
    std::cerr << "effectd " << command
              << ": name an effect id or key, or select with --status, --kind, --key-prefix or "
                 "--since\n";
    return 2;
  }
  const bool one = !s.idOrKey.empty() && s.status.empty() && s.kind.empty() &&
                   s.keyPrefix.empty() && s.since.empty();
  // A filtered retry sends dead effects only unless told otherwise: an
  // unknown one may have reached a provider that does not deduplicate, and
  // a cancelled one was stopped by somebody on purpose.
  if (!one && retry && s.status.empty()) {
    s.status = queue::toString(queue::EffectStatus::Dead);
    std::cerr << "retrying dead effects only (unknown or cancelled ones: name --status)\n";
  }
  return withDatabase(config, command, [&](pqxx::connection_base& conn) {
    std::optional<long> confirmed;
    if (one && retry) {
      // An unknown effect may have reached a provider that cannot
      // deduplicate: retrying it may deliver it a second time.
      const auto found = queue::findEffect(conn, s.idOrKey);
      if (!found.empty() && found.front().status == queue::toString(queue::EffectStatus::Unknown)) {
        const auto& e = found.front();
        std::cerr << "warning: effect " << e.key
                  << " is unknown: an earlier attempt may have been delivered"
                  << (e.lastError.empty() ? "" : " (" + e.lastError + ")")
                  << "; retrying it may deliver it twice\n";
        if (const int refused =
                askOperator(o.yes, "Retry it?",
                            "effectd " + std::string(command) +
                                ": add --yes to retry an unknown effect without a terminal")) {
          return refused;
        }
      }
    }
    if (!one) {
      const auto count = queue::countSteerable(conn, s, o.command);
      confirmed = count;
      if (count == 0) {
        std::cerr << "effectd " << command << ": no effect matches that can be "
                  << (retry ? "retried (dead, unknown or cancelled)"
                            : "cancelled (pending, dead or unknown)")
                  << "\n";
        return 1;
      }
      if (const int refused = askOperator(
              o.yes,
              std::to_string(count) + " effects match. " + (retry ? "Retry" : "Cancel") + " them?",
              "effectd " + std::string(command) + ": " + std::to_string(count) +
                  " effects match; add --yes to " + verb + " them without a terminal")) {
        return refused;
      }
    }
    const int changed = queue::steerEffects(conn, s, o.command, confirmed);
    if (changed < 0) {
      std::cerr << "effectd " << command
                << ": the effects that match changed since they were counted; nothing changed, "
                   "run it again\n";
      return 1;
    }
    if (changed == 0) {
      std::cerr << "effectd " << command << ": no "
                << (retry ? "dead, unknown or cancelled" : "pending, dead or unknown") << " effect "
                << s.idOrKey << "\n";
      return 1;
    }
    if (one) {
      std::cout << (retry ? "retrying " : "cancelled ") << s.idOrKey << "\n";
    } else {
      std::cout << (retry ? "retrying " : "cancelled ") << changed << " effects\n";
    }
    return 0;
  });
}

int effectsStats(const config::Config& config, bool asJson) {
  return withDatabase(config, "effects stats", [&](pqxx::connection_base& conn) {
    const auto stats = queue::effectStats(conn);
    const auto health = queue::queueHealth(conn);
    if (asJson) {
      // The admin API's /admin/api/stats, field for field.
      json byStatus = json::array();
      for (const auto& s : stats) byStatus.push_back(toJson(s));
      std::cout << json{{"effects", byStatus},
                        {"sentLastMinute", health.sentLastMinute},
                        {"due", health.due},
                        {"oldestDueSeconds", health.oldestDueSeconds}}
                       .dump(2)
                << "\n";
      return 0;
    }
    for (const auto& s : stats) {
      std::cout << std::left << std::setw(10) << s.kind << std::setw(10) << s.status
                << std::setw(10) << s.count << "oldest " << static_cast<long>(s.oldestSeconds)
                << " s\n";
    }
    std::cout << "sent in the last minute: " << health.sentLastMinute << " (" << std::fixed
              << std::setprecision(1) << static_cast<double>(health.sentLastMinute) / 60.0
              << "/s)\n"
              << "due now: " << health.due << ", the oldest waiting " << std::setprecision(1)
              << health.oldestDueSeconds << " s\n";
    return 0;
  });
}

int effectsEnqueue(const config::Config& config, const EnqueueRequest& r) {
  const auto kind = queue::parseEffectKind(r.kind);
  if (!kind) {
    std::cerr << "effectd effects enqueue: --kind must be email, analytics or webhook\n";
    return 2;
  }
  const auto payload = json::parse(r.payload, nullptr, false);
  if (!payload.is_object()) {
    std::cerr << "effectd effects enqueue: --payload must be a JSON object\n";
    return 2;
  }
  return withDatabase(config, "effects enqueue", [&](pqxx::connection_base& conn) {
    pqxx::work tx(conn);
    const bool created = queue::enqueue(tx, {.key = r.key,
                                             .kind = *kind,
                                             .payload = payload.dump(),
                                             .organizationId = r.organizationId,
                                             .runAt = r.runAt});
    tx.commit();
    std::cout << (created ? "enqueued " : "already enqueued (nothing changed): ") << r.key << "\n";
    return 0;
  });
}

}  // namespace effectd::daemon
