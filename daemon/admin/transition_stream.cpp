#include "daemon/admin/transition_stream.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "daemon/admin/admin_call.hpp"
#include "daemon/admin/transition_feed.hpp"
#include "daemon/cli/operator_json.hpp"
#include "queue/effect_transitions.hpp"

namespace effectd::daemon {
namespace {

namespace asio = boost::asio;

// How many transitions a newly opened page starts with.
constexpr int kHistory = 50;
constexpr auto kHeartbeat = std::chrono::seconds(15);
constexpr std::string_view kHeartbeatLine = ": heartbeat\n\n";

http::Site::Outcome refusal(std::string_view reason) {
  return {toAdminAnswer(AdminRoutes::unavailable(reason))};
}

}  // namespace

asio::awaitable<http::Site::Outcome> TransitionStreams::serve(http::Stream& stream) {
  if (!feed_.available()) {
    co_return refusal(
        "the live view needs DATABASE_LISTEN_URL, a direct connection: DATABASE_URL goes "
        "through a transaction pooler, where LISTEN does not work");
  }
  if (open_.fetch_add(1) >= maxStreams_) {
    --open_;
    co_return refusal("too many live pages open");
  }
  const auto subscriber = feed_.subscribe(stream.waker());
  // Named first: GCC 12 cannot copy an initializer list into a coroutine's
  // frame inside a co_await ("array used as initializer").
  const std::vector<std::pair<std::string, std::string>> headers{
      {"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
  bool open = co_await stream.writeHeader(200, "text/event-stream; charset=utf-8", headers);
  // The history only once the feed listens (the first page starts it): what
  // changes in between is then in the history, the stream, or both (the
  // page drops what it has already shown), never in neither.
  for (auto waited = std::chrono::milliseconds(0);
       open && !stream.stopping() && !feed_.listening() && waited < std::chrono::seconds(5);
       waited += std::chrono::milliseconds(100)) {
    co_await stream.waitFor(std::chrono::milliseconds(100));
  }
  if (open) {
    DatabaseCall readHistory = [](pqxx::connection_base& conn) {
      std::string text;
      for (const auto& t : queue::latestTransitions(conn, {}, kHistory)) {
        text.append("data: ")
            .append(toJson(t).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
            .append("\n\n");
      }
      return AdminReply{200, std::move(text)};
    };
    const auto history =
        co_await asyncDatabase(worker_, std::move(readHistory), asio::use_awaitable);
    const std::string text = "retry: 2000\n\n" + (history.status == 200 ? history.body : "");
    open = co_await stream.write(text);
  }
  while (open && !stream.stopping()) {
    auto batch = subscriber->take();
    if (batch.lines.empty() && batch.dropped == 0) {
      // Woken early by the feed: look again; a full wait: a heartbeat.
      const auto started = std::chrono::steady_clock::now();
      if (!co_await stream.waitFor(kHeartbeat)) break;
      if (std::chrono::steady_clock::now() - started >= kHeartbeat)
        open = co_await stream.write(kHeartbeatLine);
      continue;
    }
    std::string text;
    for (const auto& line : batch.lines) text.append("data: ").append(line).append("\n\n");
    if (batch.dropped > 0) {
      text += "event: dropped\ndata: " + std::to_string(batch.dropped) + "\n\n";
    }
    open = co_await stream.write(text);
  }
  feed_.unsubscribe(subscriber);
  --open_;
  http::Site::Outcome ended;
  ended.answer.reason = "stream ended";
  ended.streamed = true;
  co_return ended;
}

}  // namespace effectd::daemon
