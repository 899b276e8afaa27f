// A plain TCP connection for tests that must misbehave in ways an HTTP
// library will not: partial bodies, giant headers, pipelining.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace effectd::testing {

class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends what it can; false once the peer has closed or reset.
  bool send(const std::string& data);
  // Reads until `until` appears, the peer closes, or the timeout passes.
  std::string readUntil(const std::string& until, std::chrono::milliseconds timeout);
  // True when the peer closed the connection within the timeout.
  bool closedByPeer(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

}  // namespace effectd::testing
