// Runs a DatabaseCall on the admin worker from a coroutine on the event
// loop, and resumes it on its own executor with the reply. The worker calls
// every job exactly once, so the caller is always resumed, with a 503 when
// the database or the worker is not there. For the admin listener's files
// only: it brings Asio with it.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <nlohmann/json.hpp>

#include "daemon/admin/admin_routes.hpp"
#include "daemon/admin/admin_worker.hpp"
#include "http/site.hpp"

namespace effectd::daemon {

// Every admin answer, the live view's refusals included: never cached, never
// sniffed; a refused request ends its connection, so a client without the
// token cannot hold a slot with it.
inline http::Answer toAdminAnswer(AdminReply reply) {
  http::Answer answer{.status = reply.status,
                      .body = std::move(reply.body),
                      .contentType = std::move(reply.contentType),
                      .headers = std::move(reply.headers),
                      .reason = std::move(reply.reason),
                      .closeConnection = reply.status >= 400};
  answer.headers.emplace_back("Cache-Control", "no-store");
  answer.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return answer;
}

// GCC 12 destroys a lambda with captures twice when it is built inside a
// co_await expression (a shared_ptr it holds then loses a reference each
// time, and the server was freed under its sessions): callers name their
// call first and pass it moved, and no co_await here has a temporary with a
// destructor in it.
template <typename Token>
auto asyncDatabase(AdminWorker& worker, DatabaseCall&& call, Token&& token) {
  namespace asio = boost::asio;
  return asio::async_initiate<Token, void(AdminReply)>(
      [&worker](auto handler, DatabaseCall&& call) {
        auto work = std::make_shared<asio::executor_work_guard<asio::any_io_executor>>(
            asio::get_associated_executor(handler));
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        auto answer = [work, shared](AdminReply reply) {
          asio::post(work->get_executor(), [work, shared, reply = std::move(reply)]() mutable {
            std::move (*shared)(std::move(reply));
          });
        };
        const bool queued =
            worker.submit([call = std::move(call), answer](pqxx::connection_base* conn,
                                                           const std::string& unreachable) {
              if (!conn) {
                answer(AdminRoutes::unavailable("database unavailable: " + unreachable));
                return;
              }
              try {
                answer(call(*conn));
              } catch (const std::exception& e) {
                // Rethrown after answering, so the worker checks its connection.
                answer(AdminRoutes::json(500, nlohmann::json{{"error", e.what()}}.dump(),
                                         "database error"));
                throw;
              }
            });
        if (!queued) answer(AdminRoutes::unavailable("admin requests queued too deep"));
      },
      token, std::move(call));
}

}  // namespace effectd::daemon
