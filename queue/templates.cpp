#include "queue/templates.hpp"

#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>
#include <vector>

namespace effectd::embedded {
// templates/*.mustache, compiled in by cmake/embed_files.cmake.
const std::vector<std::pair<std::string_view, std::string_view>>& templateFiles();
}  // namespace effectd::embedded

namespace effectd::queue {

const std::map<std::string, std::string>& embeddedTemplates() {
  static const auto templates = [] {
    std::map<std::string, std::string> out;
    for (const auto& [name, text] : embedded::templateFiles()) out.emplace(name, text);
    return out;
  }();
  return templates;
}

namespace {

namespace mstch = kainjow::mustache;

mstch::data toData(const nlohmann::json& value) {
  if (value.is_object()) {
    mstch::data out{mstch::data::type::object};
    for (const auto& [k, v] : value.items()) {
      if (!v.is_null()) out.set(k, toData(v));
    }
    return out;
  }
  if (value.is_array()) {
    mstch::data out{mstch::data::type::list};
    for (const auto& v : value) out.push_back(toData(v));
    return out;
  }
  if (value.is_boolean()) return mstch::data(value.get<bool>());
  if (value.is_string()) return mstch::data(value.get<std::string>());
  if (value.is_null()) return mstch::data(false);
  return mstch::data(value.dump());
}

}  // namespace

RenderResult renderTemplate(const std::string& name, const nlohmann::json& data) {
  const auto& all = embeddedTemplates();
  const auto subject = all.find(name + ".subject");
  const auto text = all.find(name + ".text");
  const auto html = all.find(name + ".html");
  if (subject == all.end() || (text == all.end() && html == all.end())) {
    return {std::nullopt, "no email template named '" + name + "'"};
  }
  const auto context = toData(data.is_object() ? data : nlohmann::json::object());
  RenderedEmail email;
  // HTML parts escape every {{value}}; subject and plain text must not, or
  // "A & B" would reach the reader as "A &amp; B".
  auto render = [&](const std::string& source, std::string& out, bool htmlEscape) -> std::string {
    mstch::mustache tmpl{source};
    if (!tmpl.is_valid()) return tmpl.error_message();
    if (!htmlEscape) tmpl.set_custom_escape([](const std::string& s) { return s; });
    out = tmpl.render(context);
    return {};
  };
  if (auto e = render(subject->second, email.subject, false); !e.empty()) {
    return {std::nullopt, e};
  }
  while (!email.subject.empty() && (email.subject.back() == '\n' || email.subject.back() == ' ')) {
    email.subject.pop_back();
  }
  if (text != all.end()) {
    if (auto e = render(text->second, email.text, false); !e.empty()) return {std::nullopt, e};
  }
  if (html != all.end()) {
    if (auto e = render(html->second, email.html, true); !e.empty()) return {std::nullopt, e};
  }
  return {email, {}};
}

}  // namespace effectd::queue
