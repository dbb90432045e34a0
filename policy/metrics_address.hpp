// metrics_address: the conf value `metrics = inet:PORT@ADDR` (or inet6:PORT@[ADDR]), where the
// Prometheus endpoint listens, parsed and checked. A literal address only, never a host name.
// Plain values; serving the endpoint is milter/metrics (prometheus-cpp), not this.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ip_address.hpp"

namespace relaymilter {

struct MetricsAddress {
    IpAddress address;  // IPv4 for inet, IPv6 (never a mapped IPv4) for inet6
    uint16_t port = 0;  // 0 only when built in code: the kernel picks a free port (tests)
    [[nodiscard]] bool is_v6() const { return !address.is_v4(); }
    // As the conf writes it: "inet:9757@127.0.0.1", "inet6:9757@[::1]".
    [[nodiscard]] std::string to_string() const;
    // As an HTTP URL's authority: "127.0.0.1:9757", "[::1]:9757".
    [[nodiscard]] std::string host_port() const;
    friend bool operator==(const MetricsAddress&, const MetricsAddress&) = default;
};

// "inet:PORT@ADDR" or "inet6:PORT@[ADDR]" (brackets optional), or why not (phrased for
// "KEY: 'TEXT': why"). The port is 1 to 65535; 0.0.0.0 and [::] (every interface) must be written out.
[[nodiscard]] std::optional<MetricsAddress> parse_metrics_address(std::string_view text, std::string& why);

}  // namespace relaymilter
