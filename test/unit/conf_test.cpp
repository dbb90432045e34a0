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
    CHECK_FALSE(c.allow_authenticated);
    CHECK(c.allow_nets.size() == 2);
    CHECK(c.allow_nets[1].net.to_string() == "2001:db8::/32");
    CHECK(c.allow_nets[1].line == 7);
    CHECK(c.internal_addresses.size() == 1);
    CHECK(c.deny_nets.size() == 1);
    CHECK(c.reject_reply.to_string() == "554 5.7.1 No relaying here");
    CHECK(c.mode == Mode::dry_run);
    CHECK(c.socket == "inet:8890@127.0.0.1");
    CHECK(c.user == "relaymilter");
    CHECK(c.pidfile == "/run/relaymilter/relaymilter.pid");
    CHECK(c.log == "stderr");
    CHECK(c.listen_backlog == 1024);
}

TEST_CASE("An empty conf gives the documented defaults", "[conf]") {
    ConfResult result = parse_conf("", "empty.conf");
    REQUIRE(result.conf);
    CHECK(result.conf->allow_authenticated);
    CHECK(result.conf->mode == Mode::enforce);
    CHECK_FALSE(result.conf->allow_open_relay);
    CHECK(result.conf->reject_reply.to_string() == "550 5.7.1 Relaying prohibited");
    CHECK(result.conf->local_domains.empty());
    CHECK_FALSE(result.conf->listen_backlog);  // the daemon then takes net.core.somaxconn
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

TEST_CASE("socket_spec_problem knows libmilter's socket forms", "[conf]") {
    CHECK_FALSE(socket_spec_problem("unix:/run/relaymilter/relaymilter.sock"));
    CHECK_FALSE(socket_spec_problem("local:/run/x.sock"));
    CHECK_FALSE(socket_spec_problem("inet:8890@127.0.0.1"));
    CHECK_FALSE(socket_spec_problem("inet6:8890@[::1]"));
    CHECK_FALSE(socket_spec_problem("inet:8890"));
    CHECK_FALSE(socket_spec_problem("/run/x.sock"));
    CHECK(socket_spec_problem("tcp:8890@127.0.0.1"));
    CHECK(socket_spec_problem("inet:@127.0.0.1"));
    CHECK(socket_spec_problem("inet:0@127.0.0.1"));
    CHECK(socket_spec_problem("inet:8890@"));
    CHECK(socket_spec_problem("x.sock"));
}
