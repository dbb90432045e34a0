// Tests for policy/net: every NET syntax, each of its errors, and matching.
#include <catch2/catch.hpp>

#include "net.hpp"

using namespace relaymilter;

namespace {
std::string error_of(const char* text) {
    auto parsed = Net::parse(text);
    auto* error = std::get_if<std::string>(&parsed);
    return error ? *error : std::string("(no error)");
}
Net net_of(const char* text) {
    auto parsed = Net::parse(text);
    INFO("parse(\"" << text << "\") gave error: " << (std::holds_alternative<std::string>(parsed) ? std::get<std::string>(parsed) : ""));
    REQUIRE(std::holds_alternative<Net>(parsed));
    return std::get<Net>(parsed);
}
bool matches(const char* net, const char* address) {
    auto a = IpAddress::parse(address);
    REQUIRE(a);
    return net_of(net).contains(*a);
}
}  // namespace

TEST_CASE("NET syntaxes match the addresses they should", "[net]") {
    struct Row {
        const char* label;
        const char* net;
        const char* address;
        bool want;
    };
    const Row rows[] = {
        {"Exchange net;mask inside", "192.168.1.0;255.255.255.0", "192.168.1.77", true},
        {"Exchange net;mask outside", "192.168.1.0;255.255.255.0", "192.168.2.1", false},
        {"Exchange form, mask 255.255.255.255", "192.168.1.5;255.255.255.255", "192.168.1.5", true},
        {"non-contiguous mask, formula match", "10.0.5.0;255.0.255.0", "10.77.5.9", true},
        {"non-contiguous mask, formula miss", "10.0.5.0;255.0.255.0", "10.77.6.9", false},
        {"CIDR IPv4 inside", "10.0.0.0/8", "10.255.0.1", true},
        {"CIDR IPv4 outside", "10.0.0.0/8", "11.0.0.1", false},
        {"CIDR /0 covers all IPv4", "0.0.0.0/0", "203.0.113.9", true},
        {"bare IPv4 is /32", "192.0.2.1", "192.0.2.1", true},
        {"bare IPv4 is not its neighbour", "192.0.2.1", "192.0.2.2", false},
        {"CIDR IPv6 inside", "2001:db8::/32", "2001:db8:ffff::1", true},
        {"CIDR IPv6 outside", "2001:db8::/32", "2001:db9::1", false},
        {"bare IPv6", "2001:db8::25", "2001:db8::25", true},
        {"IPv4 rule matches IPv4-mapped client", "192.0.2.0/24", "::ffff:192.0.2.9", true},
        {"mapped-spelled rule matches IPv4 client", "::ffff:192.0.2.0/120", "192.0.2.9", true},
        {"IPv4 rule never matches IPv6 client", "0.0.0.0/0", "2001:db8::1", false},
        {"IPv6 /0 covers IPv6", "::/0", "2001:db8::1", true},
    };
    for (const Row& row : rows) {
        INFO(row.label << ": " << row.net << " contains " << row.address << ", want " << row.want);
        CHECK(matches(row.net, row.address) == row.want);
    }
}

TEST_CASE("NET errors say what is wrong and what was probably meant", "[net]") {
    struct Row {
        const char* label;
        const char* net;
        const char* want;  // substring of the error
    };
    const Row rows[] = {
        {"host bits in CIDR", "10.1.2.3/8", "10.1.2.3/8: host bits set; did you mean 10.0.0.0/8?"},
        {"host bits in net;mask", "192.168.1.5;255.255.255.0", "host bits set; did you mean 192.168.1.0;255.255.255.0?"},
        {"host bits in IPv6", "2001:db8::1/32", "did you mean 2001:db8::/32?"},
        {"prefix too long v4", "10.0.0.0/33", "prefix length must be a number from 0 to 32"},
        {"prefix too long v6", "2001:db8::/129", "from 0 to 128"},
        {"prefix not a number", "10.0.0.0/x", "prefix length"},
        {"empty prefix", "10.0.0.0/", "prefix length"},
        {"signed prefix", "10.0.0.0/+8", "prefix length"},
        {"short IPv4", "10/8", "is not an IPv4 or IPv6 address"},
        {"hostname", "mail.example.com", "is not an IPv4 or IPv6 address"},
        {"IPv6 in net;mask", "2001:db8::;ffff::", "the net;mask form takes an IPv4 network"},
        {"bad mask", "192.168.1.0;255.255.255", "is not an IPv4 mask"},
        {"CIDR as mask", "192.168.1.0;24", "is not an IPv4 mask"},
        {"empty", "", "empty network"},
    };
    for (const Row& row : rows) {
        std::string got = error_of(row.net);
        INFO(row.label << ": got \"" << got << "\", want it to contain \"" << row.want << "\"");
        CHECK(got.find(row.want) != std::string::npos);
    }
}

TEST_CASE("Net tells prefixes from Exchange's non-contiguous masks, and whole-space nets", "[net]") {
    CHECK(net_of("192.168.1.0;255.255.255.0").is_prefix());
    CHECK_FALSE(net_of("10.0.5.0;255.0.255.0").is_prefix());
    CHECK(net_of("2001:db8::/32").is_prefix());
    CHECK(net_of("0.0.0.0/0").covers_all_v4());
    CHECK(net_of("0.0.0.0;0.0.0.0").covers_all_v4());
    CHECK_FALSE(net_of("0.0.0.0/1").covers_all_v4());
    CHECK(net_of("::/0").covers_all_v6());
    CHECK(net_of("::/0").covers_all_v4());
    CHECK_FALSE(net_of("::/1").covers_all_v6());
}

TEST_CASE("Net prints itself the way an admin writes it", "[net]") {
    struct Row {
        const char* text;
        const char* want;
    };
    const Row rows[] = {
        {"192.168.1.0;255.255.255.0", "192.168.1.0/24"}, {"10.0.5.0;255.0.255.0", "10.0.5.0;255.0.255.0"},
        {"192.0.2.1", "192.0.2.1"},   {"0.0.0.0/0", "0.0.0.0/0"},       {"2001:db8::/32", "2001:db8::/32"},
        {"2001:db8::1", "2001:db8::1"}, {"::/0", "::/0"},             {"::ffff:10.0.0.0/104", "10.0.0.0/8"},
        {"::ffff:0:0/96", "0.0.0.0/0"},
    };
    for (const Row& row : rows) {
        std::string got = net_of(row.text).to_string();
        INFO(row.text << ": got " << got << ", want " << row.want);
        CHECK(got == row.want);
    }
}
