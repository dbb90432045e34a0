// conf: a line reader for the Program_options config-file syntax that keeps line numbers,
// so every error can name FILE:LINE and the key (Program_options' own parser reports neither).
#include "conf.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <variant>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "open_relay.hpp"
#include "recipient.hpp"

namespace relaymilter {

namespace {

std::string_view trim(std::string_view s) {
    const char* space = " \t\r";
    size_t first = s.find_first_not_of(space);
    if (first == std::string_view::npos) return {};
    size_t last = s.find_last_not_of(space);
    return s.substr(first, last - first + 1);
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// Program_options' spellings of a boolean.
std::optional<bool> parse_bool(std::string_view value) {
    std::string v = lower(value);
    if (v == "yes" || v == "true" || v == "on" || v == "1") return true;
    if (v == "no" || v == "false" || v == "off" || v == "0") return false;
    return std::nullopt;
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

class Parser;

// One conf key: its name, whether it may be given more than once, and its parser, which checks
// the value and stores it in the Conf. Adding a key is adding a row here (and its Conf field).
struct KeyInfo {
    std::string_view name;
    bool repeatable;
    void (*parse)(Parser& parser, int line, std::string_view name, std::string_view value);
};

extern const KeyInfo kKeys[];
extern const size_t kKeyCount;

const KeyInfo* find_key(std::string_view name) {
    for (size_t i = 0; i < kKeyCount; ++i) {
        if (kKeys[i].name == name) return &kKeys[i];
    }
    return nullptr;
}

// A hint for an unknown key: the known key it most likely means, if any.
std::string key_hint(std::string_view name) {
    std::string guess = lower(name);
    for (char& c : guess) {
        if (c == '_' || c == ' ') c = '-';
    }
    if (guess.size() > 1 && guess.back() == 's' && !find_key(guess)) guess.pop_back();  // allow-nets
    if (const KeyInfo* info = find_key(guess)) return "; did you mean '" + std::string(info->name) + "'?";
    return "";
}

class Parser {
public:
    Parser(std::string name, Conf& into, std::vector<ConfError>& errors)
        : conf(into), name_(std::move(name)), errors_(errors), first_seen_(kKeyCount) {}

    void line(int number, std::string_view text);
    void finish();

    // The value parsers the key table uses; each reports "KEY: ..." at the line on bad input.
    void error(int line, std::string message) { errors_.push_back({name_, line, std::move(message)}); }
    void local_domain(int line, std::string_view key, std::string_view value);
    void net(int line, std::string_view key, std::string_view value, NetRules& rules);
    void flag(int line, std::string_view key, std::string_view value, bool& out);
    void reply(int line, std::string_view key, std::string_view value, Reply& out);
    template <typename T, size_t N>
    void choice(int line, std::string_view key, std::string_view value, const std::pair<std::string_view, T> (&names)[N],
                T& out);
    void text(int line, std::string_view key, std::string_view value, std::optional<std::string>& out,
              std::optional<std::string> (*problem)(std::string_view));
    void number(int line, std::string_view key, std::string_view value, std::optional<int>& out, int low, int high);
    void limit(int line, std::string_view key, std::string_view value, LimitSetting LimitSettings::*setting);
    void login_limit(int line, std::string_view key, std::string_view value);
    void lock_time(int line, std::string_view key, std::string_view value);
    void port(int line, std::string_view key, std::string_view value);

    LimitSettings global_limits;  // the login-*-limit keys, given to conf.policy.limits at the end

    Conf& conf;

private:
    std::string name_;
    std::vector<ConfError>& errors_;
    std::vector<int> first_seen_;
};

constexpr std::pair<std::string_view, Mode> kModes[] = {{"enforce", Mode::enforce}, {"dry-run", Mode::dry_run}};


const KeyInfo kKeys[] = {
    {"local-domain", true, [](Parser& p, int l, std::string_view k, std::string_view v) { p.local_domain(l, k, v); }},
    {"allow-authenticated", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) { p.flag(l, k, v, p.conf.policy.allow_authenticated); }},
    {"allow-net", true, [](Parser& p, int l, std::string_view k, std::string_view v) { p.net(l, k, v, p.conf.allow_nets); }},
    {"internal-address", true,
     [](Parser& p, int l, std::string_view k, std::string_view v) { p.net(l, k, v, p.conf.internal_addresses); }},
    {"deny-net", true, [](Parser& p, int l, std::string_view k, std::string_view v) { p.net(l, k, v, p.conf.deny_nets); }},
    {"reject-reply", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) { p.reply(l, k, v, p.conf.policy.reject_reply); }},
    {"mode", false, [](Parser& p, int l, std::string_view k, std::string_view v) { p.choice(l, k, v, kModes, p.conf.policy.mode); }},
    {"allow-open-relay", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) { p.flag(l, k, v, p.conf.policy.allow_open_relay); }},
    {"socket", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) {
         auto parsed = SocketSpec::parse(v);
         if (auto* problem = std::get_if<std::string>(&parsed)) return p.error(l, std::string(k) + ": " + *problem);
         p.conf.daemon.socket = std::get<SocketSpec>(parsed);
     }},
    {"user", false, [](Parser& p, int l, std::string_view k, std::string_view v) { p.text(l, k, v, p.conf.daemon.user, user_problem); }},
    {"pidfile", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) { p.text(l, k, v, p.conf.daemon.pidfile, pidfile_problem); }},
    {"log", false, [](Parser& p, int l, std::string_view k, std::string_view v) { p.text(l, k, v, p.conf.daemon.log, log_problem); }},
    {"metrics", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) {
         std::string why;
         p.conf.daemon.metrics = parse_metrics_address(v, why);
         if (!p.conf.daemon.metrics) p.error(l, std::string(k) + ": '" + std::string(v) + "': " + why);
     }},
    {"limits-store", false,
     [](Parser& p, int l, std::string_view, std::string_view v) {
         std::string why;
         auto address = parse_store_address(v, why);
         if (!address) return p.error(l, why);  // the whole message, the password masked
         p.conf.daemon.limits_store = *address;
     }},
    {"limits-store-timeout", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) {
         std::string why;
         auto timeout = parse_store_timeout(v, why);
         if (!timeout) return p.error(l, std::string(k) + ": '" + std::string(v) + "': " + why);
         p.conf.daemon.limits_store_timeout = *timeout;
     }},
    {"limits-store-failure", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) {
         std::string why;
         auto failure = parse_store_failure(v, why);
         if (!failure) return p.error(l, std::string(k) + ": '" + std::string(v) + "': " + why);
         p.conf.daemon.limits_store_failure = *failure;
     }},
    {"listen-backlog", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) { p.number(l, k, v, p.conf.daemon.listen_backlog, 1, 65535); }},
    {"login-recipient-limit", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) { p.limit(l, k, v, &LimitSettings::recipients); }},
    {"login-message-limit", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) { p.limit(l, k, v, &LimitSettings::messages); }},
    {"login-client-limit", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) { p.limit(l, k, v, &LimitSettings::clients); }},
    {"login-lock-time", false, [](Parser& p, int l, std::string_view k, std::string_view v) { p.lock_time(l, k, v); }},
    {"login-limit", true, [](Parser& p, int l, std::string_view k, std::string_view v) { p.login_limit(l, k, v); }},
    {"limit-reply", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) {
         if (auto problem = parse_reply(v, p.conf.policy.limit_reply, true)) p.error(l, std::string(k) + ": " + *problem);
     }},
    {"lock-reply", false,
     [](Parser& p, int l, std::string_view k, std::string_view v) {
         if (auto problem = parse_reply(v, p.conf.policy.lock_reply, true)) p.error(l, std::string(k) + ": " + *problem);
     }},
    {"authenticated-port", true, [](Parser& p, int l, std::string_view k, std::string_view v) { p.port(l, k, v); }},
};
const size_t kKeyCount = std::size(kKeys);

void Parser::line(int number, std::string_view text) {
    if (auto hash = text.find('#'); hash != std::string_view::npos) text = text.substr(0, hash);
    text = trim(text);
    if (text.empty()) return;
    if (text.front() == '[') {
        error(number, "sections ('" + std::string(text) + "') are not supported: keys are flat, e.g. allow-net = 192.0.2.0/24");
        return;
    }
    auto eq = text.find('=');
    if (eq == std::string_view::npos) {
        error(number, "expected 'key = value', got '" + std::string(text) + "'");
        return;
    }
    std::string_view name = trim(text.substr(0, eq));
    std::string_view val = trim(text.substr(eq + 1));
    const KeyInfo* key = find_key(name);
    if (!key) {
        error(number, "unknown key '" + std::string(name) + "'" + key_hint(name));
        return;
    }
    const auto index = static_cast<size_t>(key - kKeys);
    if (!key->repeatable && first_seen_[index]) {
        error(number, std::string(name) + ": given twice (first at line " + std::to_string(first_seen_[index]) + ")");
        return;
    }
    if (!first_seen_[index]) first_seen_[index] = number;
    if (val.empty()) {
        error(number, std::string(name) + ": empty value");
        return;
    }
    key->parse(*this, number, key->name, val);
}

void Parser::local_domain(int line, std::string_view key, std::string_view val) {
    const std::string name(key);
    bool parents = val.front() == '.';
    std::string_view domain = parents ? val.substr(1) : val;
    if (val.size() > 1 && val[0] == '*' && val[1] == '.') {
        error(line, name + ": '" + std::string(val) + "': wildcards are not supported; did you mean '" +
                        std::string(val.substr(1)) + "' (every subdomain)?");
        return;
    }
    if (!parents && domain.front() == '[') {
        std::string why;
        auto literal = address_literal(domain, why);
        if (!literal) {
            error(line, name + ": '" + std::string(val) + "': " + why);
            return;
        }
    }
    auto canonical = canonical_domain(domain);
    if (!canonical || (parents && canonical->front() == '[')) {
        error(line, name + ": '" + std::string(val) + "' is not a domain name or address literal such as [192.0.2.25]");
        return;
    }
    conf.local_domains.push_back({parents ? "." + *canonical : *canonical, line});
}

void Parser::flag(int line, std::string_view key, std::string_view val, bool& out) {
    auto value = parse_bool(val);
    if (!value) return error(line, std::string(key) + ": '" + std::string(val) + "' is not yes or no");
    out = *value;
}

void Parser::reply(int line, std::string_view key, std::string_view val, Reply& out) {
    if (auto problem = parse_reply(val, out)) error(line, std::string(key) + ": " + *problem);
}

template <typename T, size_t N>
void Parser::choice(int line, std::string_view key, std::string_view val, const std::pair<std::string_view, T> (&names)[N],
                    T& out) {
    std::string all;
    for (const auto& [name, value] : names) {
        if (name == val) {
            out = value;
            return;
        }
        all += (all.empty() ? "" : " or ") + std::string(name);
    }
    error(line, std::string(key) + ": '" + std::string(val) + "' is not " + all);
}

void Parser::text(int line, std::string_view key, std::string_view val, std::optional<std::string>& out,
                  std::optional<std::string> (*problem)(std::string_view)) {
    if (auto why = problem(val)) return error(line, std::string(key) + ": " + *why);
    out = std::string(val);
}

void Parser::number(int line, std::string_view key, std::string_view val, std::optional<int>& out, int low, int high) {
    int value = 0;
    auto [end, ec] = std::from_chars(val.data(), val.data() + val.size(), value);
    if (!all_digits(val) || ec != std::errc() || end != val.data() + val.size() || value < low || value > high) {
        return error(line, std::string(key) + ": '" + std::string(val) + "' is not a number from " + std::to_string(low) +
                               " to " + std::to_string(high));
    }
    out = value;
}

void Parser::limit(int line, std::string_view key, std::string_view val, LimitSetting LimitSettings::*setting) {
    std::string why;
    auto rate = parse_rate(val, why);
    if (!rate) return error(line, std::string(key) + ": '" + std::string(val) + "': " + why);
    global_limits.*setting = {true, rate};
}

void Parser::login_limit(int line, std::string_view key, std::string_view val) {
    const auto space = val.find_first_of(" \t");
    const std::string_view who = val.substr(0, space);
    const bool domain = who.front() == '@';
    if (space == std::string_view::npos || who.size() < 2 || (!domain && who.find_first_of("<>\"") != std::string_view::npos)) {
        return error(line, std::string(key) + ": '" + std::string(val) +
                               "': write a login (alice@example.com) or a domain (@example.org), then the settings");
    }
    std::string why;
    auto settings = parse_limit_settings(val.substr(space + 1), why);
    if (!settings) return error(line, std::string(key) + ": " + std::string(who) + ": " + why);
    if (!conf.policy.limits.add(who, *settings)) return error(line, std::string(key) + ": " + std::string(who) + " given twice");
}

void Parser::lock_time(int line, std::string_view key, std::string_view val) {
    std::string why;
    auto seconds = parse_duration(val, why);
    if (!seconds) return error(line, std::string(key) + ": '" + std::string(val) + "': " + why);
    conf.policy.lock_seconds = *seconds;
}

void Parser::port(int line, std::string_view key, std::string_view val) {
    std::optional<int> port;
    number(line, key, val, port, 1, 65535);
    if (port) conf.policy.authenticated_ports.push_back(static_cast<uint16_t>(*port));
}

void Parser::net(int line, std::string_view key, std::string_view val, NetRules& rules) {
    auto parsed = Net::parse(val);
    if (auto* problem = std::get_if<std::string>(&parsed)) {
        error(line, std::string(key) + ": " + *problem);
        return;
    }
    rules.push_back({std::get<Net>(parsed), line});
}

void Parser::finish() {
    conf.policy.limits.set_global(global_limits);
    for (ConfError& problem : open_relay_problems(conf)) errors_.push_back(std::move(problem));
}

}  // namespace

std::optional<std::string> user_problem(std::string_view v) {
    if (v.empty() || v.find_first_of(" \t:/") != std::string_view::npos) return "'" + std::string(v) + "' is not a user name";
    return std::nullopt;
}

std::optional<std::string> pidfile_problem(std::string_view v) {
    if (v.empty() || v.front() != '/') return "'" + std::string(v) + "' is not an absolute path";
    return std::nullopt;
}

std::optional<std::string> log_problem(std::string_view v) {
    if (v != "syslog" && v != "stderr") return "'" + std::string(v) + "' is not syslog or stderr";
    return std::nullopt;
}

std::string Reply::to_string() const {
    std::string out = code;
    if (!enhanced.empty()) out += " " + enhanced;
    if (!text.empty()) out += " " + text;
    return out;
}

std::string ConfError::to_string() const {
    return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
}

std::optional<std::string> parse_reply(std::string_view text, Reply& reply, bool temporary_too) {
    auto space = text.find(' ');
    std::string_view code = text.substr(0, space);
    const bool code_ok = code.size() == 3 && all_digits(code) && (code[0] == '5' || (temporary_too && code[0] == '4')) &&
                         code[1] <= '5';
    if (!code_ok) {
        return temporary_too ? "'" + std::string(text) + "' must start with a 4xx or 5xx reply code, e.g. 451"
                             : "'" + std::string(text) + "' must start with a 5xx reply code (a refused relay is permanent), e.g. 550";
    }
    std::string_view rest = space == std::string_view::npos ? std::string_view{} : trim(text.substr(space + 1));
    std::string enhanced;
    if (!rest.empty() && rest[0] >= '0' && rest[0] <= '9') {
        auto end = rest.find(' ');
        std::string_view candidate = rest.substr(0, end);
        auto dot1 = candidate.find('.');
        auto dot2 = dot1 == std::string_view::npos ? dot1 : candidate.find('.', dot1 + 1);
        bool ok = dot2 != std::string_view::npos && candidate.substr(0, dot1) == code.substr(0, 1) &&
                  all_digits(candidate.substr(dot1 + 1, dot2 - dot1 - 1)) && dot2 - dot1 - 1 <= 3 &&
                  all_digits(candidate.substr(dot2 + 1)) && candidate.size() - dot2 - 1 <= 3;
        if (!ok) return "'" + std::string(candidate) + "' is not an enhanced status code such as 5.7.1";
        enhanced = std::string(candidate);
        rest = end == std::string_view::npos ? std::string_view{} : trim(rest.substr(end + 1));
    }
    if (rest.empty()) return "'" + std::string(text) + "' has no text after the code, e.g. 550 5.7.1 Relaying prohibited";
    if (rest.size() > 900) return "the reply text is longer than 900 characters";
    for (char c : rest) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) return "the reply text must be printable ASCII";
    }
    reply = {std::string(code), std::move(enhanced), std::string(rest)};
    return std::nullopt;
}

// How many lines start with `key`: lets a million-rule conf fill its lists without regrowing them.
size_t count_lines_starting(std::string_view text, std::string_view key) {
    size_t count = 0;
    for (size_t at = 0; at < text.size();) {
        size_t first = text.find_first_not_of(" \t", at);
        if (first == std::string_view::npos) break;
        if (text.compare(first, key.size(), key) == 0) ++count;
        size_t newline = text.find('\n', first);
        if (newline == std::string_view::npos) break;
        at = newline + 1;
    }
    return count;
}

ConfResult parse_conf(std::string_view text, const std::string& name) {
    ConfResult result;
    Conf conf;
    conf.path = name;
    conf.allow_nets.reserve(count_lines_starting(text, "allow-net"));
    conf.deny_nets.reserve(count_lines_starting(text, "deny-net"));
    conf.internal_addresses.reserve(count_lines_starting(text, "internal-address"));
    Parser parser(name, conf, result.errors);
    int number = 0;
    while (!text.empty() || number == 0) {
        ++number;
        auto newline = text.find('\n');
        std::string_view one = text.substr(0, newline);
        if (one.find('\0') != std::string_view::npos) {
            result.errors.push_back({name, number, "NUL byte in the line"});
        } else {
            parser.line(number, one);
        }
        if (newline == std::string_view::npos) break;
        text.remove_prefix(newline + 1);
    }
    parser.finish();
    std::stable_sort(result.errors.begin(), result.errors.end(),
                     [](const ConfError& a, const ConfError& b) { return a.line < b.line; });
    if (result.errors.empty()) result.conf = std::move(conf);
    return result;
}

ConfResult read_conf(const std::string& path) {
    auto failed = [&path](const char* what) {
        ConfResult result;
        result.errors.push_back({path, 0, std::string(what) + ": " + std::strerror(errno)});
        return result;
    };
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return failed("cannot open");
    std::vector<char, LargeAllocator<char>> contents;
    struct stat st {};
    if (fstat(fd, &st) == 0 && st.st_size > 0) contents.reserve(static_cast<size_t>(st.st_size) + 1);
    for (;;) {  // read straight into the string, growing it when the file was larger than said
        const size_t used = contents.size();
        contents.resize(std::max(contents.capacity(), used + 65536));
        ssize_t n = ::read(fd, contents.data() + used, contents.size() - used);
        contents.resize(used + static_cast<size_t>(std::max<ssize_t>(n, 0)));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            ConfResult result = failed("cannot read");
            ::close(fd);
            return result;
        }
        if (n == 0) break;
    }
    ::close(fd);
    return parse_conf(std::string_view(contents.data(), contents.size()), path);
}

}  // namespace relaymilter
