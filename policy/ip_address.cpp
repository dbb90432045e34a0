// ip_address: parsing and printing of IPv4/IPv6 addresses through inet_pton/inet_ntop,
// which are strict (no octal, no short IPv4 forms).
#include "ip_address.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace relaymilter {

namespace {

bool iequals_prefix(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != prefix[i]) return false;
    }
    return true;
}

}  // namespace

IpAddress IpAddress::from_v6_bytes(const unsigned char bytes[16]) {
    uint128 bits = 0;
    for (int i = 0; i < 16; ++i) bits = (bits << 8) | bytes[i];
    return IpAddress(bits);
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    std::array<char, INET6_ADDRSTRLEN + 1> buf{};
    if (text.empty() || text.size() >= buf.size()) return std::nullopt;
    if (text.find('\0') != std::string_view::npos) return std::nullopt;
    std::memcpy(buf.data(), text.data(), text.size());
    if (text.find(':') == std::string_view::npos) {
        in_addr v4{};
        if (inet_pton(AF_INET, buf.data(), &v4) != 1) return std::nullopt;
        return from_v4(ntohl(v4.s_addr));
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, buf.data(), &v6) != 1) return std::nullopt;
    return from_v6_bytes(v6.s6_addr);
}

std::optional<IpAddress> IpAddress::parse_tagged(std::string_view text) {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
        text = text.substr(1, text.size() - 2);
    }
    if (iequals_prefix(text, "ipv6:")) {
        text.remove_prefix(5);
        if (text.find(':') == std::string_view::npos) return std::nullopt;  // "IPv6:1.2.3.4"
    }
    return parse(text);
}

std::string IpAddress::to_string() const {
    std::array<char, INET6_ADDRSTRLEN> buf{};
    if (is_v4()) {
        in_addr v4{};
        v4.s_addr = htonl(this->v4());
        inet_ntop(AF_INET, &v4, buf.data(), buf.size());
    } else {
        in6_addr v6{};
        uint128 bits = bits_;
        for (int i = 15; i >= 0; --i) {
            v6.s6_addr[i] = static_cast<unsigned char>(bits & 0xff);
            bits >>= 8;
        }
        inet_ntop(AF_INET6, &v6, buf.data(), buf.size());
    }
    return buf.data();
}

}  // namespace relaymilter
