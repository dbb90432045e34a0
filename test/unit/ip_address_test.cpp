// Tests for policy/ip_address: parsing, mapping of IPv4 into IPv6, printing.
#include <catch2/catch.hpp>

#include "ip_address.hpp"

using namespace relaymilter;

TEST_CASE("IpAddress::parse accepts addresses and refuses everything else", "[ip_address]") {
    struct Row {
        const char* label;
        const char* text;
        bool valid;
        const char* printed;  // to_string() when valid
    };
    const Row rows[] = {
        {"dotted quad", "192.0.2.1", true, "192.0.2.1"},
        {"IPv6 compressed", "2001:DB8::1", true, "2001:db8::1"},
        {"IPv4-mapped IPv6 prints as IPv4", "::ffff:192.0.2.1", true, "192.0.2.1"},
        {"unspecified v6", "::", true, "::"},
        {"short IPv4 form", "10.1", false, ""},
        {"octal-looking octet", "010.0.0.1", false, ""},
        {"octet over 255", "256.0.0.1", false, ""},
        {"trailing dot", "192.0.2.1.", false, ""},
        {"zone id", "fe80::1%eth0", false, ""},
        {"brackets are not plain", "[192.0.2.1]", false, ""},
        {"empty", "", false, ""},
        {"hostname", "mx.example.com", false, ""},
        {"embedded NUL", std::string_view("1.2.3.4\0", 8).data(), true, "1.2.3.4"},
    };
    for (const Row& row : rows) {
        INFO(row.label << ": parse(\"" << row.text << "\")");
        auto parsed = IpAddress::parse(row.text);
        CHECK(parsed.has_value() == row.valid);
        if (parsed && row.valid) CHECK(parsed->to_string() == row.printed);
    }
    CHECK_FALSE(IpAddress::parse(std::string_view("1.2.3.4\0x", 9)));
}

TEST_CASE("IpAddress::parse_tagged reads MTA and literal spellings", "[ip_address]") {
    struct Row {
        const char* label;
        const char* text;
        const char* want;  // nullptr: refused
    };
    const Row rows[] = {
        {"Sendmail if_addr IPv6 tag", "IPv6:2001:db8::25", "2001:db8::25"},
        {"tag in lower case", "ipv6:2001:db8::25", "2001:db8::25"},
        {"bracketed IPv4 literal", "[192.0.2.25]", "192.0.2.25"},
        {"bracketed tagged IPv6 literal", "[IPv6:::1]", "::1"},
        {"IPv6 tag on an IPv4 address", "IPv6:192.0.2.1", nullptr},
        {"unbalanced bracket", "[192.0.2.1", nullptr},
        {"plain", "203.0.113.9", "203.0.113.9"},
    };
    for (const Row& row : rows) {
        INFO(row.label << ": parse_tagged(\"" << row.text << "\")");
        auto parsed = IpAddress::parse_tagged(row.text);
        if (!row.want) {
            CHECK_FALSE(parsed);
        } else {
            REQUIRE(parsed);
            CHECK(parsed->to_string() == row.want);
        }
    }
}

TEST_CASE("IPv4 and IPv4-mapped IPv6 are the same address", "[ip_address]") {
    auto v4 = IpAddress::parse("192.0.2.1");
    auto mapped = IpAddress::parse("::ffff:192.0.2.1");
    REQUIRE(v4);
    REQUIRE(mapped);
    CHECK(*v4 == *mapped);
    CHECK(v4->is_v4());
    CHECK_FALSE(IpAddress::parse("2001:db8::1")->is_v4());
    CHECK(IpAddress::parse("0.0.0.0")->is_unspecified());
    CHECK(IpAddress::parse("::")->is_unspecified());
    CHECK_FALSE(IpAddress::parse("127.0.0.1")->is_unspecified());
}
