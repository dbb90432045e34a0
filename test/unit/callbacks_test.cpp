// Tests for milter/callbacks against a fake libmilter: translation of arguments and macros,
// the reply sent on a refusal, and failing closed (tempfail, never accept) on internal errors.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "callbacks.hpp"
#include "explain.hpp"
#include "fake_libmilter.hpp"
#include "http_scrape.hpp"

using namespace relaymilter;

namespace {

std::shared_ptr<const Policy> policy_from(const std::string& text) {
    ConfResult read = parse_conf(text, "test.conf");
    REQUIRE(read.conf);
    std::vector<ConfError> errors;
    auto policy = Policy::build(*read.conf, errors);
    REQUIRE(policy);
    return policy;
}

sockaddr_in v4(const char* text) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    inet_pton(AF_INET, text, &sin.sin_addr);
    return sin;
}

struct Milter {
    LivePolicy live;
    MemoryStore store;
    smfiDesc desc;
    explicit Milter(const std::string& conf) : live(policy_from(conf)), desc(bind_callbacks({live, store})) {}

    unsigned long negotiate(smfi_str& ctx, unsigned long offered_actions = 0x1ff) {
        unsigned long actions = 0, steps = 0, f2 = 0, f3 = 0;
        REQUIRE(desc.xxfi_negotiate(&ctx, offered_actions, 0x1fffff, 0, 0, &actions, &steps, &f2, &f3) ==
                SMFIS_CONTINUE);
        wanted_actions = actions;
        return steps;
    }
    unsigned long wanted_actions = 0;
    sfsistat connect(smfi_str& ctx, const char* host, const char* ip) {
        sockaddr_in sin = v4(ip);
        return desc.xxfi_connect(&ctx, const_cast<char*>(host), reinterpret_cast<sockaddr*>(&sin));
    }
    sfsistat mail(smfi_str& ctx, const char* from) {
        char* argv[] = {const_cast<char*>(from), nullptr};
        return desc.xxfi_envfrom(&ctx, argv);
    }
    sfsistat rcpt(smfi_str& ctx, const char* to, const char* arg1 = nullptr, const char* arg2 = nullptr) {
        char* argv[] = {const_cast<char*>(to), const_cast<char*>(arg1), const_cast<char*>(arg2), nullptr};
        return desc.xxfi_envrcpt(&ctx, argv);
    }
    sfsistat eom(smfi_str& ctx) { return desc.xxfi_eom(&ctx); }
    void close(smfi_str& ctx) { desc.xxfi_close(&ctx); }
};

const char* kConf = "local-domain = example.com\nallow-net = 192.168.1.0/24\nreject-reply = 550 5.7.1 No relay, 100% sure\n";

}  // namespace

TEST_CASE("callbacks negotiate away what the policy does not need", "[callbacks]") {
    Milter milter(kConf);
    smfi_str ctx;
    unsigned long steps = milter.negotiate(ctx);
    for (long flag : {SMFIP_NOHELO, SMFIP_NOHDRS, SMFIP_NOEOH, SMFIP_NOBODY, SMFIP_NOUNKNOWN, SMFIP_NR_CONN,
                      SMFIP_NR_MAIL}) {
        INFO("flag " << flag);
        CHECK((steps & static_cast<unsigned long>(flag)) != 0);
    }
    CHECK((steps & (SMFIP_NOCONNECT | SMFIP_NOMAIL | SMFIP_NORCPT | SMFIP_NR_RCPT | SMFIP_NODATA | SMFIP_NR_DATA)) == 0);
    milter.close(ctx);
}

TEST_CASE("callbacks refuse a relay with the configured reply, '%' doubled for libmilter", "[callbacks]") {
    Milter milter(kConf);
    smfi_str ctx;
    milter.negotiate(ctx);
    CHECK(milter.connect(ctx, "mx.outside.test", "203.0.113.9") == SMFIS_NOREPLY);
    CHECK(milter.mail(ctx, "<a@b.test>") == SMFIS_NOREPLY);
    CHECK(milter.rcpt(ctx, "<user@example.com>") == SMFIS_CONTINUE);
    CHECK(milter.rcpt(ctx, "<user@example.net>") == SMFIS_REJECT);
    CHECK(ctx.rcode == "550");
    CHECK(ctx.xcode == "5.7.1");
    CHECK(ctx.message == "No relay, 100%% sure");
    milter.close(ctx);
    CHECK(ctx.priv == nullptr);
}

TEST_CASE("callbacks read the login and listener from the MTA's macros", "[callbacks]") {
    Milter milter("local-domain = example.com\ninternal-address = 192.0.2.26\n");
    smfi_str ctx;
    milter.negotiate(ctx);
    ctx.macros["{if_addr}"] = "IPv6:2001:db8::1";
    ctx.macros["{daemon_addr}"] = "192.0.2.26";
    milter.connect(ctx, "x.test", "203.0.113.9");
    milter.mail(ctx, "<a@b.test>");
    CHECK(milter.rcpt(ctx, "<u@example.net>") == SMFIS_REJECT);  // {if_addr} wins and is not internal
    milter.close(ctx);

    smfi_str ctx2;
    milter.negotiate(ctx2);
    ctx2.macros["{daemon_addr}"] = "192.0.2.26";
    milter.connect(ctx2, "x.test", "203.0.113.9");
    milter.mail(ctx2, "<a@b.test>");
    CHECK(milter.rcpt(ctx2, "<u@example.net>") == SMFIS_CONTINUE);
    ctx2.macros["{auth_authen}"] = "alice@mx.example.test";
    milter.close(ctx2);

    smfi_str ctx3;
    milter.negotiate(ctx3);
    milter.connect(ctx3, "x.test", "203.0.113.9");
    ctx3.macros["{auth_authen}"] = "alice@mx.example.test";
    milter.mail(ctx3, "<a@b.test>");
    CHECK(milter.rcpt(ctx3, "<u@example.net>") == SMFIS_CONTINUE);
    milter.close(ctx3);
}

TEST_CASE("callbacks fail closed: an internal error gives tempfail, never accept", "[callbacks]") {
    Milter milter("local-domain = example.com\nallow-net = 0.0.0.0/1\n");
    SECTION("a RCPT with no session state") {
        smfi_str ctx;  // no negotiate, no connect
        CHECK(milter.rcpt(ctx, "<u@example.net>") == SMFIS_TEMPFAIL);
        CHECK(milter.rcpt(ctx, "<u@example.com>") == SMFIS_TEMPFAIL);
    }
    SECTION("connect failed inside, where no reply could carry the error") {
        smfi_str ctx;
        milter.negotiate(ctx);
        ctx.throw_on_getsymval = true;
        CHECK(milter.connect(ctx, "x.test", "10.0.0.1") == SMFIS_NOREPLY);
        ctx.throw_on_getsymval = false;
        milter.mail(ctx, "<a@b.test>");
        CHECK(milter.rcpt(ctx, "<u@example.net>") == SMFIS_TEMPFAIL);  // 10.0.0.1 is allowed: still no accept
        milter.close(ctx);
    }
    SECTION("MAIL failed inside") {
        smfi_str ctx;
        milter.negotiate(ctx);
        milter.connect(ctx, "x.test", "10.0.0.1");
        ctx.throw_on_getsymval = true;
        CHECK(milter.mail(ctx, "<a@b.test>") == SMFIS_NOREPLY);
        ctx.throw_on_getsymval = false;
        CHECK(milter.rcpt(ctx, "<u@example.net>") == SMFIS_TEMPFAIL);
        milter.close(ctx);
    }
}

TEST_CASE("callbacks drop success and delay notice requests a client may not send to the sender", "[callbacks]") {
    Milter milter("local-domain = example.com\nallow-net = 192.168.1.0/24\ndeny-net = 192.168.1.66\n");
    struct Row {
        const char* label;
        const char* client;
        const char* from;
        const char* login;
        const char* notify;  // the RCPT's NOTIFY argument, or nullptr for none
        bool dropped;
    };
    const Row rows[] = {
        {"outside client, foreign sender, SUCCESS", "203.0.113.9", "<victim@foreign.example>", "", "NOTIFY=SUCCESS", true},
        {"outside client, DELAY", "203.0.113.9", "<victim@foreign.example>", "", "NOTIFY=DELAY", true},
        {"outside client, SUCCESS,FAILURE", "203.0.113.9", "<v@foreign.example>", "", "NOTIFY=SUCCESS,FAILURE", true},
        {"outside client, lower case", "203.0.113.9", "<v@foreign.example>", "", "notify=failure,success", true},
        {"outside client, FAILURE only", "203.0.113.9", "<v@foreign.example>", "", "NOTIFY=FAILURE", false},
        {"outside client, NEVER", "203.0.113.9", "<v@foreign.example>", "", "NOTIFY=NEVER", false},
        {"outside client, no NOTIFY", "203.0.113.9", "<v@foreign.example>", "", nullptr, false},
        {"outside client, local sender", "203.0.113.9", "<boss@example.com>", "", "NOTIFY=SUCCESS", false},
        {"outside client, sender with routing", "203.0.113.9", "<v%foreign.example@example.com>", "", "NOTIFY=SUCCESS", true},
        {"allow-net client", "192.168.1.7", "<v@foreign.example>", "", "NOTIFY=SUCCESS", false},
        {"authenticated client", "203.0.113.9", "<v@foreign.example>", "alice", "NOTIFY=SUCCESS", false},
        {"deny-net client, authenticated", "192.168.1.66", "<v@foreign.example>", "alice", "NOTIFY=SUCCESS", true},
    };
    for (const Row& row : rows) {
        INFO(row.label);
        smfi_str ctx;
        milter.negotiate(ctx);
        CHECK((milter.wanted_actions & (SMFIF_DELRCPT | SMFIF_ADDRCPT_PAR)) == (SMFIF_DELRCPT | SMFIF_ADDRCPT_PAR));
        ctx.macros["v"] = "Postfix 3.7.11";
        milter.connect(ctx, "x.test", row.client);
        if (*row.login) ctx.macros["{auth_authen}"] = row.login;
        milter.mail(ctx, row.from);
        CHECK(milter.rcpt(ctx, "<user@example.com>", row.notify, "ORCPT=rfc822;user@example.com") == SMFIS_CONTINUE);
        CHECK(milter.rcpt(ctx, "<other@example.com>") == SMFIS_CONTINUE);
        CHECK(milter.eom(ctx) == SMFIS_CONTINUE);
        const std::vector<std::string> want =
            row.dropped ? std::vector<std::string>{"delrcpt <user@example.com>",
                                                   "addrcpt <user@example.com> NOTIFY=FAILURE ORCPT=rfc822;user@example.com"}
                        : std::vector<std::string>{};
        CHECK(ctx.envelope_changes == want);
        milter.close(ctx);
    }
}

TEST_CASE("callbacks fail closed when a notice request cannot be dropped", "[callbacks]") {
    Milter milter("local-domain = example.com\n");
    SECTION("the MTA does not offer to change recipients: that recipient gets tempfail") {
        smfi_str ctx;
        milter.negotiate(ctx, SMFIF_ADDHDRS | SMFIF_SETSYMLIST);
        milter.connect(ctx, "x.test", "203.0.113.9");
        milter.mail(ctx, "<v@foreign.example>");
        CHECK(milter.rcpt(ctx, "<user@example.com>", "NOTIFY=SUCCESS") == SMFIS_TEMPFAIL);
        CHECK(milter.rcpt(ctx, "<user@example.com>") == SMFIS_CONTINUE);
        milter.close(ctx);
    }
    SECTION("Sendmail, which keeps the request of a re-added recipient: that recipient gets tempfail") {
        smfi_str ctx;
        milter.negotiate(ctx);
        ctx.macros["v"] = "8.17.1.9";
        milter.connect(ctx, "x.test", "203.0.113.9");
        milter.mail(ctx, "<v@foreign.example>");
        CHECK(milter.rcpt(ctx, "<user@example.com>", "NOTIFY=SUCCESS") == SMFIS_TEMPFAIL);
        CHECK(milter.rcpt(ctx, "<user@example.com>", "NOTIFY=FAILURE") == SMFIS_CONTINUE);
        CHECK(milter.eom(ctx) == SMFIS_CONTINUE);
        CHECK(ctx.envelope_changes.empty());
        milter.close(ctx);
    }
    SECTION("an MTA that does not say what it is: tempfail") {
        smfi_str ctx;
        milter.negotiate(ctx);
        milter.connect(ctx, "x.test", "203.0.113.9");
        milter.mail(ctx, "<v@foreign.example>");
        CHECK(milter.rcpt(ctx, "<user@example.com>", "NOTIFY=DELAY") == SMFIS_TEMPFAIL);
        milter.close(ctx);
    }
    SECTION("the MTA refuses the change at end of message: the message gets tempfail") {
        smfi_str ctx;
        milter.negotiate(ctx);
        ctx.macros["v"] = "Postfix 3.7.11";
        milter.connect(ctx, "x.test", "203.0.113.9");
        milter.mail(ctx, "<v@foreign.example>");
        CHECK(milter.rcpt(ctx, "<user@example.com>", "NOTIFY=SUCCESS") == SMFIS_CONTINUE);
        ctx.refuse_changes = true;
        CHECK(milter.eom(ctx) == SMFIS_TEMPFAIL);
        milter.close(ctx);
    }
    SECTION("a new transaction forgets the last one's requests") {
        smfi_str ctx;
        milter.negotiate(ctx);
        ctx.macros["v"] = "Postfix 3.7.11";
        milter.connect(ctx, "x.test", "203.0.113.9");
        milter.mail(ctx, "<v@foreign.example>");
        CHECK(milter.rcpt(ctx, "<user@example.com>", "NOTIFY=SUCCESS") == SMFIS_CONTINUE);
        milter.mail(ctx, "<v@foreign.example>");  // RSET, then MAIL again
        CHECK(milter.rcpt(ctx, "<user@example.com>") == SMFIS_CONTINUE);
        CHECK(milter.eom(ctx) == SMFIS_CONTINUE);
        CHECK(ctx.envelope_changes.empty());
        milter.close(ctx);
    }
}

TEST_CASE("explain and the milter agree on every recipient", "[callbacks][explain]") {
    const std::string conf_text = "local-domain = example.com\nlocal-domain = .example.net\nlocal-domain = [192.0.2.25]\n"
                                  "local-domain = [IPv6:2001:db8::25]\nallow-net = 192.168.1.0/24\n";
    Milter milter(conf_text);
    ConfResult read = parse_conf(conf_text, "test.conf");
    REQUIRE(read.conf);
    std::vector<ConfError> errors;
    auto policy = Policy::build(*read.conf, errors);
    REQUIRE(policy);

    // The recipient fuzzer's corpus, a few spellings by hand, and random strings from an alphabet
    // of the characters that matter to the parser.
    std::vector<std::string> recipients = {"user\\>", "<user\\>", "user@example.com>", "<user@example.com",
                                           "\"a@b\"@example.com", "u@[IPv6:::ffff:192.0.2.25]", "u@[::1]"};
    for (const auto& entry : std::filesystem::directory_iterator(RELAYMILTER_RECIPIENT_CORPUS)) {
        std::ifstream in(entry.path(), std::ios::binary);
        recipients.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    REQUIRE(recipients.size() > 100);
    std::mt19937 random(12);
    const std::string alphabet = "<>@%!\"\\.:[]u6IPvV ,()examplecomnt192.0.2.25";
    for (int i = 0; i < 20000; ++i) {
        std::string r;
        const size_t length = random() % 24;
        for (size_t j = 0; j < length; ++j) r += alphabet[random() % alphabet.size()];
        recipients.push_back(r);
    }

    size_t accepted = 0, compared = 0;
    for (const char* client : {"203.0.113.9", "192.168.1.7"}) {
        smfi_str ctx;
        milter.negotiate(ctx);
        milter.connect(ctx, "x.test", client);
        milter.mail(ctx, "<a@b.test>");
        const Client explained{IpAddress::parse(client), std::nullopt, ""};
        for (std::string r : recipients) {
            r = r.substr(0, r.find('\0'));  // what a C string from the MTA can carry
            const bool milter_accepts = milter.rcpt(ctx, r.c_str()) == SMFIS_CONTINUE;
            const std::string line = explain(*read.conf, *policy, explained, r);
            INFO("client " << client << ", recipient [" << r << "]: milter " << (milter_accepts ? "accepts" : "refuses")
                           << ", explain says: " << line);
            CHECK(milter_accepts == (line.rfind("ACCEPT ", 0) == 0));
            accepted += milter_accepts;
            ++compared;
        }
        milter.close(ctx);
    }
    CHECK(accepted > 0);
    CHECK(accepted < compared);
}

TEST_CASE("callbacks count authenticated relays per login and refuse with the limit's reply", "[callbacks][limits]") {
    Milter milter("local-domain = example.com\nlogin-recipient-limit = 3/1h\nlogin-message-limit = 1/1h\n"
                  "login-client-limit = 1/1d\nauthenticated-port = 587\n");
    auto session = [&](smfi_str& ctx, const char* ip, const char* port) {
        milter.negotiate(ctx);
        if (port) ctx.macros["{daemon_port}"] = port;
        milter.connect(ctx, "x.test", ip);
        ctx.macros["{auth_authen}"] = "alice@example.com";
        milter.mail(ctx, "<alice@example.com>");
    };
    smfi_str ctx;
    session(ctx, "203.0.113.9", "587");
    CHECK(milter.rcpt(ctx, "<a@example.net>") == SMFIS_CONTINUE);
    CHECK(milter.rcpt(ctx, "<b@example.net>") == SMFIS_CONTINUE);  // the same message: one message counted
    CHECK(milter.rcpt(ctx, "<c@example.net>") == SMFIS_CONTINUE);
    CHECK(milter.rcpt(ctx, "<d@example.net>") == SMFIS_TEMPFAIL);  // the fourth recipient
    CHECK(ctx.rcode == "451");
    CHECK(ctx.message == "Relay limit reached for this login; try again later");
    CHECK(milter.rcpt(ctx, "<u@example.com>") == SMFIS_CONTINUE);  // local mail is never counted
    milter.mail(ctx, "<alice@example.com>");                        // a second message
    CHECK(milter.rcpt(ctx, "<e@example.net>") == SMFIS_TEMPFAIL);  // over the recipient limit anyway
    milter.close(ctx);

    smfi_str other;  // a second client address locks the login
    session(other, "198.51.100.7", "587");
    CHECK(milter.rcpt(other, "<f@example.net>") == SMFIS_REJECT);
    CHECK(other.rcode == "550");
    CHECK(other.message == "This login may not relay now; contact your administrator");
    CHECK(milter.rcpt(other, "<u@example.com>") == SMFIS_CONTINUE);
    milter.close(other);

    smfi_str port25;  // authentication on another port is no authentication; no port at all neither
    session(port25, "203.0.113.9", "25");
    CHECK(milter.rcpt(port25, "<g@example.net>") == SMFIS_REJECT);
    CHECK(port25.message == "Relaying prohibited");
    milter.close(port25);
    smfi_str unknown;
    session(unknown, "203.0.113.9", nullptr);
    CHECK(milter.rcpt(unknown, "<h@example.net>") == SMFIS_REJECT);
    milter.close(unknown);
}

TEST_CASE("callbacks report decisions, notices, locks, sessions and errors to the metrics", "[callbacks][metrics]") {
    std::vector<std::string> stages(std::begin(kCallbackStages), std::end(kCallbackStages));
    Metrics metrics({"test", stages, false});
    REQUIRE_FALSE(metrics.start(MetricsAddress{*IpAddress::parse("127.0.0.1"), 0}));  // a free port
    LivePolicy live(policy_from("local-domain = example.com\ndeny-net = 192.0.2.66\nlogin-client-limit = 1/1d\n"));
    MemoryStore store;
    smfiDesc desc = bind_callbacks({live, store, &metrics});
    auto rcpt = [&](smfi_str& ctx, const char* to, const char* arg = nullptr) {
        char* argv[] = {const_cast<char*>(to), const_cast<char*>(arg), nullptr};
        return desc.xxfi_envrcpt(&ctx, argv);
    };
    auto start = [&](smfi_str& ctx, const char* ip, const char* login) {
        unsigned long a = 0, st = 0, f2 = 0, f3 = 0;
        desc.xxfi_negotiate(&ctx, 0x1ff, 0x1fffff, 0, 0, &a, &st, &f2, &f3);
        ctx.macros["v"] = "Postfix 3.7.11";
        sockaddr_in sin = v4(ip);
        desc.xxfi_connect(&ctx, const_cast<char*>("x.test"), reinterpret_cast<sockaddr*>(&sin));
        if (login) ctx.macros["{auth_authen}"] = login;
        char* from[] = {const_cast<char*>("<v@foreign.example>"), nullptr};
        desc.xxfi_envfrom(&ctx, from);
    };
    smfi_str a, b, c;
    start(a, "203.0.113.9", nullptr);
    for (int i = 0; i < 7; ++i) rcpt(a, "<u@example.net>");             // 7 refused by default
    for (int i = 0; i < 5; ++i) rcpt(a, "<u@example.com>");             // 5 local
    rcpt(a, "<n@example.com>", "NOTIFY=SUCCESS");                      // 1 local, its notice dropped
    CHECK(desc.xxfi_eom(&a) == SMFIS_CONTINUE);
    start(b, "192.0.2.66", nullptr);
    for (int i = 0; i < 3; ++i) rcpt(b, "<u@example.net>");             // 3 refused by deny-net
    start(c, "198.51.100.1", "alice");
    rcpt(c, "<u@example.net>");                                         // authenticated, counted
    desc.xxfi_close(&c);
    smfi_str d;
    start(d, "198.51.100.2", "alice");
    rcpt(d, "<u@example.net>");                                         // a 2nd client: locked now
    smfi_str broken;                                                    // a RCPT with no session
    rcpt(broken, "<u@example.net>");

    const auto scrape = test::parse_scrape(test::http_request(metrics.port(), "GET", "/metrics").body);
    auto decisions = [&](const char* verdict, const char* rule) {
        return scrape.value("relaymilter_decisions_total", {{"rule", rule}, {"verdict", verdict}}).value_or(-1);
    };
    CHECK(decisions("reject", "default") == 7);
    CHECK(decisions("accept", "local-domain") == 6);
    CHECK(decisions("reject", "deny-net") == 3);
    CHECK(decisions("accept", "authenticated") == 1);
    CHECK(decisions("reject", "login-locked") == 1);
    CHECK(decisions("accept", "allow-net") == 0);
    CHECK(scrape.value("relaymilter_notices_suppressed_total") == 1);
    CHECK(scrape.value("relaymilter_locks_total") == 1);
    CHECK(scrape.value("relaymilter_sessions") == 3);  // a, b and d are still open
    CHECK(scrape.value("relaymilter_callback_errors_total", {{"stage", "rcpt"}}) == 1);
    CHECK(scrape.value("relaymilter_decision_seconds_count") == 18);
    for (smfi_str* ctx : {&a, &b, &d}) desc.xxfi_close(ctx);
}
