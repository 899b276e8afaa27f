// What an http::Listener serves: a Site answers each request read in full
// (or streams on its connection), says how a refused request is answered,
// and writes the request log. The public routes (webhooks, health) and the
// admin ones (metrics, API, live page) are the two sites.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace effectd::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

struct Answer {
  unsigned status = 200;
  std::string body;
  std::string contentType = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string reason;  // for the log line; never a secret
  // Ends the connection after the answer, lingering so that a client still
  // sending (a body we refused to read) reads the answer before the close.
  bool closeConnection = false;
  // Fields of the site's own for its log line (the event's id and type).
  std::vector<std::pair<std::string, std::string>> logFields;
};

// The connection a site's answer may stream on (server-sent events): its
// writes have the read timeout; it waits until woken, a time passes, or the
// listener shuts down.
class Stream {
 public:
  virtual ~Stream() = default;
  // The header of a response whose body follows in write(); no keep-alive.
  virtual boost::asio::awaitable<bool> writeHeader(
      unsigned status, std::string_view contentType,
      const std::vector<std::pair<std::string, std::string>>& headers) = 0;
  virtual boost::asio::awaitable<bool> write(std::string_view bytes) = 0;
  // Returns true when woken or timed out, false when the listener stops.
  virtual boost::asio::awaitable<bool> waitFor(std::chrono::milliseconds duration) = 0;
  // Thread-safe: ends a waitFor() now, from any thread.
  virtual std::function<void()> waker() = 0;
  virtual bool stopping() const = 0;
};

// What one listener serves. Called on the connection's strand.
class Site {
 public:
  virtual ~Site() = default;
  // A request read in full. Either an answer to write, or (streamed) the
  // site wrote everything itself on `stream` and the connection ends.
  struct Outcome {
    Answer answer;
    bool streamed = false;
  };
  virtual boost::asio::awaitable<Outcome> serve(Request request, Stream& stream) = 0;
  // A request refused while it was read (413, 431, 400 framing): its answer.
  // `target` is what was read of it (maybe empty).
  virtual Answer refused(unsigned status, std::string_view error, std::string reason,
                         std::string_view target) = 0;
  // Every connection busy at the cap: the answer to the new one.
  virtual Answer full() = 0;
  // One line per answered request (the site throttles what clients cause).
  virtual void logged(std::string_view method, std::string_view target, const Answer& answer,
                      std::chrono::microseconds took, std::string_view remote, bool wasRead) = 0;
  // The shutdown began: say so where it shows (readiness).
  virtual void draining() {}
};

}  // namespace effectd::http
