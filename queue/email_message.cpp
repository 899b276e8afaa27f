#include "queue/email_message.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

#include "queue/templates.hpp"
#include "sql/ids.hpp"

namespace effectd::queue {
namespace {

using nlohmann::json;

// Header values must not carry line breaks (header injection).
std::string headerSafe(std::string value) {
  for (auto& c : value) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return value;
}

// RFC 2047 encoded-word when the subject is not plain ASCII.
std::string encodeSubject(const std::string& subject) {
  bool ascii = true;
  for (unsigned char c : subject) ascii = ascii && c < 0x80;
  if (ascii) return headerSafe(subject);
  static constexpr char table[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  std::size_t i = 0;
  const auto& s = subject;
  for (; i + 2 < s.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(s[i]) << 16) |
                       (static_cast<unsigned char>(s[i + 1]) << 8) |
                       static_cast<unsigned char>(s[i + 2]);
    b64 += {table[n >> 18], table[(n >> 12) & 63], table[(n >> 6) & 63], table[n & 63]};
  }
  if (i + 1 == s.size()) {
    const unsigned n = static_cast<unsigned char>(s[i]) << 16;
    b64 += {table[n >> 18], table[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == s.size()) {
    const unsigned n =
        (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8);
    b64 += {table[n >> 18], table[(n >> 12) & 63], table[(n >> 6) & 63], '='};
  }
  return "=?UTF-8?B?" + b64 + "?=";
}

std::string crlf(const std::string& body) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r')) out += '\r';
    out += body[i];
  }
  return out;
}

}  // namespace

ComposeResult composeEmail(const std::string& payloadJson, const std::string& defaultFrom) {
  ComposeResult out;
  const auto p = json::parse(payloadJson, nullptr, false);
  if (!p.is_object()) return {{}, "email payload is not a JSON object"};
  auto& m = out.message;
  if (const auto to = p.find("to"); to != p.end() && to->is_string()) {
    m.to.push_back(to->get<std::string>());
  } else if (to != p.end() && to->is_array()) {
    for (const auto& r : *to) {
      if (r.is_string()) m.to.push_back(r.get<std::string>());
    }
  }
  if (m.to.empty()) return {{}, "email payload has no recipient in 'to'"};
  for (const auto& r : m.to) {
    if (r.find('@') == std::string::npos || r.find_first_of("\r\n<>,") != std::string::npos) {
      return {{}, "invalid recipient address in 'to'"};
    }
  }
  m.from = p.value("from", defaultFrom);
  if (m.from.empty()) return {{}, "email has no 'from' and EMAIL_FROM is not set"};
  m.replyTo = p.value("replyTo", "");
  if (const auto t = p.find("template"); t != p.end() && t->is_string()) {
    auto rendered = renderTemplate(t->get<std::string>(), p.value("data", json::object()));
    if (!rendered.email) return {{}, rendered.error};
    m.subject = rendered.email->subject;
    m.text = rendered.email->text;
    m.html = rendered.email->html;
  }
  if (p.contains("subject")) m.subject = p.value("subject", "");
  if (p.contains("text")) m.text = p.value("text", "");
  if (p.contains("html")) m.html = p.value("html", "");
  if (m.subject.empty()) return {{}, "email has no subject (give 'subject' or 'template')"};
  if (m.text.empty() && m.html.empty()) return {{}, "email has no 'text' or 'html' body"};
  return out;
}

std::string messageIdFor(const std::string& key) {
  return "<" + sql::sha256Hex(key).substr(0, 32) + "@effectd>";
}

std::string toMime(const EmailMessage& m, const std::string& messageId) {
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  std::string to;
  for (const auto& r : m.to) to += (to.empty() ? "" : ", ") + headerSafe(r);
  std::string out = "From: " + headerSafe(m.from) + "\r\nTo: " + to + "\r\n";
  if (!m.replyTo.empty()) out += "Reply-To: " + headerSafe(m.replyTo) + "\r\n";
  out += "Subject: " + encodeSubject(m.subject) + "\r\nDate: " + date +
         "\r\nMessage-ID: " + messageId + "\r\nMIME-Version: 1.0\r\n";
  const auto boundary = "effectd-" + messageId.substr(1, 16);
  if (!m.text.empty() && !m.html.empty()) {
    out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
    out += "--" + boundary +
           "\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n" +
           crlf(m.text) + "\r\n";
    out += "--" + boundary +
           "\r\nContent-Type: text/html; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n" +
           crlf(m.html) + "\r\n";
    out += "--" + boundary + "--\r\n";
  } else {
    out += std::string("Content-Type: text/") + (m.html.empty() ? "plain" : "html") +
           "; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
           crlf(m.html.empty() ? m.text : m.html);
  }
  return out;
}

}  // namespace effectd::queue
