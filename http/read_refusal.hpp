// How a request that failed while it was being read is refused, the same on
// the public and the admin listener: a body over the limit is a 413, a
// header over it a 431, what is not HTTP/1.1 a 400. Anything else (the
// client went away, a timeout) gets no answer.
#pragma once

#include <boost/system/error_code.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace effectd::http {

struct ReadRefusal {
  unsigned status = 400;
  std::string_view error;  // the client's {"error": ...}: fixed text, no quoting needed
  std::string reason;      // the log line's
};

std::optional<ReadRefusal> readRefusal(const boost::system::error_code& ec);

// Beast's verdict that the bytes are not HTTP/1.1 as RFC 9112 has it.
bool malformedHttp(const boost::system::error_code& ec);

}  // namespace effectd::http
