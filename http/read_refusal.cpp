#include "http/read_refusal.hpp"

#include <boost/beast/http/error.hpp>

namespace effectd::http {

bool malformedHttp(const boost::system::error_code& ec) {
  using E = boost::beast::http::error;
  for (const auto e :
       {E::bad_line_ending, E::bad_method, E::bad_target, E::bad_version, E::bad_field,
        E::bad_value, E::bad_content_length, E::bad_transfer_encoding, E::bad_chunk,
        E::bad_chunk_extension, E::bad_obs_fold, E::multiple_content_length}) {
    if (ec == e) return true;
  }
  return false;
}

std::optional<ReadRefusal> readRefusal(const boost::system::error_code& ec) {
  using E = boost::beast::http::error;
  // Beast refuses a Content-Length over the body limit while still reading
  // the header, before a byte of the body is read.
  if (ec == E::body_limit) return ReadRefusal{413, "request body too large", "body too large"};
  if (ec == E::header_limit || ec == E::buffer_overflow) {
    return ReadRefusal{431, "request headers too large", "headers too large"};
  }
  if (malformedHttp(ec)) {
    return ReadRefusal{400, "malformed HTTP request", "malformed request: " + ec.message()};
  }
  return std::nullopt;
}

}  // namespace effectd::http
