// limits: how much a login may relay: rates ("500/1h"), the limits that apply to one login
// (global keys, then a login's domain, then the login itself), and the conf values they are
// read from. Plain values only; the counting lives in a LimitStore (limit_store.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace relaymilter {

using Microseconds = int64_t;  // time as the milter passes it in: microseconds since the epoch
inline constexpr Microseconds kSecond = 1'000'000;

// N per PERIOD: at most N at once, and N per PERIOD once used up (a leaky bucket: see limit_store).
struct Rate {
    uint32_t count = 0;
    uint32_t period_seconds = 0;
    friend bool operator==(const Rate&, const Rate&) = default;
};
// "500/1h", "recipients 500/1h" in the words of logs and explain.
[[nodiscard]] std::string rate_text(const Rate& rate);
// A duration the way the conf writes it: "90s", "10m", "1h", "1d".
[[nodiscard]] std::string duration_text(uint32_t seconds);

// "N/PERIOD" as a rate, or why not (phrased for "KEY: 'TEXT': why").
[[nodiscard]] std::optional<Rate> parse_rate(std::string_view text, std::string& why);
// "1h" and the like as seconds, or why not.
[[nodiscard]] std::optional<uint32_t> parse_duration(std::string_view text, std::string& why);

// One setting as a level of the conf gives it: not said (the next level decides), "none", or a rate.
struct LimitSetting {
    bool set = false;
    std::optional<Rate> rate;  // nullopt with set: no limit
};

// The three limits of one level (global keys, a domain's login-limit, a login's login-limit).
struct LimitSettings {
    LimitSetting recipients;
    LimitSetting messages;
    LimitSetting clients;
};

// The limits that apply to one login: each one set, or none.
struct LoginLimits {
    std::optional<Rate> recipients;
    std::optional<Rate> messages;
    std::optional<Rate> clients;
    [[nodiscard]] bool any() const { return recipients || messages || clients; }
    // "recipients 500/1h, messages 100/1h, clients 10/1d", or "none".
    [[nodiscard]] std::string text() const;
};

// "recipients=N/PERIOD messages=N/PERIOD clients=N/PERIOD" or "none", as login-limit's SETTINGS.
[[nodiscard]] std::optional<LimitSettings> parse_limit_settings(std::string_view text, std::string& why);

// A hash for maps keyed on std::string that are looked up by std::string_view, without a copy.
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Every level, and the lookup of the limits of a login (case-insensitive).
class LimitTable {
public:
    void set_global(const LimitSettings& settings) { global_ = settings; }
    // `who` is "alice@example.com" or "@example.org"; false when it was given before.
    bool add(std::string_view who, const LimitSettings& settings);
    [[nodiscard]] LoginLimits lookup(std::string_view login) const;
    // The same for a login already in login_key() form: no copy, for the decision path.
    [[nodiscard]] LoginLimits lookup_key(std::string_view key) const;
    [[nodiscard]] bool any() const;  // whether any level sets a limit

private:
    using Levels = std::unordered_map<std::string, LimitSettings, StringHash, std::equal_to<>>;
    LimitSettings global_;
    Levels logins_;   // lower-case login
    Levels domains_;  // lower-case, without the '@'
};

// A login in the form the limits and the store key on: lower case. The decision path makes one
// per counted relay, so logins of up to 64 bytes are lowered on the stack, not the heap.
class LoginKey {
public:
    explicit LoginKey(std::string_view login);
    LoginKey(const LoginKey&) = delete;  // view() may point into this object
    LoginKey& operator=(const LoginKey&) = delete;
    [[nodiscard]] std::string_view view() const {
        return size_ <= small_.size() ? std::string_view(small_.data(), size_) : std::string_view(large_);
    }

private:
    std::array<char, 64> small_;
    std::string large_;
    size_t size_ = 0;
};
[[nodiscard]] inline std::string login_key(std::string_view login) { return std::string(LoginKey(login).view()); }

// What the limit stores key a login on: FNV-1a (64 bits) of its login_key() form, lowered on the
// fly (no copy). Logins with the same id would share one budget and one lock: stricter, never
// looser. The Redis store's keys carry it, so every host and both stores agree.
[[nodiscard]] uint64_t login_id(std::string_view login);

}  // namespace relaymilter
