// An email effect's payload made into a message and into MIME. Invariants:
// no header line of the MIME text that a payload could add (CR/LF in a
// subject or an address never starts a header of its own).
#include <string>

#include "queue/email_message.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace effectd::queue;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string payload(asText(data, size));
  const auto composed = composeEmail(payload, "SyntaxKit <no-reply@example.com>");
  if (!composed.ok()) return 0;
  const auto mime = toMime(composed.message, messageIdFor("email:fuzz"));
  const auto headerEnd = mime.find("\r\n\r\n");
  FUZZ_CHECK(headerEnd != std::string::npos);
  // Every header line: a known name, or a folded continuation.
  std::string_view headers(mime.data(), headerEnd + 2);
  while (!headers.empty()) {
    const auto end = headers.find("\r\n");
    FUZZ_CHECK(end != std::string_view::npos);
    const auto line = headers.substr(0, end);
    headers.remove_prefix(end + 2);
    if (line.starts_with(" ") || line.starts_with("\t")) continue;
    const auto colon = line.find(':');
    FUZZ_CHECK(colon != std::string_view::npos);
    static constexpr std::string_view known[] = {
        "From",         "To",           "Reply-To",
        "Subject",      "Date",         "Message-ID",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding"};
    bool ok = false;
    for (auto name : known) ok = ok || line.substr(0, colon) == name;
    FUZZ_CHECK(ok);
  }
  (void)envelopeAddress(composed.message.from);
  return 0;
}
