// ip_address: one value type for IPv4 and IPv6 client and listener addresses.
// IPv4 is held as IPv4-mapped IPv6 (::ffff:a.b.c.d), so a mapped client matches IPv4 rules.
// Not a socket wrapper: no name resolution, no ports, no zones.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relaymilter {

__extension__ typedef unsigned __int128 uint128;

// The IPv4-mapped range ::ffff:0:0/96 that holds every IPv4 address.
inline constexpr uint128 kV4MappedBase = static_cast<uint128>(0xffff) << 32;

class IpAddress {
public:
    IpAddress() = default;

    // "192.0.2.1", "2001:db8::1" or "::ffff:192.0.2.1"; nothing else (no brackets, zone or port).
    [[nodiscard]] static std::optional<IpAddress> parse(std::string_view text);
    // What MTAs and address literals write: the above, optionally in [brackets] and with an
    // "IPv6:" tag (Sendmail's {if_addr}, RFC 5321 literals).
    [[nodiscard]] static std::optional<IpAddress> parse_tagged(std::string_view text);
    [[nodiscard]] static IpAddress from_v4(uint32_t host_order) {
        return IpAddress(kV4MappedBase | host_order);
    }
    [[nodiscard]] static IpAddress from_v6_bytes(const unsigned char bytes[16]);
    [[nodiscard]] static IpAddress from_bits(uint128 bits) { return IpAddress(bits); }

    [[nodiscard]] bool is_v4() const { return (bits_ >> 32) == 0xffff; }
    [[nodiscard]] uint32_t v4() const { return static_cast<uint32_t>(bits_); }
    [[nodiscard]] uint128 bits() const { return bits_; }
    // 0.0.0.0 or :: : a wildcard listener, which says nothing about where the client connected.
    [[nodiscard]] bool is_unspecified() const { return bits_ == 0 || bits_ == kV4MappedBase; }
    // Dotted quad for IPv4 (mapped included), RFC 5952 text for IPv6.
    [[nodiscard]] std::string to_string() const;

    friend bool operator==(const IpAddress&, const IpAddress&) = default;

private:
    explicit IpAddress(uint128 bits) : bits_(bits) {}
    uint128 bits_ = 0;
};

}  // namespace relaymilter
