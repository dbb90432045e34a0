// Addresses as an attacker writes them: each gets a decision, never a crash, and from an outside
// client never an accept unless it truly is a local recipient without routing.
#include <catch2/catch.hpp>

#include "policy.hpp"

using namespace relaymilter;

namespace {

std::shared_ptr<const Policy> hostile_policy() {
    ConfResult read = parse_conf(
        "local-domain = example.com\nlocal-domain = [192.0.2.25]\nlocal-domain = [IPv6:2001:db8::25]\n"
        "local-domain = xn--bcher-kva.example\n",
        "hostile.conf");
    REQUIRE(read.conf);
    std::vector<ConfError> errors;
    auto policy = Policy::build(*read.conf, errors);
    REQUIRE(policy);
    return policy;
}

}  // namespace

TEST_CASE("Hostile recipients from an outside client: only true local recipients are accepted", "[hostile]") {
    auto policy = hostile_policy();
    const Client outside{IpAddress::parse("203.0.113.9"), IpAddress::parse("192.0.2.25"), ""};
    using namespace std::string_literals;
    struct Row {
        const char* label;
        std::string rcpt;
        bool local;
    };
    const Row rows[] = {
        {"over-long local part, local domain", "<" + std::string(10000, 'a') + "@example.com>", true},
        {"over-long local part, foreign domain", "<" + std::string(10000, 'a') + "@gmail.com>", false},
        {"over-long domain", "<u@" + std::string(300, 'a') + ".example.com>", false},
        {"over-long label", "<u@" + std::string(64, 'a') + ".example.com>", false},
        {"many labels", "<u@" + [] { std::string d; for (int i = 0; i < 200; ++i) d += "a."; return d; }() + "com>", false},
        {"NUL before a local domain", "<u@gmail.com\0@example.com>"s, false},
        {"NUL after the address", "<u@example.com>\0x"s, false},
        {"CR LF injection", "<u@example.com>\r\nRCPT TO:<x@gmail.com>", false},
        {"tab in the local part", "<u\t@example.com>", false},
        {"DEL byte", "<u\x7f@example.com>", false},
        {"unbalanced quote", "<\"u@example.com>", false},
        {"unbalanced quote, foreign first", "<\"u@gmail.com@example.com>", false},
        {"unbalanced bracket", "<u@[192.0.2.25>", false},
        {"unbalanced angle, open", "<u@example.com", false},
        {"unbalanced angle, close", "u@example.com>", false},
        {"doubled angles", "<<u@example.com>>", false},
        {"empty angles", "<>", false},
        {"only an at-sign", "<@>", false},
        {"only a domain", "<@example.com>", false},
        {"trailing at-sign", "<u@>", false},
        {"quoted local part, escaped quote", "<\"a\\\"b\"@example.com>", true},
        {"escaped at in quotes", "<\"a\\@b\"@example.com>", false},
        {"percent in quotes", "<\"a%b\"@example.com>", false},
        {"bang in quotes", "<\"a!b\"@example.com>", false},
        {"comment-like parenthesis", "<(comment)u@example.com>", false},
        {"comma list", "<a@example.com,b@gmail.com>", false},
        {"colon", "<a:b@example.com>", false},
        {"IPv4 literal", "<u@[192.0.2.25]>", true},
        {"IPv4 literal, other address", "<u@[192.0.2.26]>", false},
        {"IPv4 literal with leading zeros", "<u@[192.0.2.025]>", false},
        {"IPv6 literal, listed spelling", "<u@[IPv6:2001:db8::25]>", true},
        {"IPv6 literal, lower-case tag", "<u@[ipv6:2001:db8::25]>", true},
        {"IPv6 literal, full form", "<u@[IPv6:2001:0db8:0000:0000:0000:0000:0000:0025]>", true},
        {"IPv6 literal, upper-case hex", "<u@[IPv6:2001:DB8::25]>", true},
        {"IPv6 literal without the tag (malformed)", "<u@[2001:db8::25]>", false},
        {"IPv6 literal, mapped IPv4 (MTAs disagree)", "<u@[IPv6:::ffff:192.0.2.25]>", false},
        {"IPv6 literal with a zone", "<u@[IPv6:fe80::1%eth0]>", false},
        {"IPv6 tag on IPv4", "<u@[IPv6:192.0.2.25]>", false},
        {"IPv6 literal, other address", "<u@[IPv6:2001:db8::26]>", false},
        {"IDNA A-label listed", "<u@xn--bcher-kva.example>", true},
        {"UTF-8 U-label of a listed A-label", "<u@b\xc3\xbc" "cher.example>", false},
        {"UTF-8 local part, local domain", "<\xc3\xbcser@example.com>", true},
        {"invalid UTF-8 in the domain", "<u@exa\xff" "mple.com>", false},
        {"look-alike domain with trailing junk", "<u@example.com.gmail.com>", false},
        {"trailing dots", "<u@example.com..>", false},
        {"space before the domain", "<u@ example.com>", false},
    };
    for (const Row& row : rows) {
        const Decision d = policy->decide(outside, row.rcpt);
        INFO(row.label << ": got " << verdict_name(d.verdict) << " rule=" << rule_name(d.rule) << ", want "
                       << (row.local ? "ACCEPT local-domain" : "REJECT default"));
        if (row.local) {
            CHECK(d == Decision{Verdict::accept, Rule::local_domain});
        } else {
            CHECK(d == Decision{Verdict::reject, Rule::default_rule});
        }
    }
}
