// recipient: a conservative scan of the recipient address. Anything it cannot read for sure
// (control bytes, unbalanced quotes or brackets, odd characters) counts as routing, so the
// worst a strange address can get is the treatment of a relay attempt.
#include "recipient.hpp"

#include "ip_address.hpp"

namespace relaymilter {

namespace {

bool is_label_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c >= 0x80;
}

// Characters that may not appear unquoted in a local part (RFC 5322 specials, space).
bool is_unquoted_special(char c) {
    switch (c) {
    case ' ': case '(': case ')': case ',': case ':': case ';':
    case '<': case '>': case '[': case ']':
        return true;
    default:
        return false;
    }
}

}  // namespace

std::optional<std::string> address_literal(std::string_view text, std::string& why) {
    if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
        why = "an address literal is written in brackets, e.g. [192.0.2.25] or [IPv6:2001:db8::25]";
        return std::nullopt;
    }
    std::string_view inside = text.substr(1, text.size() - 2);
    const bool tagged = inside.size() >= 5 && (inside[0] | 0x20) == 'i' && (inside[1] | 0x20) == 'p' &&
                        (inside[2] | 0x20) == 'v' && inside[3] == '6' && inside[4] == ':';
    if (tagged) inside.remove_prefix(5);
    const bool written_v6 = inside.find(':') != std::string_view::npos;
    if (written_v6 && !tagged) {
        why = "an IPv6 address literal needs the IPv6: tag (RFC 5321), e.g. [IPv6:" + std::string(inside) + "]";
        return std::nullopt;
    }
    auto address = IpAddress::parse(inside);
    if (!address || written_v6 != tagged) {
        why = tagged ? "not an IPv6 address after the IPv6: tag" : "not an IPv4 address";
        return std::nullopt;
    }
    if (tagged && address->is_v4()) {
        why = "an IPv4-mapped IPv6 literal: the MTAs disagree on whether it is this host's address "
              "(Sendmail relays it), so it is never local; write [" + address->to_string() + "]";
        return std::nullopt;
    }
    return tagged ? "[ipv6:" + address->to_string() + "]" : "[" + address->to_string() + "]";
}

std::optional<std::string> canonical_domain(std::string_view text) {
    if (!text.empty() && text.back() == '.') text.remove_suffix(1);
    if (text.empty()) return std::nullopt;
    if (text.front() == '[') {
        std::string why;
        return address_literal(text, why);
    }
    if (text.size() > 253) return std::nullopt;
    std::string domain;
    domain.reserve(text.size());
    size_t label = 0;
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
        if (c == '.') {
            if (label == 0) return std::nullopt;
            label = 0;
        } else {
            if (!is_label_char(c) || ++label > 63) return std::nullopt;
        }
        domain.push_back(static_cast<char>(c));
    }
    if (label == 0) return std::nullopt;
    return domain;
}

Recipient parse_recipient(std::string_view text) {
    Recipient result;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            result.routing = "control character in the address";
            return result;
        }
    }
    const bool opens = !text.empty() && text.front() == '<';
    const bool closes = !text.empty() && text.back() == '>';
    if (opens != closes || (opens && text.size() < 2)) {
        result.routing = "unbalanced angle brackets";
        return result;
    }
    if (opens) text = text.substr(1, text.size() - 2);
    if (text.empty()) {
        result.routing = "empty address";
        return result;
    }
    if (text.front() == '@') {
        result.routing = "source route";
        return result;
    }

    // Find the last '@' outside quotes and escapes; note routing characters in the local part.
    bool in_quotes = false;
    bool escaped = false;
    size_t separator = std::string_view::npos;
    size_t unquoted_ats = 0;
    bool quoted_at = false;
    bool bad_local = false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (escaped) {
            escaped = false;
            if (c == '@') quoted_at = true;
            continue;
        }
        if (c == '\\') {
            escaped = true;
        } else if (c == '"') {
            in_quotes = !in_quotes;
        } else if (c == '@') {
            if (in_quotes) {
                quoted_at = true;
            } else {
                separator = i;
                ++unquoted_ats;
            }
        } else if (!in_quotes && separator == std::string_view::npos && is_unquoted_special(c)) {
            bad_local = true;
        }
    }
    if (in_quotes || escaped) {
        result.routing = "unbalanced quotes";
        return result;
    }
    std::string_view local = text.substr(0, separator);
    if (local.find('%') != std::string_view::npos) {
        result.routing = "'%' in the local part";
    } else if (local.find('!') != std::string_view::npos) {
        result.routing = "'!' in the local part";
    } else if (quoted_at || unquoted_ats > 1) {
        result.routing = "'@' in the local part";
    } else if (bad_local || local.empty()) {
        result.routing = "malformed local part";
    }
    if (separator != std::string_view::npos) {
        auto domain = canonical_domain(text.substr(separator + 1));
        if (domain) {
            result.domain = std::move(*domain);
        } else if (result.routing.empty()) {
            result.routing = "malformed domain";
        }
    }
    return result;
}

std::string bracketed(std::string_view address) {
    if (!address.empty() && address.front() == '<') return std::string(address);
    return "<" + std::string(address) + ">";
}

}  // namespace relaymilter
