// A provider that answers every POST with 200 at once: the far end of the
// drain benchmark, so that what is measured is effectd, not the receiver.
// Prints its port, then serves until killed. One thread per connection.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <iostream>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

int main() {
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  std::cout << acceptor.local_endpoint().port() << std::endl;
  for (;;) {
    tcp::socket socket(ioc);
    acceptor.accept(socket);
    std::thread([s = std::move(socket)]() mutable {
      beast::flat_buffer buffer;
      beast::error_code ec;
      for (;;) {
        http::request<http::string_body> req;
        http::read(s, buffer, req, ec);
        if (ec) break;
        http::response<http::string_body> res{http::status::ok, req.version()};
        res.set(http::field::content_type, "application/json");
        res.body() = R"({"id":"ok"})";
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        http::write(s, res, ec);
        if (ec || !req.keep_alive()) break;
      }
      s.shutdown(tcp::socket::shutdown_both, ec);
    }).detach();
  }
}
