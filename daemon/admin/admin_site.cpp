#include "daemon/admin/admin_site.hpp"

#include <boost/asio/use_awaitable.hpp>

#include "base/log.hpp"
#include "base/log_throttle.hpp"
#include "daemon/admin/admin_call.hpp"
#include "daemon/admin/admin_routes.hpp"
#include "daemon/admin/queue_figures.hpp"
#include "daemon/admin/transition_stream.hpp"
#include "http/site.hpp"

namespace effectd::daemon {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

// Log lines a client causes at will (401, 404, too large): at most 20 a second.
log::LogThrottle adminRejectionLog(20);

bool admitRejectionLog(unsigned status) {
  return adminRejectionLog.admitReporting(status, "rejected admin requests not logged one by one");
}

// /metrics, the JSON API and the live page on the shared connection core.
// Nothing here reads the database on the event loop: calls go to the
// admin worker's thread.
class AdminSite final : public http::Site {
 public:
  AdminSite(const AdminRoutes& routes, AdminWorker& worker, TransitionFeed& feed,
            const AdminSiteOptions& options)
      : routes_(routes),
        worker_(worker),
        figures_(std::make_shared<QueueFigures>(
            QueueFigures::Options{.cacheFor = options.queueCacheFor, .pauses = options.pauses},
            worker)),
        streams_(feed, worker, options.maxStreams) {}

  asio::awaitable<Outcome> serve(http::Request request, http::Stream& stream) override {
    auto decision = routes_.handle({.method = request.method_string(),
                                    .target = request.target(),
                                    .authorization = request[bhttp::field::authorization],
                                    .origin = request[bhttp::field::origin],
                                    .host = request[bhttp::field::host],
                                    .contentType = request[bhttp::field::content_type],
                                    .body = request.body()});
    if (std::holds_alternative<TransitionStream>(decision))
      co_return co_await streams_.serve(stream);
    AdminReply reply;
    if (auto* ready = std::get_if<AdminReply>(&decision)) {
      reply = std::move(*ready);
    } else if (auto* call = std::get_if<DatabaseCall>(&decision)) {
      reply = co_await asyncDatabase(worker_, std::move(*call), asio::use_awaitable);
    } else if (std::holds_alternative<StatsAction>(decision)) {
      reply = co_await figures_->stats();
    } else {
      reply = co_await figures_->metrics();
    }
    co_return Outcome{toAdminAnswer(std::move(reply))};
  }

  http::Answer refused(unsigned status, std::string_view error, std::string reason,
                       std::string_view) override {
    return toAdminAnswer(
        AdminRoutes::json(status, R"({"error":")" + std::string(error) + R"("})", reason));
  }

  http::Answer full() override {
    return toAdminAnswer(AdminRoutes::unavailable("too many admin connections"));
  }

  void logged(std::string_view method, std::string_view target, const http::Answer& answer,
              std::chrono::microseconds took, std::string_view, bool wasRead) override {
    // Refusals (401, 404) come at a client's rate: throttled.
    if (answer.status >= 400 && answer.status < 500 && !admitRejectionLog(answer.status)) return;
    if (!wasRead) {
      log::warn("admin request rejected", {{"status", answer.status}, {"reason", answer.reason}});
      return;
    }
    // The path only: a query may carry a key prefix, never a secret, but
    // the path is what an operator greps for.
    log::write(answer.status >= 400 ? log::Level::Warn : log::Level::Debug, "admin request",
               {{"method", method},
                {"path", target.substr(0, target.find('?'))},
                {"status", answer.status},
                {"reason", answer.reason},
                {"duration_ms", static_cast<double>(took.count()) / 1000.0}});
  }

 private:
  const AdminRoutes& routes_;
  AdminWorker& worker_;
  std::shared_ptr<QueueFigures> figures_;
  TransitionStreams streams_;
};

}  // namespace

std::shared_ptr<http::Site> makeAdminSite(const AdminRoutes& routes, AdminWorker& worker,
                                          TransitionFeed& feed, const AdminSiteOptions& options) {
  return std::make_shared<AdminSite>(routes, worker, feed, options);
}

}  // namespace effectd::daemon
