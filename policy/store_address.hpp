// store_address: where the login limits are kept, as the conf says it (limits-store,
// limits-store-timeout, limits-store-failure) read into plain values. It does not connect to
// anything and knows nothing of hiredis; milter/redis_store does the talking.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "limits.hpp"

namespace relaymilter {

// "memory", "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]" or
// "redis+unix://[[USER]:PASSWORD@]/PATH[?db=N]" (the credentials part is optional).
struct StoreAddress {
    enum class Kind { memory, redis_tcp, redis_unix };
    Kind kind = Kind::memory;
    std::string host;      // redis_tcp: a name or an address, IPv6 without its brackets
    uint16_t port = 6379;  // redis_tcp
    std::string path;      // redis_unix: the socket, absolute
    int db = 0;
    std::string user;      // empty: Redis's default user ("AUTH PASSWORD")
    std::string password;  // empty: no AUTH
    [[nodiscard]] bool shared() const { return kind != Kind::memory; }
    // For logs and messages: "memory", "redis://HOST:PORT[/DB]", "redis+unix:///PATH[?db=N]";
    // never the user or the password.
    [[nodiscard]] std::string display() const;
    friend bool operator==(const StoreAddress&, const StoreAddress&) = default;
};

// The conf value as an address, or nullopt with `why` set to the whole message, key included:
// "limits-store: 'redis://h:99999': the port is a number from 1 to 65535". The value quoted in it
// has its password replaced by "***", so the message is safe to log.
[[nodiscard]] std::optional<StoreAddress> parse_store_address(std::string_view text, std::string& why);

// What an authenticated relay gets while Redis cannot be reached or used.
enum class StoreFailure {
    local,     // count in this host's memory: mail flows, the limits hold per host
    tempfail,  // 451 for every relay that rests on authentication
};
// "local" or "tempfail"; otherwise nullopt and the reason (phrased for "KEY: 'TEXT': why").
[[nodiscard]] std::optional<StoreFailure> parse_store_failure(std::string_view text, std::string& why);
[[nodiscard]] const char* store_failure_text(StoreFailure failure);

inline constexpr Microseconds kDefaultStoreTimeout = 100'000;  // limits-store-timeout's default, 100ms
// "100ms", "1s", "2s": from 1ms to 10s; otherwise nullopt and the reason (phrased as above).
[[nodiscard]] std::optional<Microseconds> parse_store_timeout(std::string_view text, std::string& why);
// "100ms", "2s": as the conf writes it.
[[nodiscard]] std::string store_timeout_text(Microseconds timeout);

}  // namespace relaymilter
