// limits: parsing rates, durations and login-limit settings, and resolving a login's limits
// level by level.
#include "limits.hpp"

#include <charconv>

namespace relaymilter {

namespace {

std::optional<uint64_t> number(std::string_view text) {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The most-specific level that says something decides.
std::optional<Rate> resolve(const LimitSetting& login, const LimitSetting& domain, const LimitSetting& global) {
    if (login.set) return login.rate;
    if (domain.set) return domain.rate;
    return global.rate;
}

}  // namespace

uint64_t login_id(std::string_view login) {
    uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a, 64 bits
    for (char c : login) {
        hash ^= static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        hash *= 0x100000001b3ull;
    }
    return hash;
}

LoginKey::LoginKey(std::string_view login) : size_(login.size()) {
    char* out = size_ <= small_.size() ? small_.data() : (large_.resize(size_), large_.data());
    for (char c : login) *out++ = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string duration_text(uint32_t seconds) {
    if (seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
    if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
    if (seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
    return std::to_string(seconds) + "s";
}

std::string rate_text(const Rate& rate) { return std::to_string(rate.count) + "/" + duration_text(rate.period_seconds); }

std::optional<uint32_t> parse_duration(std::string_view text, std::string& why) {
    static constexpr struct {
        char unit;
        uint32_t seconds;
    } kUnits[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    if (!text.empty()) {
        for (const auto& u : kUnits) {
            if (text.back() != u.unit) continue;
            auto n = number(text.substr(0, text.size() - 1));
            if (n && *n > 0 && *n <= 366u * 86400 / u.seconds) return static_cast<uint32_t>(*n * u.seconds);
        }
    }
    why = "a duration is a number and one of s, m, h, d (from 1s to 366d), e.g. 1h";
    return std::nullopt;
}

std::optional<Rate> parse_rate(std::string_view text, std::string& why) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) {
        why = "write N/PERIOD, e.g. 500/1h";
        return std::nullopt;
    }
    auto count = number(text.substr(0, slash));
    if (!count || *count == 0 || *count > 1'000'000) {
        why = "the count before '/' is a number from 1 to 1000000";
        return std::nullopt;
    }
    std::string period_why;
    auto period = parse_duration(text.substr(slash + 1), period_why);
    if (!period) {
        why = "the period is a number and one of s, m, h, d, e.g. 500/1h";
        return std::nullopt;
    }
    return Rate{static_cast<uint32_t>(*count), *period};
}

std::optional<LimitSettings> parse_limit_settings(std::string_view text, std::string& why) {
    LimitSettings settings;
    text = trim(text);
    if (text == "none") {
        settings.recipients = settings.messages = settings.clients = LimitSetting{true, std::nullopt};
        return settings;
    }
    if (text.empty()) {
        why = "no settings: give recipients=N/PERIOD, messages=N/PERIOD, clients=N/PERIOD (each may be none), or none";
        return std::nullopt;
    }
    while (!text.empty()) {
        const auto space = text.find_first_of(" \t");
        const std::string_view word = text.substr(0, space);
        text = space == std::string_view::npos ? std::string_view{} : trim(text.substr(space));
        const auto eq = word.find('=');
        const std::string_view name = word.substr(0, eq);
        LimitSetting* setting = name == "recipients" ? &settings.recipients
                                : name == "messages" ? &settings.messages
                                : name == "clients"  ? &settings.clients
                                                     : nullptr;
        if (!setting || eq == std::string_view::npos) {
            why = "'" + std::string(word) + "' is not recipients=, messages= or clients= (or none alone)";
            return std::nullopt;
        }
        if (setting->set) {
            why = std::string(name) + " given twice";
            return std::nullopt;
        }
        const std::string_view value = word.substr(eq + 1);
        setting->set = true;
        if (value == "none") continue;
        std::string rate_why;
        setting->rate = parse_rate(value, rate_why);
        if (!setting->rate) {
            why = std::string(name) + "='" + std::string(value) + "': " + rate_why;
            return std::nullopt;
        }
    }
    return settings;
}

std::string LoginLimits::text() const {
    std::string out;
    auto add = [&out](const char* name, const std::optional<Rate>& rate) {
        if (!rate) return;
        if (!out.empty()) out += ", ";
        out += std::string(name) + " " + rate_text(*rate);
    };
    add("recipients", recipients);
    add("messages", messages);
    add("clients", clients);
    return out.empty() ? "none" : out;
}

bool LimitTable::add(std::string_view who, const LimitSettings& settings) {
    std::string key = login_key(who);
    if (!key.empty() && key.front() == '@') return domains_.emplace(key.substr(1), settings).second;
    return logins_.emplace(std::move(key), settings).second;
}

LoginLimits LimitTable::lookup(std::string_view login) const {
    if (logins_.empty() && domains_.empty()) return lookup_key({});  // no override: no key needed
    return lookup_key(login_key(login));
}

LoginLimits LimitTable::lookup_key(std::string_view key) const {
    static const LimitSettings kUnset;
    const LimitSettings* exact = &kUnset;
    const LimitSettings* domain = &kUnset;
    if (!logins_.empty()) {
        if (auto it = logins_.find(key); it != logins_.end()) exact = &it->second;
    }
    if (!domains_.empty()) {
        const auto at = key.rfind('@');
        if (at != std::string_view::npos) {
            if (auto it = domains_.find(key.substr(at + 1)); it != domains_.end()) domain = &it->second;
        }
    }
    return {resolve(exact->recipients, domain->recipients, global_.recipients),
            resolve(exact->messages, domain->messages, global_.messages),
            resolve(exact->clients, domain->clients, global_.clients)};
}

bool LimitTable::any() const {
    auto level_sets = [](const LimitSettings& s) { return s.recipients.rate || s.messages.rate || s.clients.rate; };
    if (level_sets(global_)) return true;
    for (const auto& [k, s] : logins_) {
        if (level_sets(s)) return true;
    }
    for (const auto& [k, s] : domains_) {
        if (level_sets(s)) return true;
    }
    return false;
}

}  // namespace relaymilter
