// metrics_address: parsing `metrics = inet:PORT@ADDR`; every refusal says what to write instead.
#include "metrics_address.hpp"

#include <charconv>

namespace relaymilter {

namespace {

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

}  // namespace

std::string MetricsAddress::to_string() const {
    return is_v6() ? "inet6:" + std::to_string(port) + "@[" + address.to_string() + "]"
                   : "inet:" + std::to_string(port) + "@" + address.to_string();
}

std::string MetricsAddress::host_port() const {
    return is_v6() ? "[" + address.to_string() + "]:" + std::to_string(port)
                   : address.to_string() + ":" + std::to_string(port);
}

std::optional<MetricsAddress> parse_metrics_address(std::string_view text, std::string& why) {
    const auto colon = text.find(':');
    const std::string_view family = text.substr(0, colon);
    if (colon == std::string_view::npos || (family != "inet" && family != "inet6")) {
        why = "not an HTTP listening address: write inet:PORT@ADDR, e.g. inet:9757@127.0.0.1, or inet6:PORT@[ADDR]";
        return std::nullopt;
    }
    const bool v6 = family == "inet6";
    const std::string_view rest = text.substr(colon + 1);
    const auto at = rest.find('@');
    const std::string_view port_text = rest.substr(0, at);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (!all_digits(port_text) || ec != std::errc() || port == 0 || port > 65535) {
        why = "'" + std::string(port_text) + "' is not a port from 1 to 65535";
        return std::nullopt;
    }
    const std::string prefix = std::string(family) + ":" + std::string(port_text) + "@";  // "inet:9757@"
    const std::string this_host = prefix + (v6 ? "[::1]" : "127.0.0.1");
    if (at == std::string_view::npos || at + 1 == rest.size()) {
        why = "no address after the port: write " + this_host + " (this host only) or " + prefix +
              (v6 ? "[::]" : "0.0.0.0") + " (every interface)";
        return std::nullopt;
    }
    std::string_view host = rest.substr(at + 1);
    const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) host = host.substr(1, host.size() - 2);
    const auto address = IpAddress::parse(host);
    if (!address) {
        why = "'" + std::string(host) + "' is not an " + (v6 ? "IPv6" : "IPv4") +
              " address (host names are not looked up): write " + this_host;
        return std::nullopt;
    }
    if (!v6 && bracketed && address->is_v4()) {
        why = "an IPv4 address takes no brackets: write " + prefix + std::string(host);
        return std::nullopt;
    }
    if (!v6 && !address->is_v4()) {
        why = "inet takes an IPv4 address; for an IPv6 address write inet6:" + std::string(port_text) + "@[" +
              std::string(host) + "]";
        return std::nullopt;
    }
    if (v6 && address->is_v4()) {
        why = "inet6 takes an IPv6 address; for " + address->to_string() + " write inet:" + std::string(port_text) +
              "@" + address->to_string();
        return std::nullopt;
    }
    return MetricsAddress{*address, static_cast<uint16_t>(port)};
}

}  // namespace relaymilter
