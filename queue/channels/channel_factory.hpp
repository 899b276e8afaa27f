// The channels the configuration names (EMAIL_PROVIDER, ANALYTICS_PROVIDER).
#pragma once

#include <memory>

#include "config/config.hpp"
#include "queue/drainer.hpp"

namespace effectd::queue {

std::shared_ptr<Channels> makeChannels(const config::Config& config);

}  // namespace effectd::queue
