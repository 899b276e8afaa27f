#include "queue/channels/channel_factory.hpp"

#include "queue/channels/file_email.hpp"
#include "queue/channels/log_analytics.hpp"

namespace effectd::queue {

std::shared_ptr<Channels> makeChannels(const config::Config& config) {
  auto channels = std::make_shared<Channels>();
  // config::load refuses providers this build does not implement yet.
  if (config.emailProvider == "file") {
    channels->email = std::make_unique<FileEmailChannel>(config.emailFileDir, config.emailFrom);
  }
  if (config.analyticsProvider == "log") {
    channels->analytics = std::make_unique<LogAnalyticsChannel>();
  }
  // Outgoing webhooks have no channel yet: they stay pending, unclaimed.
  return channels;
}

}  // namespace effectd::queue
