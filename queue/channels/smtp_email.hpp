// EMAIL_PROVIDER=smtp: SMTP submission with STARTTLS (required unless
// ?starttls=off) or implicit TLS (smtps://), AUTH PLAIN or LOGIN, and a
// Message-ID derived from the effect's key. SMTP cannot deduplicate: once
// the message's final dot has left, an unanswered attempt is `unknown`.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "queue/delivery_abort.hpp"
#include "queue/effect.hpp"

namespace effectd::queue {

struct SmtpSettings {
  std::string host;
  std::uint16_t port = 587;
  bool implicitTls = false;
  bool startTls = true;
  std::string user;
  std::string password;
  std::string caFile;
  std::chrono::seconds timeout{30};
  // smtp://user:pass@host:587[?starttls=off] or smtps://user:pass@host:465
  static std::optional<SmtpSettings> parse(const std::string& url);
};

class SmtpEmailChannel : public Channel {
 public:
  SmtpEmailChannel(SmtpSettings settings, std::string defaultFrom,
                   std::shared_ptr<DeliveryAbort> abort = nullptr);
  ~SmtpEmailChannel() override;
  DeliveryResult deliver(const ClaimedEffect& effect) override;
  bool idempotent() const override { return false; }
  std::string_view name() const override { return "smtp"; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace effectd::queue
