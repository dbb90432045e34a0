// notices: finding a success or delay request in a recipient's ESMTP arguments.
#include "notices.hpp"

namespace relaymilter {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char c = a[i];
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        if (c != b[i]) return false;
    }
    return true;
}

bool is_notify(std::string_view arg) { return arg.size() >= 7 && iequals(arg.substr(0, 7), "NOTIFY="); }

}  // namespace

std::string_view success_or_delay_notify(std::span<const std::string_view> esmtp_args) {
    for (std::string_view arg : esmtp_args) {
        if (!is_notify(arg)) continue;
        const std::string_view value = arg.substr(7);
        for (std::string_view rest = value; !rest.empty();) {
            const size_t comma = rest.find(',');
            const std::string_view keyword = rest.substr(0, comma);
            if (iequals(keyword, "SUCCESS") || iequals(keyword, "DELAY")) return value;
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    return {};
}

std::string failure_notices_only(std::span<const std::string_view> esmtp_args) {
    std::string out;
    for (std::string_view arg : esmtp_args) {
        if (!out.empty()) out += ' ';
        out += is_notify(arg) ? std::string_view("NOTIFY=FAILURE") : arg;
    }
    return out;
}

}  // namespace relaymilter
