// Load generator for the intake path: N keep-alive connections post signed,
// unique Stripe events to a running effectd for a fixed time, and report
// events stored per second and latency percentiles as one JSON line.
//
//   effectd_intake_load --port P --secret whsec_... [--connections 32] [--seconds 10]
//                       [--organizations N] [--payload-out FILE] [--type T]
//                       [--bytes N] [--rate R --sent-out FILE]
//
// --bytes pads each event to about N bytes with metadata (Stripe's own
// subscription and invoice events are 4-6 KB). --rate paces all connections
// together to R events per second, as steady traffic arrives, and --sent-out
// then writes "<event id> <unix time in microseconds>" for each event as it
// was sent: the end-to-end benchmark matches these with what the provider
// received. With --type invoice.paid each event causes one analytics effect
// whose invoice id is "in_" + the event id.
//
// Event k belongs to organization org_b<k mod N> (its metadata, customer and
// subscription), so concurrent events spread over organizations as real
// traffic does rather than queueing on one Subscription row.
#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "daemon/cli/dev_trigger.hpp"
#include "handlers/signature.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

struct Options {
  std::uint16_t port = 8080;
  std::string secret;
  int connections = 32;
  int seconds = 10;
  int organizations = 1000;
  std::string payloadOut;
  std::string type = "customer.subscription.updated";
  std::size_t bytes = 0;
  double rate = 0;  // events per second over all connections; 0: as fast as answered
  std::string sentOut;
};

struct Sent {
  std::string id;
  std::int64_t atMicros = 0;
};

struct WorkerResult {
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::vector<double> latenciesMs;
  std::vector<Sent> sent;
};

// The sample event with placeholders, so each request only swaps ids in.
std::string templateBody(const Options& options) {
  auto event = nlohmann::json::parse(effectd::daemon::sampleEvent(options.type, "@ORG@"));
  event["id"] = "@ID@";
  if (options.type.starts_with("invoice.")) event["data"]["object"]["id"] = "in_@ID@";
  const auto size = event.dump().size();
  if (options.bytes > size + 40) {
    event["data"]["object"]["metadata"]["bench_padding"] =
        std::string(options.bytes - size - 40, 'x');
  }
  return event.dump();
}

std::string fill(const std::string& body, const std::string& id, const std::string& org) {
  std::string out;
  out.reserve(body.size() + 64);
  for (std::size_t pos = 0; pos < body.size();) {
    const auto at = body.find('@', pos);
    if (at == std::string::npos) {
      out.append(body, pos);
      break;
    }
    out.append(body, pos, at - pos);
    if (body.compare(at, 4, "@ID@") == 0) {
      out += id;
      pos = at + 4;
    } else if (body.compare(at, 5, "@ORG@") == 0) {
      out += org;
      pos = at + 5;
    } else {
      out += '@';
      pos = at + 1;
    }
  }
  return out;
}

// Paced sending: the k-th event of all connections is due at start + k/rate.
struct Pacer {
  Clock::time_point start;
  double rate = 0;
  std::atomic<std::uint64_t> next{0};
  void wait() {
    if (rate <= 0) return;
    const auto k = next.fetch_add(1);
    std::this_thread::sleep_until(
        start + std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(static_cast<double>(k) / rate)));
  }
};

std::int64_t unixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

WorkerResult work(const Options& options, int index, const std::string& body,
                  Clock::time_point deadline, Pacer& pacer) {
  WorkerResult result;
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), options.port);
  stream.connect(endpoint);
  beast::flat_buffer buffer;
  std::uint64_t n = 0;
  while (Clock::now() < deadline) {
    pacer.wait();
    http::request<http::string_body> req{http::verb::post, "/webhooks/stripe", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    const auto id = "evt_bench_" + std::to_string(index) + "_" + std::to_string(n) + "_" +
                    std::to_string(deadline.time_since_epoch().count());
    const auto org = "org_b" + std::to_string((n * 7919 + static_cast<std::uint64_t>(index)) %
                                              static_cast<std::uint64_t>(options.organizations));
    ++n;
    req.body() = fill(body, id, org);
    const auto& payload = req.body();
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    req.set("Stripe-Signature", effectd::handlers::signPayload(options.secret, now, payload));
    req.prepare_payload();
    const auto started = Clock::now();
    if (!options.sentOut.empty()) result.sent.push_back({id, unixMicros()});
    beast::error_code ec;
    http::write(stream, req, ec);
    http::response<http::string_body> res;
    if (!ec) http::read(stream, buffer, res, ec);
    if (ec) {
      ++result.failed;
      break;
    }
    const auto ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    if (res.result_int() == 200) {
      ++result.ok;
      result.latenciesMs.push_back(ms);
    } else {
      ++result.failed;
    }
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--port")
      options.port = static_cast<std::uint16_t>(std::stoi(value));
    else if (flag == "--secret")
      options.secret = value;
    else if (flag == "--connections")
      options.connections = std::stoi(value);
    else if (flag == "--seconds")
      options.seconds = std::stoi(value);
    else if (flag == "--payload-out")
      options.payloadOut = value;
    else if (flag == "--organizations")
      options.organizations = std::stoi(value);
    else if (flag == "--type")
      options.type = value;
    else if (flag == "--bytes")
      options.bytes = std::stoul(value);
    else if (flag == "--rate")
      options.rate = std::stod(value);
    else if (flag == "--sent-out")
      options.sentOut = value;
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (options.secret.empty()) {
    std::cerr << "--secret is required\n";
    return 2;
  }
  const auto body = templateBody(options);
  if (!options.payloadOut.empty()) {
    std::ofstream(options.payloadOut) << fill(body, "evt_template", "org_b0");
  }

  const auto started = Clock::now();
  const auto deadline = started + std::chrono::seconds(options.seconds);
  Pacer pacer{started, options.rate};
  std::vector<WorkerResult> results(static_cast<std::size_t>(options.connections));
  std::vector<std::thread> threads;
  for (int i = 0; i < options.connections; ++i) {
    threads.emplace_back([&, i] {
      try {
        results[i] = work(options, i, body, deadline, pacer);
      } catch (const std::exception& e) {
        std::cerr << "connection " << i << ": " << e.what() << "\n";
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();

  WorkerResult total;
  for (auto& r : results) {
    total.ok += r.ok;
    total.failed += r.failed;
    total.latenciesMs.insert(total.latenciesMs.end(), r.latenciesMs.begin(), r.latenciesMs.end());
  }
  std::sort(total.latenciesMs.begin(), total.latenciesMs.end());
  if (!options.sentOut.empty()) {
    std::ofstream out(options.sentOut);
    for (const auto& r : results) {
      for (const auto& s : r.sent) out << s.id << " " << s.atMicros << "\n";
    }
  }
  auto percentile = [&](double p) {
    if (total.latenciesMs.empty()) return 0.0;
    return total.latenciesMs[static_cast<std::size_t>(p * (total.latenciesMs.size() - 1))];
  };
  std::cout << nlohmann::json{{"connections", options.connections},
                              {"seconds", elapsed},
                              {"stored", total.ok},
                              {"failed", total.failed},
                              {"events_per_second", total.ok / elapsed},
                              {"p50_ms", percentile(0.5)},
                              {"p99_ms", percentile(0.99)},
                              {"payload_bytes", body.size()}}
                   .dump()
            << "\n";
  return total.failed == 0 ? 0 : 1;
}
