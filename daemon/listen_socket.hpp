// Opens, binds and listens an acceptor on host:port, for the public and the
// admin listener alike. Throws std::system_error when the address is taken.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "config/config.hpp"

namespace effectd::daemon {

inline void listenOn(boost::asio::ip::tcp::acceptor& acceptor, const config::ListenAddress& address,
                     int backlog) {
  const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address(address.host),
                                                address.port);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(boost::asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(backlog);
}

}  // namespace effectd::daemon
