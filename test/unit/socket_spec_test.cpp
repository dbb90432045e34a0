// Tests for policy/socket_spec: libmilter's socket forms, parsed once, and what is refused.
#include <catch2/catch.hpp>

#include "socket_spec.hpp"

using namespace relaymilter;

namespace {
bool valid(const char* text) { return std::holds_alternative<SocketSpec>(SocketSpec::parse(text)); }
SocketSpec spec(const char* text) { return std::get<SocketSpec>(SocketSpec::parse(text)); }
}  // namespace

TEST_CASE("SocketSpec knows libmilter's socket forms", "[socket_spec]") {
    CHECK(valid("unix:/run/relaymilter/relaymilter.sock"));
    CHECK(valid("local:/run/x.sock"));
    CHECK(valid("inet:8890@127.0.0.1"));
    CHECK(valid("inet6:8890@[::1]"));
    CHECK(valid("inet:8890"));
    CHECK(valid("/run/x.sock"));
    CHECK_FALSE(valid("tcp:8890@127.0.0.1"));
    CHECK_FALSE(valid("inet:@127.0.0.1"));
    CHECK_FALSE(valid("inet:0@127.0.0.1"));
    CHECK_FALSE(valid("inet:8890@"));
    CHECK_FALSE(valid("x.sock"));
}

TEST_CASE("SocketSpec gives the parts the daemon needs, parsed once", "[socket_spec]") {
    struct Row {
        const char* text;
        SocketSpec::Kind kind;
        const char* path;
        uint16_t port;
        const char* local;  // where our own listener is reached
    };
    const Row rows[] = {
        {"unix:/run/a.sock", SocketSpec::Kind::unix_path, "/run/a.sock", 0, "127.0.0.1"},
        {"local:/run/b.sock", SocketSpec::Kind::unix_path, "/run/b.sock", 0, "127.0.0.1"},
        {"/run/c.sock", SocketSpec::Kind::unix_path, "/run/c.sock", 0, "127.0.0.1"},
        {"inet:8890@192.0.2.1", SocketSpec::Kind::inet, "", 8890, "192.0.2.1"},
        {"inet:8890", SocketSpec::Kind::inet, "", 8890, "127.0.0.1"},
        {"inet:8890@0.0.0.0", SocketSpec::Kind::inet, "", 8890, "127.0.0.1"},
        {"inet6:8890@[::]", SocketSpec::Kind::inet6, "", 8890, "::1"},
        {"inet6:8890@[2001:db8::1]", SocketSpec::Kind::inet6, "", 8890, "2001:db8::1"},
        {"inet:8890@mx.example.com", SocketSpec::Kind::inet, "", 8890, ""},
    };
    for (const Row& row : rows) {
        INFO(row.text);
        const SocketSpec s = spec(row.text);
        CHECK(s.kind() == row.kind);
        CHECK(s.text() == row.text);
        if (row.kind == SocketSpec::Kind::unix_path) {
            CHECK(s.path() == row.path);
        } else {
            CHECK(s.port() == row.port);
            CHECK(s.local_address() == row.local);
        }
    }
    CHECK(std::get<std::string>(SocketSpec::parse("inet:99999@127.0.0.1")) ==
          "'inet:99999@127.0.0.1': '99999' is not a port from 1 to 65535");
}
