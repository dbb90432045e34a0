// Tests for policy/notices and Policy::notice_decision: which NOTIFY requests are success or delay
// requests, how they are rewritten, and who may have a notice sent to the envelope sender.
#include <catch2/catch.hpp>

#include "notices.hpp"
#include "policy.hpp"

using namespace relaymilter;

TEST_CASE("success_or_delay_notify finds a success or delay request in any spelling", "[notices]") {
    struct Row {
        std::vector<std::string_view> args;
        const char* want;          // the request found, "" for none
        const char* failure_only;  // the arguments rewritten
    };
    const Row rows[] = {
        {{"NOTIFY=SUCCESS"}, "SUCCESS", "NOTIFY=FAILURE"},
        {{"NOTIFY=DELAY"}, "DELAY", "NOTIFY=FAILURE"},
        {{"NOTIFY=SUCCESS,FAILURE"}, "SUCCESS,FAILURE", "NOTIFY=FAILURE"},
        {{"NOTIFY=FAILURE,DELAY"}, "FAILURE,DELAY", "NOTIFY=FAILURE"},
        {{"notify=Success"}, "Success", "NOTIFY=FAILURE"},
        {{"ORCPT=rfc822;u@example.com", "NOTIFY=SUCCESS"}, "SUCCESS", "ORCPT=rfc822;u@example.com NOTIFY=FAILURE"},
        {{"NOTIFY=FAILURE"}, "", "NOTIFY=FAILURE"},
        {{"NOTIFY=NEVER"}, "", "NOTIFY=FAILURE"},
        {{"NOTIFY="}, "", "NOTIFY=FAILURE"},
        {{"NOTIFY=SUCCESSFUL"}, "", "NOTIFY=FAILURE"},
        {{"XNOTIFY=SUCCESS"}, "", "XNOTIFY=SUCCESS"},
        {{"ORCPT=rfc822;notify=success@example.com"}, "", "ORCPT=rfc822;notify=success@example.com"},
        {{}, "", ""},
    };
    for (const Row& row : rows) {
        std::string shown;
        for (auto a : row.args) shown += std::string(a) + " ";
        INFO("args: " << shown);
        CHECK(success_or_delay_notify(row.args) == row.want);
        CHECK(failure_notices_only(row.args) == row.failure_only);
    }
}

TEST_CASE("A notice is judged as mail to the sender: local senders and relay clients only", "[notices]") {
    ConfResult read = parse_conf(
        "local-domain = example.com\nallow-net = 192.168.1.0/24\ninternal-address = 192.0.2.26\n"
        "deny-net = 192.168.1.66\n",
        "n.conf");
    REQUIRE(read.conf);
    std::vector<ConfError> errors;
    auto policy = Policy::build(*read.conf, errors);
    REQUIRE(policy);
    struct Row {
        const char* label;
        const char* client;
        const char* listener;
        const char* login;
        const char* sender;
        Decision want;
    };
    const Row rows[] = {
        {"outside, foreign sender", "203.0.113.9", nullptr, "", "<v@foreign.example>", {Verdict::reject, Rule::default_rule}},
        {"outside, local sender", "203.0.113.9", nullptr, "", "<boss@example.com>", {Verdict::accept, Rule::local_domain}},
        {"outside, routing in a local sender", "203.0.113.9", nullptr, "", "<v%foreign.example@example.com>",
         {Verdict::reject, Rule::default_rule}},
        {"outside, null sender", "203.0.113.9", nullptr, "", "<>", {Verdict::reject, Rule::default_rule}},
        {"allow-net", "192.168.1.7", nullptr, "", "<v@foreign.example>", {Verdict::accept, Rule::allow_net}},
        {"internal listener", "203.0.113.9", "192.0.2.26", "", "<v@foreign.example>",
         {Verdict::accept, Rule::internal_address}},
        {"authenticated", "203.0.113.9", nullptr, "alice", "<v@foreign.example>", {Verdict::accept, Rule::authenticated}},
        {"deny-net, authenticated", "192.168.1.66", nullptr, "alice", "<v@foreign.example>",
         {Verdict::reject, Rule::deny_net}},
        {"deny-net, local sender", "192.168.1.66", nullptr, "", "<boss@example.com>", {Verdict::accept, Rule::local_domain}},
    };
    for (const Row& row : rows) {
        const Client client{IpAddress::parse(row.client), row.listener ? IpAddress::parse(row.listener) : std::nullopt,
                            row.login};
        const Decision got = policy->notice_decision(client, row.sender);
        INFO(row.label << ": got " << verdict_name(got.verdict) << " " << rule_name(got.rule) << ", want "
                       << verdict_name(row.want.verdict) << " " << rule_name(row.want.rule));
        CHECK(got == row.want);
    }
}
