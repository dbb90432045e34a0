// Tests for policy/net_table: the indexed matcher against a plain linear scan, plus edges.
#include <catch2/catch.hpp>

#include <random>

#include "net_table.hpp"
#include "random_nets.hpp"

using namespace relaymilter;
using relaymilter::testing::random_address;
using relaymilter::testing::random_net;

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

uint32_t linear_first(const std::vector<TaggedNet>& rules, const IpAddress& a) {
    for (size_t i = 0; i < rules.size(); ++i) {
        if (rules[i].net.contains(a)) return static_cast<uint32_t>(i);
    }
    return kNoRule;
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

TEST_CASE("NetTable names the first rule that covers an address", "[net_table]") {
    std::vector<TaggedNet> rules = {
        {net("10.1.0.0/16"), 1}, {net("10.0.0.0/8"), 2},           {net("10.0.5.0;255.0.255.0"), 2},
        {net("2001:db8::/32"), 2}, {net("2001:db8:1::/48"), 1},   {net("10.9.5.7"), 4},
    };
    NetTable table(rules);
    struct Row {
        const char* address;
        uint32_t first;
    };
    const Row rows[] = {
        {"10.1.2.3", 0},        // the /16 comes before the /8 that also covers it
        {"10.2.0.1", 1},        // only the /8
        {"10.9.5.7", 1},        // the /8 before the irregular mask and the single address
        {"2001:db8:1::1", 3},   // the /32 is listed before the nested /48
        {"172.16.0.1", kNoRule},
    };
    for (const Row& row : rows) {
        INFO(row.address);
        CHECK(table.match(ip(row.address)).first == row.first);
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
            const NetMatch got = table.match(a);
            const RuleTags want = linear(rules, a);
            const uint32_t want_first = linear_first(rules, a);
            if (got.tags != want || got.first != want_first) {
                FAIL("round " << round << ", " << rules.size() << " rules, address " << a.to_string() << ": got "
                              << int(got.tags) << " first " << got.first << ", want " << int(want) << " first "
                              << want_first);
            }
            ++pairs;
        }
    }
    CHECK(pairs == 1000000);
}
