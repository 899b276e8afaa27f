#include "queue/drainer.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <thread>
#include <unordered_set>

#include "base/log.hpp"
#include "base/metrics.hpp"
#include "queue/delivery_slots.hpp"
#include "sql/connection.hpp"
#include "sql/error_text.hpp"

namespace effectd::queue {

Channel* Channels::forKind(EffectKind kind) const {
  switch (kind) {
    case EffectKind::Email:
      return email.get();
    case EffectKind::Analytics:
      return analytics.get();
    case EffectKind::Webhook:
      return webhook.get();
  }
  return nullptr;
}

std::vector<KindRoute> Channels::routes() const {
  std::vector<KindRoute> out;
  for (auto kind : {EffectKind::Email, EffectKind::Analytics, EffectKind::Webhook}) {
    if (const auto* c = forKind(kind))
      out.push_back({kind, std::string(c->name()), c->idempotent()});
  }
  return out;
}

namespace {

std::string_view outcomeName(DeliveryResult::Outcome outcome) {
  static constexpr std::string_view names[] = {"sent", "retry", "dead", "unknown", "refused"};
  return names[static_cast<int>(outcome)];
}

// Seconds since `createdAt` (as the claim formats it, UTC with
// milliseconds); nullopt when it does not read as one.
std::optional<double> secondsSince(const std::string& createdAt) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(createdAt.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const auto created =
      std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(millis);
  return std::chrono::duration<double>(std::chrono::system_clock::now() - created).count();
}

void countAttempt(std::string_view provider, const ClaimedEffect& effect,
                  const DeliveryResult& result) {
  auto& m = metrics::registry();
  m.deliveryAttempts.inc({provider, outcomeName(result.outcome)});
  if (result.outcome != DeliveryResult::Outcome::Sent) return;
  if (const auto age = secondsSince(effect.createdAt)) m.deliveryLatency.observe(*age);
}

DeliveryResult attempt(Channel& channel, const ClaimedEffect& effect) {
  try {
    return channel.deliver(effect);
  } catch (const std::exception& e) {
    // Where it failed is not known: only an idempotent channel may try again.
    return channel.idempotent() ? DeliveryResult::retry(e.what())
                                : DeliveryResult::unknown(e.what());
  }
}

}  // namespace

DeliveryResult deliverOne(const Channels& channels, const ClaimedEffect& effect) {
  auto* channel = channels.forKind(effect.kind);
  if (!channel) {
    auto result = DeliveryResult::dead("no channel is configured for " +
                                       std::string(toString(effect.kind)) + " effects");
    countAttempt("none", effect, result);
    return result;
  }
  auto result = attempt(*channel, effect);
  countAttempt(channel->name(), effect, result);
  return result;
}

namespace {

void count(Drainer::Counts& counts, const DeliveryResult& r) {
  switch (r.outcome) {
    case DeliveryResult::Outcome::Sent:
      ++counts.sent;
      break;
    case DeliveryResult::Outcome::Retry:
      ++counts.retried;
      break;
    case DeliveryResult::Outcome::Dead:
      ++counts.dead;
      break;
    case DeliveryResult::Outcome::Unknown:
      ++counts.unknown;
      break;
    case DeliveryResult::Outcome::Refused:
      ++counts.refused;
      break;
  }
}

void logOutcome(const ClaimedEffect& e, const DeliveryResult& r) {
  const auto level =
      r.outcome == DeliveryResult::Outcome::Sent ? log::Level::Debug : log::Level::Warn;
  log::write(level, "effect delivered",
             {{"key", e.key},
              {"kind", toString(e.kind)},
              {"attempt", e.attempts},
              {"outcome", outcomeName(r.outcome)},
              {"error", r.error}});
}

}  // namespace

Drainer::Counts Drainer::runOnce(pqxx::connection_base& conn, const std::string& worker,
                                 const Channels& channels, int batchSize,
                                 std::chrono::seconds lease, const RetryPolicy& retry) {
  Counts counts;
  pqxx::work claim(conn, "claim");
  const auto claimed = claimEffects(claim, {.worker = worker,
                                            .limit = batchSize,
                                            .lease = lease,
                                            .routes = eachUpTo(channels.routes(), batchSize)});
  claim.commit();
  counts.claimed = static_cast<int>(claimed.size());
  std::vector<Completion> done;
  for (const auto& effect : claimed) {
    auto result = deliverOne(channels, effect);
    logOutcome(effect, result);
    count(counts, result);
    done.push_back({effect.id, std::move(result), effect.attempts, effect.maxAttempts});
  }
  pqxx::work complete(conn, "complete");
  completeEffects(complete, worker, done, retry);
  complete.commit();
  return counts;
}

std::string Drainer::defaultWorkerName() {
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + suffix;
}

// The drainer's moving parts, each with a connection of its own so that
// claims never wait for completions: the claimer leases due effects while
// there is room (below); delivery threads only talk to providers; the
// completer writes outcomes in batches, gives back what was never started
// and renews leases; a listener thread waits for NOTIFY.
struct Drainer::State {
  State(Options o, std::shared_ptr<const Channels> c)
      : options(std::move(o)), channels(std::move(c)), lanes(channels->lanes) {
    for (auto& route : channels->routes()) {
      dedupKind[static_cast<std::size_t>(route.kind)] = route.idempotent;
      channels->pauses->declare(route.kind, route.provider);
      (route.idempotent ? aheadRoutes : strictRoutes).push_back(std::move(route));
    }
    const bool both = !strictRoutes.empty() && !aheadRoutes.empty();
    slots = {.concurrency = options.concurrency,
             .batchSize = options.batchSize,
             .reserved = DeliverySlots::reservedFor(options.concurrency, both)};
    if (both && options.concurrency <= 1) {
      log::warn(
          "EFFECTD_DRAIN_CONCURRENCY is 1: a backlog of effects whose provider deduplicates can "
          "hold back those of SMTP or Postmark until it is drained; 2 or more keeps a slot for "
          "them");
    }
  }

  Options options;
  std::shared_ptr<const Channels> channels;
  // The routed kinds, by whether their provider deduplicates on the key.
  std::vector<KindRoute> aheadRoutes;
  std::vector<KindRoute> strictRoutes;
  std::array<bool, 3> dedupKind{};  // by EffectKind
  std::mutex mutex;
  // Decides, under `mutex`, which queued effect may start and how many of a
  // kind to claim: limits, per-origin slots, paused credentials.
  DeliveryLanes lanes;
  std::array<int, 3> queuedByKind{};  // in toDeliver, by EffectKind
  // Queued or delivering, by origin (webhook receivers): an origin with
  // twice its WEBHOOK_MAX_CONCURRENCY_PER_ORIGIN in hand is claimed no more,
  // so that a slow receiver's backlog never fills the hand the others need.
  // Erased at zero: never more entries than effects in hand.
  std::unordered_map<std::string, int> inHandByOrigin;
  // Taken out of toDeliver unstarted because their kind paused: the
  // completer gives them back.
  std::vector<std::string> givenBack;
  std::condition_variable wakeClaimer;
  std::condition_variable wakeCompleter;
  std::condition_variable wakeDelivery;
  std::deque<ClaimedEffect> toDeliver;
  std::vector<Completion> delivered;
  int delivering = 0;  // taken by a delivery thread, not finished
  // Leased here and not yet completed or given back: their leases are
  // renewed, and only theirs.
  std::unordered_set<std::string> held;
  bool stopping = false;
  Clock::time_point graceDeadline{};  // for deliveries in flight, once stopping
  // Per kind: NOTIFY, or its last claim was full: more may be due. And
  // whatever these say, each kind is looked at every poll interval.
  std::array<bool, 3> notified{true, true, true};
  std::array<std::chrono::steady_clock::time_point, 3> lookedAt{};
  bool claimerDone = false;
  std::atomic<std::uint64_t> looks{0};
  bool completerDone = false;
  std::condition_variable completerFinished;
  std::vector<std::thread> threads;

  // The claims' room and who may start (queue/delivery_slots.hpp).
  DeliverySlots slots;
  int strictQueued = 0;     // in toDeliver, of a provider that does not deduplicate
  int deliveringAhead = 0;  // delivering, of a provider that deduplicates
  DeliverySlots::InHand inHand() const {
    return {.held = static_cast<int>(held.size()),
            .queued = static_cast<int>(toDeliver.size()),
            .strictQueued = strictQueued,
            .delivering = delivering,
            .deliveringAhead = deliveringAhead};
  }
  int strictRoom() const { return slots.strictRoom(inHand()); }
  int aheadRoom() const { return slots.aheadRoom(inHand()); }
  bool deduplicates(EffectKind kind) const { return dedupKind[static_cast<std::size_t>(kind)]; }
  bool mayStart(const ClaimedEffect& e) const {
    return slots.mayStart(inHand(), deduplicates(e.kind));
  }

  static std::size_t index(EffectKind kind) { return static_cast<std::size_t>(kind); }

  void originLeavesHand(const std::string& origin) {
    if (origin.empty()) return;
    const auto it = inHandByOrigin.find(origin);
    if (it != inHandByOrigin.end() && --it->second <= 0) inHandByOrigin.erase(it);
  }

  // The authorities (as a URL spells them) of the origins claimed no more:
  // "host:port", and "host" alone when the port is the scheme's own.
  std::vector<std::string> fullOrigins() const {
    std::vector<std::string> out;
    const int cap = 2 * channels->lanes.maxPerOrigin;
    if (cap <= 0) return out;
    for (const auto& [origin, n] : inHandByOrigin) {
      if (n < cap) continue;
      const auto scheme = origin.find("://");
      if (scheme == std::string::npos) continue;
      const auto authority = origin.substr(scheme + 3);
      out.push_back(authority);
      const std::string_view defaultPort = origin.starts_with("https") ? ":443" : ":80";
      if (authority.ends_with(defaultPort)) {
        out.push_back(authority.substr(0, authority.size() - defaultPort.size()));
      }
    }
    return out;
  }

  // A kind not looked at for a poll interval may have effects due (a retry's
  // runAt passed, a pause ended): whatever NOTIFY said, look again.
  void pollDueKinds(std::chrono::steady_clock::time_point now) {
    for (std::size_t k = 0; k < notified.size(); ++k) {
      if (now - lookedAt[k] >= options.pollInterval) notified[k] = true;
    }
  }

  // The first queued effect that may start now, or toDeliver.end() and when
  // to look again (time_point::max(): when something changes).
  std::deque<ClaimedEffect>::iterator startable(DeliveryLanes::Clock::time_point now,
                                                DeliveryLanes::Clock::time_point& lookAgain) {
    lookAgain = DeliveryLanes::Clock::time_point::max();
    for (auto it = toDeliver.begin(); it != toDeliver.end(); ++it) {
      if (!mayStart(*it)) continue;
      const auto at = lanes.startsAt(*it, now);
      if (at <= now) return it;
      lookAgain = std::min(lookAgain, at);
    }
    return toDeliver.end();
  }

  // Its kind paused: what waits for a slot goes back to the queue unstarted,
  // so that no lease is held (and, for SMTP or Postmark, no crash makes it
  // unknown) while the credentials are refused.
  void giveBackQueued(EffectKind kind) {
    for (auto it = toDeliver.begin(); it != toDeliver.end();) {
      if (it->kind != kind) {
        ++it;
        continue;
      }
      if (!deduplicates(kind)) --strictQueued;
      --queuedByKind[index(kind)];
      originLeavesHand(it->origin);
      givenBack.push_back(std::move(it->id));
      it = toDeliver.erase(it);
    }
    wakeCompleter.notify_one();
  }

  void afterCredentials(const ClaimedEffect& effect, const DeliveryLanes::Finished& f,
                        const DeliveryResult& result) {
    const auto* channel = channels->forKind(effect.kind);
    const std::string provider(channel ? channel->name() : "none");
    if (f.paused) {
      log::error("the provider refused the credentials; pausing these deliveries",
                 {{"kind", toString(effect.kind)},
                  {"provider", provider},
                  {"pause_seconds", static_cast<int>(f.pause.count())},
                  {"error", result.error}});
      const auto now = std::chrono::system_clock::now();
      channels->pauses->pause(
          {.kind = effect.kind, .provider = provider, .since = now, .retryAt = now + f.pause});
      giveBackQueued(effect.kind);
    } else if (f.resumed) {
      log::info("the provider accepts the credentials again; resuming",
                {{"kind", toString(effect.kind)}, {"provider", provider}});
      channels->pauses->resume(effect.kind);
      notified[index(effect.kind)] = true;
      wakeClaimer.notify_one();
    }
  }

  void deliveryLoop() {
    std::unique_lock lock(mutex);
    for (;;) {
      auto pick = toDeliver.end();
      for (;;) {
        // Stopping: start nothing new; the completer gives unstarted effects back.
        if (stopping) return;
        DeliveryLanes::Clock::time_point lookAgain;
        pick = startable(DeliveryLanes::Clock::now(), lookAgain);
        if (pick != toDeliver.end()) break;
        if (lookAgain == DeliveryLanes::Clock::time_point::max()) {
          wakeDelivery.wait(lock);
        } else {
          wakeDelivery.wait_until(lock, lookAgain);
        }
      }
      auto effect = std::move(*pick);
      toDeliver.erase(pick);
      const bool strict = !deduplicates(effect.kind);
      if (strict) {
        --strictQueued;
      } else {
        ++deliveringAhead;
      }
      --queuedByKind[index(effect.kind)];
      ++delivering;
      lanes.start(effect, DeliveryLanes::Clock::now());
      // A kind of its own limits had room for no more in hand: it has now.
      if (lanes.limited(effect.kind)) wakeClaimer.notify_one();
      lock.unlock();
      auto result = deliverOne(*channels, effect);
      logOutcome(effect, result);
      lock.lock();
      --delivering;
      if (!strict) --deliveringAhead;
      originLeavesHand(effect.origin);
      const auto finished = lanes.finish(effect, result, DeliveryLanes::Clock::now());
      // Due again when the pause is over, its attempt not counted.
      if (result.outcome == DeliveryResult::Outcome::Refused) result.retryAfter = finished.pause;
      afterCredentials(effect, finished, result);
      delivered.push_back({effect.id, std::move(result), effect.attempts, effect.maxAttempts});
      wakeCompleter.notify_one();
      wakeClaimer.notify_one();
      // A slot kept from the others may be free again; a kind's or an
      // origin's too, which only some of the waiting effects can take.
      if (lanes.limited(effect.kind) || !effect.origin.empty() || finished.resumed) {
        wakeDelivery.notify_all();
      } else {
        wakeDelivery.notify_one();
      }
    }
  }

  void listenLoop() {
    struct Receiver : pqxx::notification_receiver {
      Receiver(pqxx::connection_base& c, State& s)
          : pqxx::notification_receiver(c, "effectd_outbound_effect"), state(s) {}
      void operator()(const std::string&, int) override {
        std::lock_guard lock(state.mutex);
        state.notified.fill(true);
        state.wakeClaimer.notify_one();
      }
      State& state;
    };
    sql::Connection connection({.url = options.listenUrl, .callTimeout = options.databaseTimeout});
    std::unique_ptr<Receiver> receiver;
    // The receiver's destructor sends UNLISTEN and waits for the answer: it
    // goes before its connection, under a deadline like every other call.
    auto dropListener = [&] {
      if (receiver) {
        const auto deadline = connection.deadline();
        receiver.reset();
      }
      connection.drop();
    };
    for (;;) {
      {
        std::lock_guard lock(mutex);
        if (stopping) break;
      }
      if (receiver && !connection.isOpen()) dropListener();
      auto* conn = connection.get();
      if (!conn) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      try {
        const auto deadline = connection.deadline();
        if (!receiver) receiver = std::make_unique<Receiver>(*conn, *this);
        conn->await_notification(0, 250000);  // wakes to notice stop
      } catch (const std::exception& e) {
        dropListener();
        log::warn("LISTEN connection lost; polling meanwhile", {{"error", sql::errorText(e)}});
      }
    }
    dropListener();
  }

  // What to claim of each route now: the group's room (free slots for the
  // strict routes, a batch ahead for the others), each kind within what its
  // lane lets start soon. Kinds claimed are due no more until NOTIFY or a
  // full claim.
  std::vector<RouteClaim> toClaim(const std::vector<KindRoute>& routes, int groupRoom, bool ahead,
                                  DeliveryLanes::Clock::time_point now) const {
    std::vector<RouteClaim> out;
    if (groupRoom <= 0) return out;
    for (const auto& route : routes) {
      const auto k = index(route.kind);
      if (!notified[k]) continue;
      const int room =
          std::min(groupRoom, lanes.claimRoom(route.kind, queuedByKind[k], ahead, now));
      if (room > 0) out.push_back({route, room});
    }
    return out;
  }

  // Leases due effects while there is room: on NOTIFY, after a full claim,
  // and every poll interval. One claim per kind of route, in one
  // transaction: the routes that deduplicate fill the room ahead, the others
  // only free slots, and theirs go to the front of the line.
  void claimLoop() {
    sql::Connection connection(
        {.url = options.databaseUrl, .callTimeout = options.databaseTimeout});
    const auto& ahead = aheadRoutes;
    const auto& strict = strictRoutes;
    bool lastFailed = false;
    bool reconcile = false;  // a claim's commit was in doubt: rows may be leased here unheld
    std::unique_lock lock(mutex);
    const auto strictLimit = [&] { return std::min(strictRoom(), options.batchSize); };
    const auto aheadLimit = [&] { return std::min(aheadRoom(), options.batchSize); };
    // Whether a pass could claim something: a kind that may be due, with room.
    const auto worthAPass = [&] {
      const auto now = DeliveryLanes::Clock::now();
      pollDueKinds(now);
      return !toClaim(strict, strictLimit(), false, now).empty() ||
             !toClaim(ahead, aheadLimit(), true, now).empty();
    };
    for (;;) {
      if (lastFailed) {
        // The database is away: do not spin.
        wakeClaimer.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping; });
      } else {
        // The poll: whatever the flags say, look again.
        if (!wakeClaimer.wait_for(lock, options.pollInterval,
                                  [&] { return stopping || worthAPass(); })) {
          notified.fill(true);
        }
      }
      if (stopping) break;
      looks.fetch_add(1, std::memory_order_relaxed);
      const auto now = DeliveryLanes::Clock::now();
      pollDueKinds(now);
      const int strictTotal = strictLimit();
      const int aheadTotal = aheadLimit();
      const auto strictClaims = toClaim(strict, strictTotal, false, now);
      const auto aheadClaims = toClaim(ahead, aheadTotal, true, now);
      if (strictClaims.empty() && aheadClaims.empty()) continue;
      for (const auto* claims : {&strictClaims, &aheadClaims}) {
        for (const auto& c : *claims) {
          notified[index(c.route.kind)] = false;
          lookedAt[index(c.route.kind)] = now;
        }
      }
      const auto skipOrigins = fullOrigins();
      // What is in hand is never claimed again: an effect whose completion's
      // commit answer was lost may be pending in the table already.
      const std::vector<std::string> heldNow(held.begin(), held.end());
      lock.unlock();

      std::vector<ClaimedEffect> claimedStrict;
      std::vector<ClaimedEffect> claimedAhead;
      auto* conn = connection.get();
      lastFailed = conn == nullptr;
      if (conn) {
        try {
          const auto deadline = connection.deadline();
          pqxx::work tx(*conn, "claim");
          if (reconcile) {
            // Never handed to a delivery, so never sent: given back rather
            // than left to expire into `unknown`.
            if (const auto orphans = releaseUnheld(tx, options.worker, heldNow); orphans > 0) {
              log::info("released effects claimed by a pass whose commit was in doubt",
                        {{"effects", orphans}});
            }
          }
          const auto claim = [&](const std::vector<RouteClaim>& routes, int limit) {
            if (routes.empty()) return std::vector<ClaimedEffect>();
            return claimEffects(tx, {.worker = options.worker,
                                     .limit = limit,
                                     .lease = options.lease,
                                     .routes = routes,
                                     .exclude = heldNow,
                                     .skipAuthorities = skipOrigins});
          };
          claimedStrict = claim(strictClaims, strictTotal);
          claimedAhead = claim(aheadClaims, aheadTotal);
          tx.commit();
          reconcile = false;
        } catch (const std::exception& e) {
          claimedStrict.clear();
          claimedAhead.clear();
          connection.dropIfBroken();
          lastFailed = true;
          reconcile = true;
          log::warn("claiming effects failed", {{"error", sql::errorText(e)}});
        }
      }
      // Where each webhook goes, read outside the lock.
      for (auto* claimed : {&claimedStrict, &claimedAhead}) {
        for (auto& e : *claimed) {
          if (const auto* channel = channels->forKind(e.kind)) e.origin = channel->origin(e);
        }
      }
      lock.lock();
      // A full claim of a kind: more may be due. A failed pass tries its kinds again.
      std::array<int, 3> claimedByKind{};
      for (const auto* claimed : {&claimedStrict, &claimedAhead}) {
        for (const auto& e : *claimed) ++claimedByKind[index(e.kind)];
      }
      for (const auto* claims : {&strictClaims, &aheadClaims}) {
        for (const auto& c : *claims) {
          if (lastFailed || claimedByKind[index(c.route.kind)] >= c.limit) {
            notified[index(c.route.kind)] = true;
          }
        }
      }
      // Claimed as its kind paused, or beyond its origin's share (one pass
      // may claim a batch of one receiver): back at once, unstarted.
      const int originCap = 2 * channels->lanes.maxPerOrigin;
      const auto admitted = [&](ClaimedEffect& e) {
        held.insert(e.id);
        const auto inHand = inHandByOrigin.find(e.origin);
        const bool originFull =
            originCap > 0 && inHand != inHandByOrigin.end() && inHand->second >= originCap;
        if (!originFull && !lanes.holdsBack(e.kind, DeliveryLanes::Clock::now())) {
          if (!e.origin.empty()) ++inHandByOrigin[e.origin];
          return true;
        }
        givenBack.push_back(e.id);
        wakeCompleter.notify_one();
        return false;
      };
      bool queued = false;
      for (auto e = claimedStrict.rbegin(); e != claimedStrict.rend(); ++e) {
        if (!admitted(*e)) continue;
        ++strictQueued;
        ++queuedByKind[index(e->kind)];
        toDeliver.push_front(std::move(*e));
        queued = true;
      }
      for (auto& e : claimedAhead) {
        if (!admitted(e)) continue;
        ++queuedByKind[index(e.kind)];
        toDeliver.push_back(std::move(e));
        queued = true;
      }
      if (queued) wakeDelivery.notify_all();
    }
    claimerDone = true;
    wakeCompleter.notify_all();
  }

  // Past the shutdown grace, deliveries still running are cut short (once);
  // two seconds later the completer gives up on them. True when it is time to go.
  bool shutdownDeadlinePassed(std::chrono::steady_clock::time_point& deadline, int running) {
    const auto now = std::chrono::steady_clock::now();
    if (now <= deadline) return false;
    if (channels->abort->aborted()) {
      // Their leases expire and the rescuer decides.
      log::warn("stopping with deliveries unfinished", {{"in_flight", running}});
      return true;
    }
    // A request that may have arrived is then retried or unknown, as after a
    // timeout, and written now rather than after a lease runs out.
    log::warn("shutdown grace over: cutting deliveries short", {{"in_flight", running}});
    channels->abort->abort();
    deadline = now + std::chrono::seconds(2);
    return false;
  }

  // Writes outcomes as deliveries finish, renews the leases in hand, and
  // gives back what was claimed and never started when stopping.
  void completeLoop() {
    sql::Connection connection(
        {.url = options.databaseUrl, .callTimeout = options.databaseTimeout});
    const auto renewEvery = std::max(options.lease / 3, std::chrono::seconds(1));
    auto nextRenew = std::chrono::steady_clock::now() + renewEvery;
    std::vector<Completion> toComplete;
    std::vector<std::string> toRelease;  // claimed, never started, stopping
    bool stoppingSeen = false;
    bool lastFailed = false;
    std::chrono::steady_clock::time_point stopDeadline{};

    for (;;) {
      int running = 0;
      bool claimerFinished = false;
      {
        std::unique_lock lock(mutex);
        const auto wait = lastFailed ? std::chrono::milliseconds(500)
                          : stopping ? std::chrono::milliseconds(50)
                                     : std::chrono::milliseconds(1000);
        wakeCompleter.wait_for(lock, wait, [&] {
          return (!lastFailed && (!delivered.empty() || !givenBack.empty())) ||
                 (stopping && !stoppingSeen);
        });
        for (auto& c : delivered) toComplete.push_back(std::move(c));
        delivered.clear();
        for (auto& id : givenBack) toRelease.push_back(std::move(id));
        givenBack.clear();
        if (stopping && !stoppingSeen) {
          stoppingSeen = true;
          stopDeadline = graceDeadline;
        }
        if (stopping) {
          for (const auto& e : toDeliver) {
            toRelease.push_back(e.id);
            originLeavesHand(e.origin);
          }
          toDeliver.clear();
          queuedByKind.fill(0);
          strictQueued = 0;
        }
        running = delivering;
        claimerFinished = claimerDone;
      }
      if (stoppingSeen && claimerFinished) {
        if (running == 0 && toComplete.empty() && toRelease.empty()) return;
        if (shutdownDeadlinePassed(stopDeadline, running)) return;
      }
      // Renewal first and in its own transaction: outcomes that cannot be
      // written yet must not let the leases in hand lapse, or another daemon
      // would rescue and send them again. A renewal that may pass later
      // leaves the outcomes to the next pass: the connection is most likely
      // gone.
      const auto now = std::chrono::steady_clock::now();
      if (now >= nextRenew) {
        if (renewHeld(connection) == Written::Later) {
          lastFailed = true;
          continue;
        }
        nextRenew = now + renewEvery;
      }
      lastFailed = (!toComplete.empty() || !toRelease.empty()) &&
                   !writeOutcomes(connection, toComplete, toRelease);
    }
  }

  enum class Written {
    Yes,
    Later,    // an outage, a deadlock, a cancel: the same write may pass next time
    Refused,  // the same write fails the same way every time
  };

  // Renewed while stopping too: a long grace must not let another daemon
  // rescue what is still being delivered here.
  Written renewHeld(sql::Connection& connection) {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(mutex);
      ids.assign(held.begin(), held.end());
    }
    if (ids.empty()) return Written::Yes;
    return inTransaction(connection, "renewing leases failed", [&](pqxx::connection_base& conn) {
      pqxx::work tx(conn, "renew");
      renewLeases(tx, options.worker, ids, options.lease);
      tx.commit();
    });
  }

  // In one transaction; when the database refuses the batch, one effect at a
  // time, so that one outcome it will never take does not hold up the others
  // (and, renewed forever, stop this daemon's draining). Outcomes not written
  // stay in hand for the next pass (writing them twice changes nothing: they
  // match running rows only). True when nothing is left.
  bool writeOutcomes(sql::Connection& connection, std::vector<Completion>& toComplete,
                     std::vector<std::string>& toRelease) {
    const auto written = writeBatch(connection, toComplete, toRelease);
    if (written == Written::Yes) forget(toComplete, toRelease);
    if (written != Written::Refused) return written == Written::Yes;
    std::vector<Completion> leftComplete;
    std::vector<std::string> leftRelease;
    bool later = false;
    const auto one = [&](std::vector<Completion> c, std::vector<std::string> r) {
      const auto alone = later ? Written::Later : writeBatch(connection, c, r);
      if (alone == Written::Later) {
        later = true;
        for (auto& x : c) leftComplete.push_back(std::move(x));
        for (auto& x : r) leftRelease.push_back(std::move(x));
        return;
      }
      if (alone == Written::Refused) {
        // Let go: its lease lapses and the rescue decides, as after a crash
        // (`unknown` where the provider does not deduplicate).
        const auto& id = c.empty() ? r.front() : c.front().id;
        log::error("effect outcome refused by the database; its lease will lapse",
                   {{"effect_id", id}});
      }
      forget(c, r);
    };
    for (auto& c : toComplete) one({std::move(c)}, {});
    for (auto& r : toRelease) one({}, {std::move(r)});
    toComplete = std::move(leftComplete);
    toRelease = std::move(leftRelease);
    return !later;
  }

  Written writeBatch(sql::Connection& connection, const std::vector<Completion>& toComplete,
                     const std::vector<std::string>& toRelease) {
    return inTransaction(connection, "completing effects failed", [&](pqxx::connection_base& conn) {
      pqxx::work tx(conn, "complete");
      completeEffects(tx, options.worker, toComplete, options.retry);
      releaseEffects(tx, options.worker, toRelease);
      tx.commit();
    });
  }

  // No longer in hand: written, or let go.
  void forget(std::vector<Completion>& toComplete, std::vector<std::string>& toRelease) {
    std::lock_guard lock(mutex);
    for (const auto& c : toComplete) held.erase(c.id);
    for (const auto& id : toRelease) held.erase(id);
    toComplete.clear();
    toRelease.clear();
    wakeClaimer.notify_one();  // room in hand again
  }

  // One transaction under its own call deadline, so that a slow renewal does
  // not take the completions' time. Logged when it failed.
  template <typename Body>
  Written inTransaction(sql::Connection& connection, const char* failure, Body&& body) {
    auto* conn = connection.get();
    if (!conn) return Written::Later;
    try {
      const auto deadline = connection.deadline();
      body(*conn);
      return Written::Yes;
    } catch (const std::exception& e) {
      const bool dropped = connection.dropIfBroken();
      log::warn(failure, {{"error", sql::errorText(e)}});
      return dropped || sql::worthRetrying(e) ? Written::Later : Written::Refused;
    }
  }
};

Drainer::Drainer(Options options, std::shared_ptr<const Channels> channels)
    : state_(std::make_unique<State>(std::move(options), std::move(channels))) {}

std::uint64_t Drainer::claimLooks() const {
  return state_->looks.load(std::memory_order_relaxed);
}

void Drainer::start() {
  auto& s = *state_;
  std::unique_lock lock(s.mutex);
  if (!s.threads.empty() || s.stopping) return;
  try {
    for (int i = 0; i < s.options.concurrency; ++i)
      s.threads.emplace_back([&s] { s.deliveryLoop(); });
    if (!s.options.listenUrl.empty()) s.threads.emplace_back([&s] { s.listenLoop(); });
    s.threads.emplace_back([&s] { s.claimLoop(); });
    s.threads.emplace_back([&s] {
      s.completeLoop();
      std::lock_guard lock(s.mutex);
      s.completerDone = true;
      s.completerFinished.notify_all();
    });
  } catch (...) {
    // A thread would not start (the completer, last, among them): the
    // others have claimed nothing yet, as they wait for this lock, and see
    // `stopping` before they can. They end now; stop() finds nothing to wait for.
    auto started = std::move(s.threads);
    s.threads.clear();
    s.stopping = true;
    s.graceDeadline = Clock::now();
    lock.unlock();
    s.wakeClaimer.notify_all();
    s.wakeCompleter.notify_all();
    s.wakeDelivery.notify_all();
    for (auto& t : started) t.join();
    throw;
  }
}

Drainer::~Drainer() {
  stop();
}

void Drainer::beginStop(Clock::time_point deadline) {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopping) return;
    state_->stopping = true;
    state_->graceDeadline = deadline;
  }
  state_->wakeClaimer.notify_all();
  state_->wakeCompleter.notify_all();
  state_->wakeDelivery.notify_all();
}

void Drainer::stop() {
  Clock::time_point deadline;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->threads.empty()) {  // never started, or stopped already
      state_->stopping = true;
      return;
    }
  }
  beginStop(Clock::now() + state_->options.shutdownGrace);
  {
    std::lock_guard lock(state_->mutex);
    deadline = state_->graceDeadline;
  }
  {
    // The completer cuts deliveries short at the deadline, unless it is
    // itself stuck in a database call; then the cut comes from here.
    std::unique_lock lock(state_->mutex);
    if (!state_->completerFinished.wait_until(lock, deadline + std::chrono::seconds(3),
                                              [this] { return state_->completerDone; })) {
      log::warn("drainer stuck in the database at shutdown; cutting deliveries short");
      lock.unlock();
      state_->channels->abort->abort();
    }
  }
  for (auto& t : state_->threads) {
    if (t.joinable()) t.join();
  }
  state_->threads.clear();
}

}  // namespace effectd::queue
