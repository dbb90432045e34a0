// Tests for milter/callbacks against a fake libmilter: translation of arguments and macros,
// the reply sent on a refusal, and failing closed (tempfail, never accept) on internal errors.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>

#include "callbacks.hpp"
#include "fake_libmilter.hpp"

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
    smfiDesc desc;
    explicit Milter(const std::string& conf) : live(policy_from(conf)), desc(milter_description(live)) {}

    unsigned long negotiate(smfi_str& ctx) {
        unsigned long actions = 0, steps = 0, f2 = 0, f3 = 0;
        REQUIRE(desc.xxfi_negotiate(&ctx, 0x1ff, 0x1fffff, 0, 0, &actions, &steps, &f2, &f3) == SMFIS_CONTINUE);
        return steps;
    }
    sfsistat connect(smfi_str& ctx, const char* host, const char* ip) {
        sockaddr_in sin = v4(ip);
        return desc.xxfi_connect(&ctx, const_cast<char*>(host), reinterpret_cast<sockaddr*>(&sin));
    }
    sfsistat mail(smfi_str& ctx, const char* from) {
        char* argv[] = {const_cast<char*>(from), nullptr};
        return desc.xxfi_envfrom(&ctx, argv);
    }
    sfsistat rcpt(smfi_str& ctx, const char* to) {
        char* argv[] = {const_cast<char*>(to), nullptr};
        return desc.xxfi_envrcpt(&ctx, argv);
    }
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
