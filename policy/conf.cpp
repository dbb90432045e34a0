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

enum class Key {
    local_domain, allow_authenticated, allow_net, internal_address, deny_net, reject_reply,
    mode, allow_open_relay, socket, user, pidfile, log, listen_backlog
};

struct KeyInfo {
    std::string_view name;
    Key key;
    bool repeatable;
};

constexpr KeyInfo kKeys[] = {
    {"local-domain", Key::local_domain, true},
    {"allow-authenticated", Key::allow_authenticated, false},
    {"allow-net", Key::allow_net, true},
    {"internal-address", Key::internal_address, true},
    {"deny-net", Key::deny_net, true},
    {"reject-reply", Key::reject_reply, false},
    {"mode", Key::mode, false},
    {"allow-open-relay", Key::allow_open_relay, false},
    {"socket", Key::socket, false},
    {"user", Key::user, false},
    {"pidfile", Key::pidfile, false},
    {"log", Key::log, false},
    {"listen-backlog", Key::listen_backlog, false},
};

const KeyInfo* find_key(std::string_view name) {
    for (const KeyInfo& info : kKeys) {
        if (info.name == name) return &info;
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
    Parser(std::string name, Conf& conf, std::vector<ConfError>& errors)
        : name_(std::move(name)), conf_(conf), errors_(errors) {}

    void line(int number, std::string_view text);
    void finish();

private:
    void error(int line, std::string message) { errors_.push_back({name_, line, std::move(message)}); }
    void value(int line, const KeyInfo& key, std::string_view value);
    void net(int line, std::string_view key, std::string_view value, NetRules& rules);

    std::string name_;
    Conf& conf_;
    std::vector<ConfError>& errors_;
    int first_seen_[std::size(kKeys)] = {};
    struct {
        int line = 0;
        std::string what;
    } open_relay_;  // the first allow rule that covers every address
};

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
    auto index = static_cast<size_t>(key - kKeys);
    if (!key->repeatable && first_seen_[index]) {
        error(number, std::string(name) + ": given twice (first at line " + std::to_string(first_seen_[index]) + ")");
        return;
    }
    if (!first_seen_[index]) first_seen_[index] = number;
    if (val.empty()) {
        error(number, std::string(name) + ": empty value");
        return;
    }
    value(number, *key, val);
}

void Parser::value(int line, const KeyInfo& key, std::string_view val) {
    const std::string name(key.name);
    switch (key.key) {
    case Key::local_domain: {
        bool parents = val.front() == '.';
        std::string_view domain = parents ? val.substr(1) : val;
        if (val.size() > 1 && val[0] == '*' && val[1] == '.') {
            error(line, name + ": '" + std::string(val) + "': wildcards are not supported; did you mean '" +
                            std::string(val.substr(1)) + "' (every subdomain)?");
            return;
        }
        auto canonical = canonical_domain(domain);
        if (!canonical || (parents && canonical->front() == '[')) {
            error(line, name + ": '" + std::string(val) + "' is not a domain name or address literal such as [192.0.2.25]");
            return;
        }
        conf_.local_domains.push_back({parents ? "." + *canonical : *canonical, line});
        return;
    }
    case Key::allow_net:
        net(line, key.name, val, conf_.allow_nets);
        return;
    case Key::internal_address:
        net(line, key.name, val, conf_.internal_addresses);
        return;
    case Key::deny_net:
        net(line, key.name, val, conf_.deny_nets);
        return;
    case Key::allow_authenticated:
    case Key::allow_open_relay: {
        auto flag = parse_bool(val);
        if (!flag) {
            error(line, name + ": '" + std::string(val) + "' is not yes or no");
            return;
        }
        (key.key == Key::allow_authenticated ? conf_.allow_authenticated : conf_.allow_open_relay) = *flag;
        return;
    }
    case Key::reject_reply:
        if (auto problem = parse_reply(val, conf_.reject_reply)) error(line, name + ": " + *problem);
        return;
    case Key::mode:
        if (val == "enforce") {
            conf_.mode = Mode::enforce;
        } else if (val == "dry-run") {
            conf_.mode = Mode::dry_run;
        } else {
            error(line, name + ": '" + std::string(val) + "' is not enforce or dry-run");
        }
        return;
    case Key::socket:
        if (auto problem = socket_spec_problem(val)) {
            error(line, name + ": " + *problem);
        } else {
            conf_.socket = std::string(val);
        }
        return;
    case Key::user:
        if (val.find_first_of(" \t:/") != std::string_view::npos) {
            error(line, name + ": '" + std::string(val) + "' is not a user name");
        } else {
            conf_.user = std::string(val);
        }
        return;
    case Key::pidfile:
        if (val.front() != '/') {
            error(line, name + ": '" + std::string(val) + "' is not an absolute path");
        } else {
            conf_.pidfile = std::string(val);
        }
        return;
    case Key::log:
        if (val != "syslog" && val != "stderr") {
            error(line, name + ": '" + std::string(val) + "' is not syslog or stderr");
        } else {
            conf_.log = std::string(val);
        }
        return;
    case Key::listen_backlog: {
        int value = 0;
        auto [end, ec] = std::from_chars(val.data(), val.data() + val.size(), value);
        if (!all_digits(val) || ec != std::errc() || end != val.data() + val.size() || value < 1 || value > 65535) {
            error(line, name + ": '" + std::string(val) + "' is not a number from 1 to 65535");
        } else {
            conf_.listen_backlog = value;
        }
        return;
    }
    }
}

void Parser::net(int line, std::string_view key, std::string_view val, NetRules& rules) {
    auto parsed = Net::parse(val);
    if (auto* problem = std::get_if<std::string>(&parsed)) {
        error(line, std::string(key) + ": " + *problem);
        return;
    }
    const Net& net = std::get<Net>(parsed);
    if (&rules != &conf_.deny_nets && (net.covers_all_v4() || net.covers_all_v6())) {
        if (!open_relay_.line) open_relay_ = {line, std::string(key) + " = " + std::string(val)};
    }
    rules.push_back({net, line});
}

void Parser::finish() {
    if (open_relay_.line && !conf_.allow_open_relay) {
        error(open_relay_.line,
              open_relay_.what + ": covers every address and makes an open relay; "
              "set allow-open-relay = yes if that is really meant");
    }
}

}  // namespace

std::string Reply::to_string() const {
    std::string out = code;
    if (!enhanced.empty()) out += " " + enhanced;
    if (!text.empty()) out += " " + text;
    return out;
}

std::string ConfError::to_string() const {
    return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
}

std::optional<std::string> parse_reply(std::string_view text, Reply& reply) {
    auto space = text.find(' ');
    std::string_view code = text.substr(0, space);
    if (code.size() != 3 || !all_digits(code) || code[0] != '5' || code[1] > '5') {
        return "'" + std::string(text) + "' must start with a 5xx reply code (a refused relay is permanent), e.g. 550";
    }
    std::string_view rest = space == std::string_view::npos ? std::string_view{} : trim(text.substr(space + 1));
    std::string enhanced;
    if (!rest.empty() && rest[0] >= '0' && rest[0] <= '9') {
        auto end = rest.find(' ');
        std::string_view candidate = rest.substr(0, end);
        auto dot1 = candidate.find('.');
        auto dot2 = dot1 == std::string_view::npos ? dot1 : candidate.find('.', dot1 + 1);
        bool ok = dot2 != std::string_view::npos && candidate.substr(0, dot1) == "5" &&
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

std::optional<std::string> socket_spec_problem(std::string_view spec) {
    const std::string shown = "'" + std::string(spec) + "'";
    auto colon = spec.find(':');
    if (colon == std::string_view::npos) {
        if (!spec.empty() && spec.front() == '/') return std::nullopt;  // a bare path: a UNIX socket
        return shown + " is not a milter socket: write unix:/path, inet:PORT@HOST or inet6:PORT@HOST";
    }
    std::string_view proto = spec.substr(0, colon);
    std::string_view rest = spec.substr(colon + 1);
    if (proto == "unix" || proto == "local") {
        if (rest.empty() || rest.front() != '/') return shown + ": the socket path must be absolute";
        return std::nullopt;
    }
    if (proto == "inet" || proto == "inet6") {
        auto at = rest.find('@');
        std::string_view port = rest.substr(0, at);
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (port.empty() || !all_digits(port) || ec != std::errc() || value == 0 || value > 65535) {
            return shown + ": '" + std::string(port) + "' is not a port from 1 to 65535";
        }
        if (at != std::string_view::npos && at + 1 == rest.size()) return shown + ": no host after '@'";
        return std::nullopt;
    }
    return shown + ": unknown socket type '" + std::string(proto) + "' (use unix, inet or inet6)";
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
