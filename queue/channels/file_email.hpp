// EMAIL_PROVIDER=file, the development default: each email becomes
// <EMAIL_FILE_DIR>/<effect id>.eml. Writing the same effect again replaces
// the same file, so it is idempotent.
#pragma once

#include <string>

#include "queue/effect.hpp"

namespace effectd::queue {

class FileEmailChannel : public Channel {
 public:
  FileEmailChannel(std::string directory, std::string defaultFrom);
  DeliveryResult deliver(const ClaimedEffect& effect) override;
  bool idempotent() const override { return true; }
  std::string_view name() const override { return "file"; }

 private:
  std::string directory_;
  std::string defaultFrom_;
};

}  // namespace effectd::queue
