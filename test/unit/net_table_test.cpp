// Tests for policy/net_table: the indexed matcher against a plain linear scan, plus edges.
#include <catch2/catch.hpp>

#include <random>

#include "net_table.hpp"

using namespace relaymilter;

namespace {

Net net(const char* text) {
    auto parsed = Net::parse(text);
    REQUIRE(std::holds_alternative<Net>(parsed));
    return std::get<Net>(parsed);
}

IpAddress ip(const char* text) {
    auto a = IpAddress::parse(text);
    REQUIRE(a);
    return *a;
}

RuleTags linear(const std::vector<TaggedNet>& rules, const IpAddress& a) {
    RuleTags tags = 0;
    for (const TaggedNet& r : rules) {
        if (r.net.contains(a)) tags = static_cast<RuleTags>(tags | r.tags);
    }
    return tags;
}

// A random net: IPv4 prefix, IPv6 prefix, or (rarely) an Exchange non-contiguous mask.
Net random_net(std::mt19937_64& rng) {
    const uint64_t pick = rng() % 16;
    if (pick < 7) {
        unsigned length = static_cast<unsigned>(rng() % 33);
        uint32_t bits = static_cast<uint32_t>(rng());
        if (rng() % 2) bits &= 0xff00ffffu;  // crowd the space so rules overlap
        uint32_t mask = length == 0 ? 0 : ~uint32_t{0} << (32 - length);
        std::string text = IpAddress::from_v4(bits & mask).to_string() + "/" + std::to_string(length);
        return net(text.c_str());
    }
    if (pick < 15) {
        unsigned length = static_cast<unsigned>(rng() % 129);
        uint128 bits = (static_cast<uint128>(0x20010db8u) << 96) | (static_cast<uint128>(rng()) << 32) | rng() % 4;
        if (rng() % 4 == 0) bits = (static_cast<uint128>(rng()) << 64) | rng();
        uint128 mask = length == 0 ? 0 : ~static_cast<uint128>(0) << (128 - length);
        std::string text = IpAddress::from_bits(bits & mask).to_string();
        if (IpAddress::from_bits(bits & mask).is_v4()) text = "::ffff:" + text;
        text += "/" + std::to_string(length);
        return net(text.c_str());
    }
    uint32_t mask = static_cast<uint32_t>(rng()) | 0x80000000u;
    uint32_t bits = static_cast<uint32_t>(rng()) & mask;
    std::string text = IpAddress::from_v4(bits).to_string() + ";" + IpAddress::from_v4(mask).to_string();
    return net(text.c_str());
}

IpAddress random_address(std::mt19937_64& rng, const std::vector<TaggedNet>& rules) {
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

}  // namespace

TEST_CASE("NetTable gives the union of the tags of every covering rule", "[net_table]") {
    std::vector<TaggedNet> rules = {
        {net("10.0.0.0/8"), 1},        {net("10.1.0.0/16"), 2},     {net("192.168.1.0;255.255.255.0"), 2},
        {net("10.0.5.0;255.0.255.0"), 4}, {net("2001:db8::/32"), 2}, {net("2001:db8:1::/48"), 1},
        {net("255.255.255.255"), 4},   {net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 4},
        {net("0.0.0.0"), 1},
    };
    NetTable table(rules);
    struct Row {
        const char* label;
        const char* address;
        RuleTags want;
    };
    const Row rows[] = {
        {"only the /8", "10.2.0.1", 1},
        {"nested /16 adds its tag", "10.1.2.3", 3},
        {"non-contiguous mask on top of the /8", "10.9.5.1", 5},
        {"Exchange-form rule", "192.168.1.200", 2},
        {"nothing", "172.16.0.1", 0},
        {"IPv6 /32", "2001:db8:2::1", 2},
        {"IPv6 nested /48", "2001:db8:1::1", 3},
        {"IPv6 outside", "2001:db9::1", 0},
        {"top of IPv4", "255.255.255.255", 4},
        {"top of IPv6", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 4},
        {"bottom of IPv4", "0.0.0.0", 1},
        {"bottom of IPv6", "::", 0},
        {"mapped client, IPv4 rule", "::ffff:10.1.0.1", 3},
    };
    for (const Row& row : rows) {
        RuleTags got = table.lookup(ip(row.address));
        INFO(row.label << ": " << row.address << ": got " << int(got) << ", want " << int(row.want));
        CHECK(got == row.want);
    }
}

TEST_CASE("NetTable: empty table, whole-space rules, and coverage by several rules", "[net_table]") {
    NetTable empty;
    CHECK(empty.lookup(ip("192.0.2.1")) == 0);
    CHECK(empty.lookup(ip("2001:db8::1")) == 0);
    CHECK_FALSE(empty.covers_all_v4(2));

    std::vector<TaggedNet> halves = {{net("0.0.0.0/1"), 2}, {net("128.0.0.0/1"), 2}, {net("10.0.0.0/8"), 1}};
    NetTable split(halves);
    CHECK(split.covers_all_v4(2));
    CHECK_FALSE(split.covers_all_v4(1));
    CHECK_FALSE(split.covers_all_v6(2));

    std::vector<TaggedNet> v6_all = {{net("::/0"), 2}};
    NetTable all6(v6_all);
    CHECK(all6.covers_all_v6(2));
    CHECK(all6.covers_all_v4(2));  // ::/0 holds the mapped IPv4 space too
    CHECK(all6.lookup(ip("192.0.2.1")) == 2);
}

TEST_CASE("NetTable agrees with a linear scan on random rule sets", "[net_table][property]") {
    std::mt19937_64 rng(20261123);
    size_t pairs = 0;
    for (int round = 0; round < 1000; ++round) {
        std::vector<TaggedNet> rules;
        const size_t count = rng() % 2 ? rng() % 8 : rng() % 400;
        for (size_t i = 0; i < count; ++i) rules.push_back({random_net(rng), static_cast<RuleTags>(1u << (rng() % 3))});
        NetTable table(rules);
        for (int q = 0; q < 1000; ++q) {
            IpAddress a = random_address(rng, rules);
            RuleTags got = table.lookup(a);
            RuleTags want = linear(rules, a);
            if (got != want) {
                FAIL("round " << round << ", " << rules.size() << " rules, address " << a.to_string() << ": got "
                              << int(got) << ", want " << int(want));
            }
            ++pairs;
        }
    }
    CHECK(pairs == 1000000);
}
