// store_address: parsing limits-store's URL forms strictly (every bad spelling gets a reason
// that says how to write it), limits-store-timeout and limits-store-failure.
#include "store_address.hpp"

#include <charconv>

#include "ip_address.hpp"

namespace relaymilter {

namespace {

constexpr std::string_view kTcp = "redis://";
constexpr std::string_view kUnix = "redis+unix://";
constexpr std::string_view kForms =
    "write memory, redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or redis+unix:///PATH[?db=N]";

std::optional<uint64_t> digits(std::string_view text, uint64_t max) {
    uint64_t value = 0;
    if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > max) return std::nullopt;
    return value;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// %XX decoding, as in URLs: false when a '%' is not followed by two hex digits.
bool percent_decode(std::string_view in, std::string& out) {
    out.clear();
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out.push_back(in[i]);
            continue;
        }
        if (i + 2 >= in.size()) return false;
        const int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return true;
}

// Where the credentials end ('@'), or npos: the last '@' for TCP (a host, port and database never
// hold one), the '@' before the path's '/' for a socket.
size_t credentials_end(std::string_view rest, bool unix_socket) {
    if (!unix_socket) return rest.rfind('@');
    if (!rest.empty() && rest.front() == '/') return std::string_view::npos;
    return rest.find("@/");
}

// The value as it may be quoted in a message: the password (or credentials without a ':',
// which may be a password written without one) replaced by "***".
std::string masked(std::string_view text) {
    const size_t scheme = text.find("://");
    if (scheme == std::string_view::npos) return std::string(text);
    const size_t skip = scheme + 3;
    const std::string_view rest = text.substr(skip);
    const size_t at = credentials_end(rest, text.starts_with(kUnix));
    if (at == std::string_view::npos) return std::string(text);
    const std::string_view credentials = rest.substr(0, at);
    const size_t colon = credentials.find(':');
    std::string out(text.substr(0, skip));
    out += colon == std::string_view::npos ? std::string("***") : std::string(credentials.substr(0, colon + 1)) + "***";
    out += rest.substr(at);
    return out;
}

bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
}

// HOST[:PORT] or [IPV6][:PORT] into the address; the reason when it is not one.
std::optional<std::string> parse_host_port(std::string_view text, StoreAddress& address) {
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        const size_t close = text.find(']');
        if (close == std::string_view::npos) return "an IPv6 address in brackets needs its ']', e.g. redis://[::1]:6379";
        address.host = std::string(text.substr(1, close - 1));
        auto ip = IpAddress::parse(address.host);
        if (!ip || ip->is_v4()) return "'" + address.host + "' in brackets is not an IPv6 address";
        const std::string_view after = text.substr(close + 1);
        if (!after.empty() && after.front() != ':') return "after ']' comes :PORT, /DB or nothing";
        if (!after.empty()) port = after.substr(1);
        if (!after.empty() && port.empty()) return "the port is a number from 1 to 65535";
    } else {
        const size_t colon = text.find(':');
        address.host = std::string(text.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = text.substr(colon + 1);
            if (port.find(':') != std::string_view::npos) return "write an IPv6 address in brackets, e.g. redis://[::1]:6379";
            if (port.empty()) return "the port is a number from 1 to 65535";
        }
        if (address.host.empty()) return "no host: write redis://HOST, e.g. redis://127.0.0.1:6379";
        for (char c : address.host) {
            if (!host_char(c)) return "'" + address.host + "' is not a host name or an address";
        }
    }
    if (!port.empty()) {
        auto number = digits(port, 65535);
        if (!number || *number == 0) return "the port is a number from 1 to 65535";
        address.port = static_cast<uint16_t>(*number);
    }
    return std::nullopt;
}

// The database number, as "/DB" or "?db=N" writes it.
std::optional<std::string> parse_db(std::string_view text, StoreAddress& address) {
    auto number = digits(text, 2147483647);
    if (!number) return "the database is a number from 0 (the default), e.g. /2";
    address.db = static_cast<int>(*number);
    return std::nullopt;
}

// The part after the scheme and the credentials; the reason when it is wrong.
std::optional<std::string> parse_location(std::string_view rest, StoreAddress& address) {
    if (address.kind == StoreAddress::Kind::redis_tcp) {
        if (rest.find_first_of("?#") != std::string_view::npos) {
            return "no options after the address: the database is /DB, e.g. redis://127.0.0.1:6379/2";
        }
        const size_t slash = rest.find('/');
        if (auto why = parse_host_port(rest.substr(0, slash), address)) return why;
        if (slash == std::string_view::npos || slash + 1 == rest.size()) return std::nullopt;
        return parse_db(rest.substr(slash + 1), address);
    }
    const size_t query = rest.find('?');
    address.path = std::string(rest.substr(0, query));
    if (address.path.size() < 2 || address.path.front() != '/' || address.path.back() == '/') {
        return "the socket is an absolute path, e.g. redis+unix:///run/redis/redis-server.sock";
    }
    if (address.path.size() > 107) return "a socket path is at most 107 bytes";
    if (query == std::string_view::npos) return std::nullopt;
    const std::string_view option = rest.substr(query + 1);
    if (!option.starts_with("db=")) return "the only option is ?db=N";
    return parse_db(option.substr(3), address);
}

}  // namespace

std::string StoreAddress::display() const {
    switch (kind) {
    case Kind::memory:
        return "memory";
    case Kind::redis_tcp: {
        const bool v6 = host.find(':') != std::string::npos;
        std::string out = std::string(kTcp) + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
        if (db != 0) out += "/" + std::to_string(db);
        return out;
    }
    case Kind::redis_unix:
        return std::string(kUnix) + path + (db != 0 ? "?db=" + std::to_string(db) : "");
    }
    return "memory";
}

std::optional<StoreAddress> parse_store_address(std::string_view text, std::string& why) {
    auto fail = [&](std::string_view reason) {
        why = "limits-store: '" + masked(text) + "': " + std::string(reason);
        return std::nullopt;
    };
    StoreAddress address;
    if (text == "memory") return address;
    std::string_view rest;
    if (text.starts_with(kTcp)) {
        address.kind = StoreAddress::Kind::redis_tcp;
        rest = text.substr(kTcp.size());
    } else if (text.starts_with(kUnix)) {
        address.kind = StoreAddress::Kind::redis_unix;
        rest = text.substr(kUnix.size());
    } else if (text.starts_with("rediss://")) {
        return fail("TLS to Redis is not supported (Debian 12's hiredis 0.14 has none): use redis:// to a Redis "
                    "on a trusted network or through a tunnel such as stunnel or spiped");
    } else {
        return fail(kForms);
    }
    const size_t at = credentials_end(rest, address.kind == StoreAddress::Kind::redis_unix);
    if (at != std::string_view::npos) {
        const std::string_view credentials = rest.substr(0, at);
        const size_t colon = credentials.find(':');
        if (colon == std::string_view::npos) {
            return fail("the credentials before '@' are USER:PASSWORD or :PASSWORD (a password alone keeps its ':')");
        }
        if (!percent_decode(credentials.substr(0, colon), address.user) ||
            !percent_decode(credentials.substr(colon + 1), address.password)) {
            return fail("a '%' in the credentials starts %XX, e.g. %40 for '@' and %25 for '%'");
        }
        if (address.password.empty()) return fail("the password after ':' is empty");
        rest = rest.substr(at + 1);
    }
    if (auto reason = parse_location(rest, address)) return fail(*reason);
    return address;
}

std::optional<StoreFailure> parse_store_failure(std::string_view text, std::string& why) {
    if (text == "local") return StoreFailure::local;
    if (text == "tempfail") return StoreFailure::tempfail;
    why = "write local (count on this host while Redis is away) or tempfail (451 for authenticated relays)";
    return std::nullopt;
}

const char* store_failure_text(StoreFailure failure) {
    return failure == StoreFailure::local ? "local" : "tempfail";
}

std::optional<Microseconds> parse_store_timeout(std::string_view text, std::string& why) {
    std::optional<uint64_t> number;
    Microseconds unit = 0;
    if (text.ends_with("ms")) {
        number = digits(text.substr(0, text.size() - 2), 10'000);
        unit = 1000;
    } else if (text.ends_with("s")) {
        number = digits(text.substr(0, text.size() - 1), 10);
        unit = kSecond;
    }
    if (number && *number > 0 && static_cast<Microseconds>(*number) * unit <= 10 * kSecond) {
        return static_cast<Microseconds>(*number) * unit;
    }
    why = "a timeout is a number and ms or s, from 1ms to 10s, e.g. 100ms";
    return std::nullopt;
}

std::string store_timeout_text(Microseconds timeout) {
    if (timeout % kSecond == 0) return std::to_string(timeout / kSecond) + "s";
    return std::to_string(timeout / 1000) + "ms";
}

}  // namespace relaymilter
