// The SMTP reply line parser. Invariants: an accepted line has a code in
// 200-599 and its text is a part of the line.
#include "queue/channels/smtp_reply.hpp"
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto line = asText(data, size);
  const auto parsed = effectd::queue::parseSmtpReplyLine(line);
  if (!parsed) return 0;
  FUZZ_CHECK(parsed->code >= 200 && parsed->code <= 599);
  FUZZ_CHECK(parsed->text.empty() ||
             (parsed->text.data() >= line.data() &&
              parsed->text.data() + parsed->text.size() <= line.data() + line.size()));
  return 0;
}
