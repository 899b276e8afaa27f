// One line of an SMTP reply (RFC 5321 §4.2): a three-digit code, then '-'
// when more lines follow or a space (or nothing) on the last, then text.
#pragma once

#include <optional>
#include <string_view>

namespace effectd::queue {

struct SmtpReplyLine {
  int code = 0;           // 200-599
  bool more = false;      // a '-' after the code: the reply goes on
  std::string_view text;  // without the code, the separator and the CRLF
};

// nullopt for a line that is not a reply line (no three-digit code in
// 200-599, another separator), which ends the conversation.
std::optional<SmtpReplyLine> parseSmtpReplyLine(std::string_view line);

}  // namespace effectd::queue
