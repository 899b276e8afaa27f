// The admin listener's site (EFFECTD_ADMIN_LISTEN): /metrics, the JSON API
// and the live queue page. Nothing here reads the database on the event
// loop: every call runs on the admin worker's thread, so a scrape or a page
// never blocks the webhooks' I/O threads. Served by http::Listener, with
// connections few and bounded, apart from the public listener's.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

namespace effectd::http {
class Site;
}

namespace effectd::queue {
class ChannelPauses;
}

namespace effectd::daemon {

class AdminRoutes;
class AdminWorker;
class TransitionFeed;

// The admin listener's limits, beside the public one's settings.
constexpr int kAdminMaxConnections = 32;
constexpr std::size_t kAdminMaxBodyBytes = 64 * 1024;
constexpr std::size_t kAdminMaxHeaderBytes = 16 * 1024;
constexpr int kAdminBacklog = 64;

struct AdminSiteOptions {
  int maxStreams = 8;                     // open live pages
  std::chrono::seconds queueCacheFor{5};  // /metrics reads the queue's counts at most this often
  const queue::ChannelPauses* pauses = nullptr;  // effectd_channel_paused, when set
};

std::shared_ptr<http::Site> makeAdminSite(const AdminRoutes& routes, AdminWorker& worker,
                                          TransitionFeed& feed, const AdminSiteOptions& options);

}  // namespace effectd::daemon
