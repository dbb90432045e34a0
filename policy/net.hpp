// net: one NET rule value as an admin writes it: "192.168.1.0;255.255.255.0" (Exchange's
// Net[;mask]), "192.168.1.0/24", "2001:db8::/32", or a bare address.
// Held as address and mask in the 128-bit space of ip_address (IPv4 as mapped IPv6).
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "ip_address.hpp"

namespace relaymilter {

class Net {
public:
    // A parsed net, or the reason the text is not one (phrased for "KEY: TEXT: reason").
    [[nodiscard]] static std::variant<Net, std::string> parse(std::string_view text);

    [[nodiscard]] bool contains(const IpAddress& a) const { return (a.bits() & mask_) == network_; }
    // Contiguous masks are prefixes and can be indexed; Exchange also allows masks like 255.0.255.0.
    [[nodiscard]] bool is_prefix() const;
    [[nodiscard]] uint128 first() const { return network_; }
    [[nodiscard]] uint128 last() const { return network_ | ~mask_; }
    [[nodiscard]] uint128 network() const { return network_; }
    [[nodiscard]] uint128 mask() const { return mask_; }
    // Every IPv4 address, or every IPv6 address: such an allow rule makes an open relay.
    [[nodiscard]] bool covers_all_v4() const;
    [[nodiscard]] bool covers_all_v6() const { return mask_ == 0; }
    // As an admin would write it: "192.0.2.0/24", "10.0.5.0;255.0.255.0", "2001:db8::/32".
    [[nodiscard]] std::string to_string() const;

private:
    Net(uint128 network, uint128 mask) : network_(network), mask_(mask) {}
    uint128 network_ = 0;
    uint128 mask_ = 0;
};

}  // namespace relaymilter
