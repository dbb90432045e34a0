// Tests for policy/conf: every key, defaults, and FILE:LINE errors.
#include <catch2/catch.hpp>

#include "conf.hpp"

using namespace relaymilter;

namespace {
std::vector<std::string> errors_of(const std::string& text) {
    std::vector<std::string> out;
    for (const ConfError& e : parse_conf(text, "test.conf").errors) out.push_back(e.to_string());
    return out;
}
}  // namespace

TEST_CASE("A full conf is read into plain values", "[conf]") {
    const std::string text =
        "# comment line\n"
        "local-domain = Example.COM   # trailing comment\n"
        "local-domain=.corp.example.com\n"
        "local-domain = [192.0.2.25]\n"
        "allow-authenticated = no\n"
        "allow-net = 192.168.1.0;255.255.255.0\n"
        "allow-net = 2001:db8::/32\n"
        "internal-address = 10.0.0.25\n"
        "deny-net = 192.168.1.66\n"
        "reject-reply = 554 5.7.1 No relaying here\n"
        "mode = dry-run\n"
        "allow-open-relay = no\n"
        "socket = inet:8890@127.0.0.1\n"
        "user = relaymilter\n"
        "pidfile = /run/relaymilter/relaymilter.pid\n"
        "log = stderr\n"
        "listen-backlog = 1024\n";
    ConfResult result = parse_conf(text, "test.conf");
    INFO((result.errors.empty() ? std::string() : result.errors[0].to_string()));
    REQUIRE(result.conf);
    const Conf& c = *result.conf;
    REQUIRE(c.local_domains.size() == 3);
    CHECK(c.local_domains[0].domain == "example.com");
    CHECK(c.local_domains[0].line == 2);
    CHECK(c.local_domains[1].domain == ".corp.example.com");
    CHECK(c.local_domains[2].domain == "[192.0.2.25]");
    CHECK_FALSE(c.policy.allow_authenticated);
    CHECK(c.allow_nets.size() == 2);
    CHECK(c.allow_nets[1].net.to_string() == "2001:db8::/32");
    CHECK(c.allow_nets[1].line == 7);
    CHECK(c.internal_addresses.size() == 1);
    CHECK(c.deny_nets.size() == 1);
    CHECK(c.policy.reject_reply.to_string() == "554 5.7.1 No relaying here");
    CHECK(c.policy.mode == Mode::dry_run);
    REQUIRE(c.daemon.socket);
    CHECK(c.daemon.socket->text() == "inet:8890@127.0.0.1");
    CHECK(c.daemon.user == "relaymilter");
    CHECK(c.daemon.pidfile == "/run/relaymilter/relaymilter.pid");
    CHECK(c.daemon.log == "stderr");
    CHECK(c.daemon.listen_backlog == 1024);
}

TEST_CASE("An empty conf gives the documented defaults", "[conf]") {
    ConfResult result = parse_conf("", "empty.conf");
    REQUIRE(result.conf);
    CHECK(result.conf->policy.allow_authenticated);
    CHECK(result.conf->policy.mode == Mode::enforce);
    CHECK_FALSE(result.conf->policy.allow_open_relay);
    CHECK(result.conf->policy.reject_reply.to_string() == "550 5.7.1 Relaying prohibited");
    CHECK(result.conf->local_domains.empty());
    CHECK_FALSE(result.conf->daemon.listen_backlog);  // the daemon then takes net.core.somaxconn
}

TEST_CASE("Conf errors name FILE:LINE, the key and the fix", "[conf]") {
    using namespace std::string_view_literals;
    struct Row {
        const char* label;
        std::string_view text;
        const char* want;
    };
    const Row rows[] = {
        {"unknown key", "\n\nallow_net = 10.0.0.0/8\n", "test.conf:3: unknown key 'allow_net'; did you mean 'allow-net'?"},
        {"plural key", "allow-nets = 10.0.0.0/8\n", "test.conf:1: unknown key 'allow-nets'; did you mean 'allow-net'?"},
        {"no equals", "local-domain example.com\n", "test.conf:1: expected 'key = value'"},
        {"section", "[policy]\n", "test.conf:1: sections ('[policy]') are not supported"},
        {"empty value", "local-domain =\n", "test.conf:1: local-domain: empty value"},
        {"host bits", "allow-net = 10.1.2.3/8\n", "test.conf:1: allow-net: 10.1.2.3/8: host bits set; did you mean 10.0.0.0/8?"},
        {"deny-net error names deny-net", "deny-net = nonsense\n", "test.conf:1: deny-net: nonsense:"},
        {"wildcard domain", "local-domain = *.example.com\n", "did you mean '.example.com' (every subdomain)?"},
        {"bad domain", "local-domain = exa mple.com\n", "test.conf:1: local-domain: 'exa mple.com' is not a domain name"},
        {"subdomain of a literal", "local-domain = .[192.0.2.1]\n", "is not a domain name"},
        {"untagged IPv6 literal", "local-domain = [::1]\n", "test.conf:1: local-domain: '[::1]': an IPv6 address literal needs the IPv6: tag (RFC 5321), e.g. [IPv6:::1]"},
        {"mapped IPv6 literal", "local-domain = [IPv6:::ffff:127.0.0.1]\n", "local-domain: '[IPv6:::ffff:127.0.0.1]': an IPv4-mapped IPv6 literal: the MTAs disagree on whether it is this host's address (Sendmail relays it), so it is never local; write [127.0.0.1]"},
        {"IPv6 tag on IPv4", "local-domain = [IPv6:127.0.0.1]\n", "'[IPv6:127.0.0.1]': not an IPv6 address after the IPv6: tag"},
        {"bad IPv4 literal", "local-domain = [127.1]\n", "'[127.1]': not an IPv4 address"},
        {"bad boolean", "allow-authenticated = maybe\n", "test.conf:1: allow-authenticated: 'maybe' is not yes or no"},
        {"twice", "mode = enforce\nmode = dry-run\n", "test.conf:2: mode: given twice (first at line 1)"},
        {"bad mode", "mode = off\n", "is not enforce or dry-run"},
        {"4xx reply", "reject-reply = 451 4.7.1 later\n", "must start with a 5xx reply code"},
        {"bad enhanced code", "reject-reply = 550 4.7.1 No\n", "'4.7.1' is not an enhanced status code"},
        {"reply without text", "reject-reply = 550 5.7.1\n", "has no text after the code"},
        {"reply with non-ASCII", "reject-reply = 550 5.7.1 Nein \xc3\xbc\n", "printable ASCII"},
        {"open relay v4", "allow-net = 0.0.0.0/0\n", "test.conf:1: allow-net = 0.0.0.0/0: covers every address and makes an open relay"},
        {"open relay v6", "internal-address = ::/0\n", "internal-address = ::/0: covers every address"},
        {"open relay Exchange form", "allow-net = 0.0.0.0;0.0.0.0\n", "makes an open relay"},
        {"bad socket", "socket = /tmp/x:y\n", "test.conf:1: socket: '/tmp/x:y': unknown socket type '/tmp/x'"},
        {"socket port", "socket = inet:99999@127.0.0.1\n", "is not a port from 1 to 65535"},
        {"relative socket", "socket = unix:relative.sock\n", "the socket path must be absolute"},
        {"relative pidfile", "pidfile = x.pid\n", "pidfile: 'x.pid' is not an absolute path"},
        {"bad log", "log = file\n", "log: 'file' is not syslog or stderr"},
        {"backlog zero", "listen-backlog = 0\n", "test.conf:1: listen-backlog: '0' is not a number from 1 to 65535"},
        {"backlog too deep", "listen-backlog = 65536\n", "listen-backlog: '65536' is not a number from 1 to 65535"},
        {"backlog not a number", "listen-backlog = 4k\n", "listen-backlog: '4k' is not a number from 1 to 65535"},
        {"backlog negative", "listen-backlog = -1\n", "listen-backlog: '-1' is not a number"},
        {"NUL byte", "mode = enforce\nlocal-domain = a\0b\n"sv, "test.conf:2: NUL byte in the line"},
        {"limit period", "login-recipient-limit = 500/1hour\n",
         "test.conf:1: login-recipient-limit: '500/1hour': the period is a number and one of s, m, h, d, e.g. 500/1h"},
        {"limit count", "login-message-limit = many/1h\n", "login-message-limit: 'many/1h': the count before '/'"},
        {"client limit twice", "login-client-limit = 5/1d\nlogin-client-limit = 6/1d\n", "test.conf:2: login-client-limit: given twice"},
        {"lock time", "login-lock-time = forever\n", "test.conf:1: login-lock-time: 'forever': a duration is a number"},
        {"limit reply 2xx", "limit-reply = 250 ok\n", "limit-reply: '250 ok' must start with a 4xx or 5xx reply code"},
        {"lock reply mixed classes", "lock-reply = 450 5.7.1 no\n", "'5.7.1' is not an enhanced status code"},
        {"login-limit without settings", "login-limit = alice@example.com\n",
         "test.conf:1: login-limit: 'alice@example.com': write a login (alice@example.com) or a domain (@example.org), then the settings"},
        {"login-limit bad setting", "login-limit = @example.org recipients=5/1x\n",
         "login-limit: @example.org: recipients='5/1x': the period is a number"},
        {"login-limit twice", "login-limit = a@b.c none\nlogin-limit = A@B.C none\n", "test.conf:2: login-limit: A@B.C given twice"},
        {"authenticated-port", "authenticated-port = submission\n", "authenticated-port: 'submission' is not a number from 1 to 65535"},
    };
    for (const Row& row : rows) {
        std::vector<std::string> got = errors_of(std::string(row.text));
        std::string all;
        for (const auto& e : got) all += e + " | ";
        INFO(row.label << ": got [" << all << "], want one containing \"" << row.want << "\"");
        bool found = false;
        for (const auto& e : got) found = found || e.find(row.want) != std::string::npos;
        CHECK(found);
    }
}

TEST_CASE("allow-open-relay = yes lets a whole-space allow-net through", "[conf]") {
    CHECK(errors_of("allow-net = 0.0.0.0/0\nallow-open-relay = yes\n").empty());
    CHECK(errors_of("deny-net = 0.0.0.0/0\n").empty());  // denying everyone is not an open relay
}

TEST_CASE("Every error is reported, in line order", "[conf]") {
    auto got = errors_of("allow-net = 0.0.0.0/0\nbogus = 1\nmode = x\n");
    REQUIRE(got.size() == 3);
    CHECK(got[0].rfind("test.conf:1:", 0) == 0);
    CHECK(got[1].rfind("test.conf:2:", 0) == 0);
    CHECK(got[2].rfind("test.conf:3:", 0) == 0);
}

TEST_CASE("read_conf reports a missing file by name", "[conf]") {
    ConfResult result = read_conf("/nonexistent/relaymilter.conf");
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].to_string() == "/nonexistent/relaymilter.conf: cannot open: No such file or directory");
}


TEST_CASE("The open-relay check finds rules that cover a whole space alone or together", "[conf]") {
    struct Row {
        const char* label;
        const char* text;
        const char* want;  // "" for no error
    };
    const Row rows[] = {
        {"IPv4 halves", "allow-net = 0.0.0.0/1\nallow-net = 128.0.0.0/1\n",
         "test.conf:2: allow-net rules together cover every IPv4 address"},
        {"::/1 holds every mapped IPv4 address", "internal-address = 8000::/1\ninternal-address = ::/1\n",
         "test.conf:2: internal-address = ::/1: covers every address"},
        {"mapped halves, written as IPv6", "internal-address = ::ffff:0.0.0.0/97\ninternal-address = ::ffff:128.0.0.0/97\n",
         "test.conf:2: internal-address rules together cover every IPv4 address"},
        {"quarters and a gap", "allow-net = 0.0.0.0/2\nallow-net = 64.0.0.0/2\nallow-net = 128.0.0.0/2\n", ""},
        {"big but overlapping", "allow-net = 0.0.0.0/1\nallow-net = 0.0.0.0/2\nallow-net = 0.0.0.0/3\nallow-net = 128.0.0.0/2\n"
         "allow-net = 128.0.0.0/3\n", ""},
        {"deny-nets do not count", "deny-net = 0.0.0.0/1\nallow-net = 128.0.0.0/1\n", ""},
        {"kinds do not add up", "allow-net = 0.0.0.0/1\ninternal-address = 128.0.0.0/1\n", ""},
        {"one rule alone, named", "allow-net = 10.0.0.0/8\nallow-net = ::/0\n", "test.conf:2: allow-net = ::/0: covers every address"},
        {"allowed on purpose", "allow-net = 0.0.0.0/1\nallow-net = 128.0.0.0/1\nallow-open-relay = yes\n", ""},
    };
    for (const Row& row : rows) {
        std::vector<std::string> got = errors_of(row.text);
        INFO(row.label << ": got " << (got.empty() ? "no error" : got[0]));
        if (*row.want) {
            REQUIRE(got.size() == 1);
            CHECK(got[0].rfind(row.want, 0) == 0);
        } else {
            CHECK(got.empty());
        }
    }
}
