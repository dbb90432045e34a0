// Tests for policy/explain: the --explain line names the verdict, rule, reply and the rule's line.
#include <catch2/catch.hpp>

#include "explain.hpp"

using namespace relaymilter;

TEST_CASE("explain names the rule and the conf line that decided", "[explain]") {
    ConfResult read = parse_conf(
        "local-domain = example.com\nallow-net = 192.168.1.0/24\ndeny-net = 192.168.1.66\nmode = dry-run\n", "x.conf");
    REQUIRE(read.conf);
    std::vector<ConfError> errors;
    auto policy = Policy::build(*read.conf, errors);
    REQUIRE(policy);
    struct Row {
        const char* label;
        const char* client;
        const char* rcpt;
        const char* want;
    };
    const Row rows[] = {
        {"local", "203.0.113.9", "user@example.com",
         "ACCEPT <user@example.com> rule=local-domain why=\"domain example.com is local-domain example.com (x.conf:1)\""},
        {"allow-net", "192.168.1.7", "<u@example.net>",
         "ACCEPT <u@example.net> rule=allow-net why=\"client 192.168.1.7 is in allow-net 192.168.1.0/24 (x.conf:2)\""},
        {"deny-net in dry-run", "192.168.1.66", "<u@example.net>",
         "REJECT <u@example.net> rule=deny-net reply=\"550 5.7.1 Relaying prohibited\" why=\"client 192.168.1.66 is in "
         "deny-net 192.168.1.66 (x.conf:3)\" mode=dry-run (logged as would-reject, then accepted)"},
        {"routing", "203.0.113.9", "<a%b@example.com>",
         "REJECT <a%b@example.com> rule=default reply=\"550 5.7.1 Relaying prohibited\" why=\"relay attempt ('%' in the "
         "local part); client 203.0.113.9 is in no allow-net; not authenticated; listener unknown\" mode=dry-run (logged as "
         "would-reject, then accepted)"},
    };
    for (const Row& row : rows) {
        Client client{IpAddress::parse(row.client), std::nullopt, ""};
        std::string got = explain(*read.conf, *policy, client, row.rcpt);
        INFO(row.label << ":\n got  " << got << "\n want " << row.want);
        CHECK(got == row.want);
    }
}
