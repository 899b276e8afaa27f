// A provider that answers every POST with 200 at once: the far end of the
// drain benchmark, so that what is measured is effectd, not the receiver.
// Prints its port, then serves until killed. One thread per connection.
// With a file argument it keeps "<requests> <distinct webhook-ids>" in that
// file (rewritten every 100 ms), so the benchmark can count duplicates.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Counts {
  std::mutex mutex;
  std::uint64_t requests = 0;
  std::unordered_set<std::string> ids;

  void record(std::string_view id) {
    std::lock_guard lock(mutex);
    ++requests;
    if (!id.empty()) ids.emplace(id);
  }
};

void writeCountsForever(Counts& counts, const std::string& path) {
  std::uint64_t written = ~std::uint64_t{0};
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::uint64_t requests = 0;
    std::size_t distinct = 0;
    {
      std::lock_guard lock(counts.mutex);
      requests = counts.requests;
      distinct = counts.ids.size();
    }
    if (requests == written) continue;
    { std::ofstream(path + ".tmp") << requests << " " << distinct << "\n"; }
    std::rename((path + ".tmp").c_str(), path.c_str());
    written = requests;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Counts counts;
  if (argc > 1)
    std::thread([&counts, path = std::string(argv[1])] {
      writeCountsForever(counts, path);
    }).detach();
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  std::cout << acceptor.local_endpoint().port() << std::endl;
  for (;;) {
    tcp::socket socket(ioc);
    acceptor.accept(socket);
    std::thread([s = std::move(socket), &counts]() mutable {
      beast::flat_buffer buffer;
      beast::error_code ec;
      for (;;) {
        http::request<http::string_body> req;
        http::read(s, buffer, req, ec);
        if (ec) break;
        counts.record(req["webhook-id"]);
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
