// The admin page's live view (GET /admin/api/transitions): server-sent
// events, the latest transitions first, then each one as the feed hears
// of it, with a heartbeat that keeps proxies from closing an idle stream
// and finds a browser that went away. At most `maxStreams` open at once.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>

#include "http/site.hpp"

namespace effectd::daemon {

class AdminWorker;
class TransitionFeed;

class TransitionStreams {
 public:
  TransitionStreams(TransitionFeed& feed, AdminWorker& worker, int maxStreams)
      : feed_(feed), worker_(worker), maxStreams_(maxStreams) {}
  // Streams until the browser goes or the listener stops; the answer says
  // how it ended (200), or why it never started (503), for the log.
  boost::asio::awaitable<http::Site::Outcome> serve(http::Stream& stream);

 private:
  TransitionFeed& feed_;
  AdminWorker& worker_;
  const int maxStreams_;
  std::atomic<int> open_{0};
};

}  // namespace effectd::daemon
