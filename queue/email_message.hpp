// An email effect's payload made into a message: either subject + text/html,
// or a template name + data rendered from templates/. Shared by every email
// channel; MIME for the ones that speak it (file, SMTP).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace effectd::queue {

struct EmailMessage {
  std::string from;
  std::vector<std::string> to;
  std::string replyTo;
  std::string subject;
  std::string text;
  std::string html;
};

struct ComposeResult {
  EmailMessage message;
  std::string error;  // a payload that can never be sent: the effect goes dead
  bool ok() const { return error.empty(); }
};

ComposeResult composeEmail(const std::string& payloadJson, const std::string& defaultFrom);

// The address inside "Name <a@x>", or the whole text: what goes into an SMTP
// envelope (composeEmail has checked it).
std::string_view envelopeAddress(std::string_view mailbox);

// RFC 5322 / MIME text with a Message-ID derived from the effect's key, so a
// resend (after an unknown outcome) can be recognised as the same message.
std::string messageIdFor(const std::string& key);
std::string toMime(const EmailMessage& message, const std::string& messageId);

}  // namespace effectd::queue
