// random_nets: random NET rules and addresses for the property tests: IPv4 and IPv6 prefixes
// crowded into small spaces so they overlap, Exchange non-contiguous masks now and then, and
// addresses near rule edges where off-by-one errors live.
#pragma once

#include <random>
#include <string>
#include <variant>
#include <vector>

#include "net_table.hpp"

namespace relaymilter::testing {

inline Net parse_net(const std::string& text) {
    auto parsed = Net::parse(text);
    if (!std::holds_alternative<Net>(parsed)) throw std::runtime_error("bad test net " + text);
    return std::get<Net>(parsed);
}

// A random net: IPv4 prefix, IPv6 prefix, or (rarely) an Exchange non-contiguous mask.
inline Net random_net(std::mt19937_64& rng) {
    const uint64_t pick = rng() % 16;
    if (pick < 7) {
        unsigned length = static_cast<unsigned>(rng() % 33);
        uint32_t bits = static_cast<uint32_t>(rng());
        if (rng() % 2) bits &= 0xff00ffffu;  // crowd the space so rules overlap
        uint32_t mask = length == 0 ? 0 : ~uint32_t{0} << (32 - length);
        std::string text = IpAddress::from_v4(bits & mask).to_string() + "/" + std::to_string(length);
        return parse_net(text);
    }
    if (pick < 15) {
        unsigned length = static_cast<unsigned>(rng() % 129);
        uint128 bits = (static_cast<uint128>(0x20010db8u) << 96) | (static_cast<uint128>(rng()) << 32) | rng() % 4;
        if (rng() % 4 == 0) bits = (static_cast<uint128>(rng()) << 64) | rng();
        uint128 mask = length == 0 ? 0 : ~static_cast<uint128>(0) << (128 - length);
        std::string text = IpAddress::from_bits(bits & mask).to_string();
        if (IpAddress::from_bits(bits & mask).is_v4()) text = "::ffff:" + text;
        text += "/" + std::to_string(length);
        return parse_net(text);
    }
    uint32_t mask = static_cast<uint32_t>(rng()) | 0x80000000u;
    uint32_t bits = static_cast<uint32_t>(rng()) & mask;
    std::string text = IpAddress::from_v4(bits).to_string() + ";" + IpAddress::from_v4(mask).to_string();
    return parse_net(text);
}

inline IpAddress random_address(std::mt19937_64& rng, const std::vector<TaggedNet>& rules) {
    if (!rules.empty() && rng() % 2) {  // near a rule edge, where off-by-ones live
        const Net& n = rules[rng() % rules.size()].net;
        uint128 base = rng() % 2 ? n.first() : n.last();
        switch (rng() % 3) {
        case 0: return IpAddress::from_bits(base);
        case 1: return IpAddress::from_bits(base + 1);
        default: return IpAddress::from_bits(base - 1);
        }
    }
    if (rng() % 2) return IpAddress::from_v4(static_cast<uint32_t>(rng()) & (rng() % 2 ? 0xff00ffffu : 0xffffffffu));
    return IpAddress::from_bits((static_cast<uint128>(0x20010db8u) << 96) | (static_cast<uint128>(rng()) << 32) | rng() % 8);
}

}  // namespace relaymilter::testing
