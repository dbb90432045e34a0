// Tests for policy/recipient: domains, routing characters, source routes, malformed input.
#include <catch2/catch.hpp>

#include "recipient.hpp"

using namespace relaymilter;

TEST_CASE("parse_recipient finds the domain and any routing", "[recipient]") {
    struct Row {
        const char* label;
        std::string_view text;
        const char* domain;
        const char* routing;  // "" when none
    };
    using namespace std::string_view_literals;
    const Row rows[] = {
        {"plain", "<user@example.com>", "example.com", ""},
        {"no brackets", "user@example.com", "example.com", ""},
        {"domain case folded", "<User@EXAMPLE.Com>", "example.com", ""},
        {"trailing dot dropped", "<user@example.com.>", "example.com", ""},
        {"no domain", "<postmaster>", "", ""},
        {"quoted local part without routing", "<\"john doe\"@example.com>", "example.com", ""},
        {"IPv4 literal", "<user@[192.0.2.25]>", "[192.0.2.25]", ""},
        {"IPv6 literal, any spelling", "<user@[IPv6:2001:DB8:0::25]>", "[ipv6:2001:db8::25]", ""},
        {"percent hack", "<u%gmail.com@example.com>", "example.com", "'%' in the local part"},
        {"bang path", "<gmail.com!u@example.com>", "example.com", "'!' in the local part"},
        {"bang path, no domain", "<gmail.com!u>", "", "'!' in the local part"},
        {"two at-signs", "<u@gmail.com@example.com>", "example.com", "'@' in the local part"},
        {"quoted at-sign", "<\"u@gmail.com\"@example.com>", "example.com", "'@' in the local part"},
        {"quoted at-sign, no domain", "<\"u@gmail.com\">", "", "'@' in the local part"},
        {"quoted percent", "<\"u%gmail.com\">", "", "'%' in the local part"},
        {"escaped at-sign", "<u\\@gmail.com@example.com>", "example.com", "'@' in the local part"},
        {"source route", "<@example.com:u@gmail.com>", "", "source route"},
        {"source route, two hops", "<@a.example.com,@b.example.com:u@gmail.com>", "", "source route"},
        {"empty", "<>", "", "empty address"},
        {"unbalanced angle", "<user@example.com", "", "unbalanced angle brackets"},
        {"unbalanced quote", "<\"user@example.com>", "", "unbalanced quotes"},
        {"trailing backslash", "<user\\>", "", "unbalanced quotes"},
        {"control byte", "<user\r@example.com>", "", "control character in the address"},
        {"NUL byte", "<user\0@example.com>"sv, "", "control character in the address"},
        {"space unquoted", "<john doe@example.com>", "example.com", "malformed local part"},
        {"comma unquoted", "<a,b@example.com>", "example.com", "malformed local part"},
        {"empty local part", "<\"\"@example.com>", "example.com", ""},
        {"bad domain char", "<u@exa%mple.com>", "", "malformed domain"},
        {"empty label", "<u@example..com>", "", "malformed domain"},
        {"bad literal", "<u@[300.1.1.1]>", "", "malformed domain"},
        {"at-sign inside literal", "<u@[a@b]>", "", "'@' in the local part"},
        {"UTF-8 domain kept", "<u@b\xc3\xbc" "cher.example>", "b\xc3\xbc" "cher.example", ""},
        {"over-long label", std::string_view("<u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example>"), "", "malformed domain"},
    };
    for (const Row& row : rows) {
        Recipient got = parse_recipient(row.text);
        INFO(row.label << ": " << row.text << ": got domain \"" << got.domain << "\" routing \"" << got.routing
                       << "\", want \"" << row.domain << "\" \"" << row.routing << "\"");
        CHECK(got.domain == row.domain);
        CHECK(got.routing == row.routing);
    }
}

TEST_CASE("canonical_domain is shared by the conf and recipients", "[recipient]") {
    CHECK(canonical_domain("Example.COM.") == "example.com");
    CHECK(canonical_domain("[IPv6:2001:db8::1]") == "[ipv6:2001:db8::1]");
    CHECK_FALSE(canonical_domain("[IPv6:::ffff:192.0.2.1]"));  // see the literal table below
    CHECK_FALSE(canonical_domain(""));
    CHECK_FALSE(canonical_domain("."));
    CHECK_FALSE(canonical_domain("a b.com"));
    CHECK_FALSE(canonical_domain(std::string(254, 'a')));
}

TEST_CASE("Address literals: IPv4 matches IPv4, IPv6 matches IPv6, what the MTAs disagree on is refused",
          "[recipient]") {
    struct Row {
        const char* label;
        const char* text;
        const char* want;  // the canonical literal, or "" when refused
    };
    const Row rows[] = {
        {"IPv4", "[127.0.0.1]", "[127.0.0.1]"},
        {"IPv4, leading zeros", "[127.0.0.01]", ""},
        {"IPv4, short form", "[127.1]", ""},
        {"IPv6", "[IPv6:2001:db8::1]", "[ipv6:2001:db8::1]"},
        {"IPv6, upper-case tag", "[IPV6:2001:DB8::1]", "[ipv6:2001:db8::1]"},
        {"IPv6, lower-case tag, long form", "[ipv6:2001:0db8:0:0:0:0:0:1]", "[ipv6:2001:db8::1]"},
        {"IPv6 loopback", "[IPv6:::1]", "[ipv6:::1]"},
        {"IPv4-compatible (not mapped) is IPv6", "[IPv6:::127.0.0.1]", "[ipv6:::127.0.0.1]"},
        {"mapped, dotted", "[IPv6:::ffff:127.0.0.1]", ""},
        {"mapped, hex", "[IPv6:::FFFF:7F00:1]", ""},
        {"mapped, long form", "[IPv6:0:0:0:0:0:ffff:127.0.0.1]", ""},
        {"mapped, upper-case tag", "[IPV6:::FFFF:127.0.0.1]", ""},
        {"untagged IPv6", "[::1]", ""},
        {"untagged mapped", "[::ffff:127.0.0.1]", ""},
        {"IPv6 tag on IPv4", "[IPv6:127.0.0.1]", ""},
        {"general literal", "[x400:c=us]", ""},
        {"zone", "[IPv6:fe80::1%eth0]", ""},
        {"empty", "[]", ""},
        {"unclosed", "[127.0.0.1", ""},
    };
    for (const Row& row : rows) {
        std::string why;
        auto got = address_literal(row.text, why);
        INFO(row.label << ": " << row.text << ": got " << (got ? *got : "refused (" + why + ")") << ", want "
                       << (*row.want ? row.want : "refused"));
        if (*row.want) {
            CHECK(got == std::string(row.want));
        } else {
            CHECK_FALSE(got);
            CHECK_FALSE(why.empty());
        }
        // A recipient at the literal: local exactly when the literal is, and canonical the same way.
        CHECK(canonical_domain(row.text) == got);
    }
}
