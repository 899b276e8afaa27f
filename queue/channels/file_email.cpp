#include "queue/channels/file_email.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "queue/email_message.hpp"

namespace effectd::queue {

FileEmailChannel::FileEmailChannel(std::string directory, std::string defaultFrom)
    : directory_(std::move(directory)), defaultFrom_(std::move(defaultFrom)) {}

DeliveryResult FileEmailChannel::deliver(const ClaimedEffect& effect) {
  auto composed = composeEmail(effect.payload, defaultFrom_);
  if (!composed.ok()) return DeliveryResult::dead(composed.error);
  const auto messageId = messageIdFor(effect.key);
  std::error_code ec;
  std::filesystem::create_directories(directory_, ec);
  // Written whole, then renamed: a reader never sees half a message.
  const auto path = std::filesystem::path(directory_) / (effect.id + ".eml");
  const auto partial = path.string() + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << toMime(composed.message, messageId);
    if (!out.flush()) return DeliveryResult::retry("cannot write " + partial);
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    return DeliveryResult::retry("cannot rename " + partial + ": " + std::strerror(errno));
  }
  return DeliveryResult::sent(messageId);
}

}  // namespace effectd::queue
