// A provider that answers every POST with 200 at once: the far end of the
// drain benchmark, so that what is measured is effectd, not the receiver.
// Prints its port, then serves until killed. One thread per connection.
// With a file argument it keeps "<requests> <distinct webhook-ids>" in that
// file (rewritten every 100 ms), so the benchmark can count duplicates.
// With a second file argument it appends "<invoice id> <unix time in
// microseconds>" for each request whose body names an invoice ("in_..."):
// when the provider had the effect, for the end-to-end benchmark.
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
#include <utility>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Counts {
  std::mutex mutex;
  std::uint64_t requests = 0;
  std::unordered_set<std::string> ids;
  std::vector<std::pair<std::string, std::int64_t>> arrivals;

  void record(std::string_view id, std::string_view body) {
    const auto at = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    std::string invoice;
    if (const auto start = body.find("\"in_"); start != std::string_view::npos) {
      const auto end = body.find('"', start + 1);
      if (end != std::string_view::npos) invoice = body.substr(start + 1, end - start - 1);
    }
    std::lock_guard lock(mutex);
    ++requests;
    if (!id.empty()) ids.emplace(id);
    if (!invoice.empty()) arrivals.emplace_back(std::move(invoice), at);
  }
};

void writeCountsForever(Counts& counts, const std::string& path, const std::string& arrivalsPath) {
  std::uint64_t written = ~std::uint64_t{0};
  std::ofstream arrivalsFile;
  if (!arrivalsPath.empty()) arrivalsFile.open(arrivalsPath, std::ios::app);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::uint64_t requests = 0;
    std::size_t distinct = 0;
    std::vector<std::pair<std::string, std::int64_t>> arrivals;
    {
      std::lock_guard lock(counts.mutex);
      requests = counts.requests;
      distinct = counts.ids.size();
      arrivals.swap(counts.arrivals);
    }
    for (const auto& [invoice, at] : arrivals) arrivalsFile << invoice << " " << at << "\n";
    if (!arrivals.empty()) arrivalsFile.flush();
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
    std::thread([&counts, path = std::string(argv[1]),
                 arrivals = std::string(argc > 2 ? argv[2] : "")] {
      writeCountsForever(counts, path, arrivals);
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
        counts.record(req["webhook-id"], req.body());
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
