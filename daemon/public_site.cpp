#include "daemon/public_site.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "base/log.hpp"
#include "base/log_throttle.hpp"
#include "base/metrics.hpp"
#include "daemon/public_routes.hpp"
#include "http/site.hpp"
#include "intake/intake_writer.hpp"

namespace effectd::daemon {
namespace {

namespace asio = boost::asio;

// Hands an event to the intake writer and resumes the caller on its own
// executor with the outcome. The work guard keeps the io_context running
// while the database has the event, so a shutdown waits for the answer.
template <typename Token>
auto asyncStore(intake::IntakeWriter& writer, intake::IncomingEvent event, Token&& token) {
  return asio::async_initiate<Token, void(intake::StoreOutcome)>(
      [&writer](auto handler, intake::IncomingEvent&& event) {
        auto work = std::make_shared<asio::executor_work_guard<asio::any_io_executor>>(
            asio::get_associated_executor(handler));
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        writer.submit(std::move(event), [work, shared](intake::StoreOutcome outcome) {
          asio::post(work->get_executor(),
                     [work, shared, outcome] { std::move (*shared)(outcome); });
        });
      },
      token, std::move(event));
}

// Log lines a client causes at will (rejected requests): at most this many a
// second, and a count of the rest.
log::LogThrottle rejectionLog(20);

bool admitRejectionLog(unsigned status) {
  return rejectionLog.admitReporting(status, "rejected requests not logged one by one");
}

constexpr std::string_view kWebhookPath = "/webhooks/stripe";

std::string_view pathOf(std::string_view target) {
  return target.substr(0, target.find('?'));
}

// Every answer to Stripe, by status and reason, for /metrics; the time of
// those whose request was read (not of one refused at its header).
void countWebhook(const http::Answer& answer, std::optional<double> seconds) {
  auto& m = metrics::registry();
  m.webhookRequests.inc({std::to_string(answer.status), answer.reason});
  if (seconds) m.webhookDuration.observe(*seconds);
}

http::Answer toAnswer(Reply reply) {
  http::Answer answer{.status = reply.status,
                      .body = std::move(reply.body),
                      .reason = std::move(reply.reason),
                      .closeConnection = reply.closeConnection};
  if (reply.retryAfterSeconds > 0)
    answer.headers.emplace_back("Retry-After", std::to_string(reply.retryAfterSeconds));
  return answer;
}

// The webhooks and health routes on the shared connection core; the event
// of a webhook goes to the intake writer, and its answer waits for the commit.
class PublicSite final : public http::Site {
 public:
  PublicSite(PublicRoutes& routes, intake::IntakeWriter& writer)
      : routes_(routes), writer_(writer) {}

  asio::awaitable<Outcome> serve(http::Request request, http::Stream&) override {
    auto decision = routes_.handle({.method = request.method_string(),
                                    .target = request.target(),
                                    .stripeSignature = request["Stripe-Signature"],
                                    .body = std::move(request.body())});
    if (auto* reply = std::get_if<Reply>(&decision)) co_return Outcome{toAnswer(std::move(*reply))};
    auto& event = std::get<StoreAction>(decision).event;
    std::string id = event.envelope.id;
    std::string type = event.envelope.type;
    const auto outcome = co_await asyncStore(writer_, std::move(event), asio::use_awaitable);
    Outcome answered{toAnswer(PublicRoutes::afterStore(outcome))};
    answered.answer.logFields = {{"event_id", std::move(id)}, {"event_type", std::move(type)}};
    co_return answered;
  }

  http::Answer refused(unsigned status, std::string_view error, std::string reason,
                       std::string_view) override {
    if (status == 413) return toAnswer(routes_.bodyTooLarge());  // it names the limit
    return toAnswer(
        Reply{status, R"({"error":")" + std::string(error) + R"("})", std::move(reason)});
  }

  http::Answer full() override {
    return toAnswer(PublicRoutes::unavailable("too many connections"));
  }

  void logged(std::string_view method, std::string_view target, const http::Answer& answer,
              std::chrono::microseconds took, std::string_view remote, bool wasRead) override {
    const auto path = pathOf(target);
    const bool webhook = path == kWebhookPath;
    const double seconds = static_cast<double>(took.count()) / 1e6;
    if (webhook) countWebhook(answer, wasRead ? std::optional<double>(seconds) : std::nullopt);
    if (!wasRead) {
      if (admitRejectionLog(answer.status)) {
        log::warn("request rejected",
                  {{"status", answer.status}, {"reason", answer.reason}, {"remote", remote}});
      }
      return;
    }
    const auto level = answer.status >= 400 ? log::Level::Warn
                       : webhook            ? log::Level::Info
                                            : log::Level::Debug;
    // A client's own mistakes, at a client's rate: throttled. Our 5xx never are.
    if (answer.status >= 400 && answer.status < 500 && !admitRejectionLog(answer.status)) return;
    std::string eventId;
    std::string eventType;
    for (const auto& [name, value] : answer.logFields) {
      if (name == "event_id") eventId = value;
      if (name == "event_type") eventType = value;
    }
    log::write(level, "request",
               {{"method", method},
                {"path", path},
                {"status", answer.status},
                {"reason", answer.reason},
                {"event_id", eventId},
                {"event_type", eventType},
                {"duration_ms", seconds * 1000.0},
                {"remote", remote}});
  }

  void draining() override { routes_.startDraining(); }

 private:
  PublicRoutes& routes_;
  intake::IntakeWriter& writer_;
};

}  // namespace

std::shared_ptr<http::Site> makePublicSite(PublicRoutes& routes, intake::IntakeWriter& writer) {
  return std::make_shared<PublicSite>(routes, writer);
}

}  // namespace effectd::daemon
