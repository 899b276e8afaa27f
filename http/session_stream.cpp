#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>

#include "http/session.hpp"

namespace effectd::http {
namespace {
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
}  // namespace

asio::awaitable<bool> SessionStream::writeHeader(
    unsigned status, std::string_view contentType,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(status), version_};
  res.set(bhttp::field::server, "effectd");
  res.set(bhttp::field::content_type, contentType);
  for (const auto& [name, value] : headers) res.insert(name, value);
  res.keep_alive(false);  // the stream ends with the connection
  bhttp::response_serializer<bhttp::empty_body> serializer(res);
  stream_.expires_after(writeTimeout_);
  auto [ec, n] = co_await bhttp::async_write_header(stream_, serializer, kNoThrow);
  co_return !ec;
}

// False once the client is gone.
asio::awaitable<bool> SessionStream::write(std::string_view bytes) {
  stream_.expires_after(writeTimeout_);
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(bytes), kNoThrow);
  co_return !ec;
}

asio::awaitable<bool> SessionStream::waitFor(std::chrono::milliseconds duration) {
  if (stopping_) co_return false;
  // The stream's own timeout is for writes; an expiry while nothing is
  // pending would fail the next write at once.
  stream_.expires_never();
  state_.wake->expires_after(duration);
  co_await state_.wake->async_wait(kNoThrow);
  co_return !stopping_;
}

std::function<void()> SessionStream::waker() {
  return [wake = state_.wake, executor = state_.executor] {
    asio::post(executor, [wake] { wake->cancel(); });
  };
}

}  // namespace effectd::http
