#include "queue/channels/smtp_reply.hpp"

namespace effectd::queue {

std::optional<SmtpReplyLine> parseSmtpReplyLine(std::string_view line) {
  if (line.ends_with("\r\n")) {
    line.remove_suffix(2);
  } else if (line.ends_with("\n")) {
    line.remove_suffix(1);
  }
  if (line.size() < 3) return std::nullopt;
  int code = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    if (line[i] < '0' || line[i] > '9') return std::nullopt;
    code = code * 10 + (line[i] - '0');
  }
  if (code < 200 || code > 599) return std::nullopt;
  if (line.size() == 3) return SmtpReplyLine{code, false, {}};
  if (line[3] != ' ' && line[3] != '-') return std::nullopt;
  return SmtpReplyLine{code, line[3] == '-', line.substr(4)};
}

}  // namespace effectd::queue
