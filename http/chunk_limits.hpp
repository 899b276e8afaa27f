// Bounds on what a chunked body may spend on framing. Stripe sends neither
// chunk extensions nor many chunks; without a cap a client can keep the
// parser busy with framing that carries (almost) no body. Past a cap the
// parser stops (bad_chunk_extension) and `exceeded` says which, for the 400.
#pragma once

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace effectd::http {

struct ChunkLimits {
  static constexpr std::size_t kMaxExtensionBytes = 1024;
  static constexpr std::size_t kMaxChunks = std::size_t{16} * 1024;

  ChunkLimits() = default;
  ChunkLimits(const ChunkLimits&) = delete;  // the callback points at this one
  ChunkLimits& operator=(const ChunkLimits&) = delete;

  std::size_t extensionBytes = 0;
  std::size_t chunks = 0;
  const char* exceeded = nullptr;
  // For request_parser::on_chunk_header, which keeps a reference to it.
  std::function<void(std::uint64_t, boost::beast::string_view, boost::system::error_code&)>
      callback = [this](std::uint64_t size, boost::beast::string_view extensions,
                        boost::system::error_code& ec) {
        extensionBytes += extensions.size();
        chunks += size > 0;  // the last chunk (size 0) ends the body: not counted
        if (extensionBytes > kMaxExtensionBytes) {
          exceeded = "chunk extensions over 1 KiB";
        } else if (chunks > kMaxChunks) {
          exceeded = "more than 16384 chunks";
        }
        if (exceeded) ec = boost::beast::http::error::bad_chunk_extension;
      };
};

}  // namespace effectd::http
