// http_scrape: the tests' own minimal HTTP/1.1 client (one request per loopback connection,
// read to EOF, every wait bounded) and a reader for the Prometheus text format that gives each
// sample by name and labels. Test code only: no chunked encoding, no redirects, no TLS.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace relaymilter::test {

struct HttpReply {
    int status = 0;  // 0: no status line came back
    std::string headers;
    std::string body;
};

// Sends `request` (a whole HTTP request, CRLFs included) to 127.0.0.1 or ::1 at `port` and reads
// the reply until the server closes. Throws when the connection fails or a wait passes 10 s.
inline HttpReply http_exchange(uint16_t port, std::string_view request, bool ipv6 = false) {
    const int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    sockaddr_storage address{};
    socklen_t length = 0;
    if (ipv6) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&address);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        sin6->sin6_addr = in6addr_loopback;
        length = sizeof *sin6;
    } else {
        auto* sin = reinterpret_cast<sockaddr_in*>(&address);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof *sin;
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
        throw std::runtime_error("connect to port " + std::to_string(port) + ": " + std::strerror(errno));
    }
    for (size_t sent = 0; sent < request.size();) {
        const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) throw std::runtime_error("send: " + std::string(std::strerror(errno)));
        sent += static_cast<size_t>(n);
    }
    std::string raw;
    for (;;) {
        pollfd pfd{fd, POLLIN, 0};
        const int ready = ::poll(&pfd, 1, 10'000);
        if (ready == 0) throw std::runtime_error("no reply within 10 s");
        if (ready < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error("poll: " + std::string(std::strerror(errno)));
        }
        char buf[8192];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == ECONNRESET) break;  // what was read before the reset still counts
        if (n < 0) throw std::runtime_error("recv: " + std::string(std::strerror(errno)));
        if (n == 0) break;
        raw.append(buf, static_cast<size_t>(n));
    }
    HttpReply reply;
    const auto end_of_headers = raw.find("\r\n\r\n");
    reply.headers = raw.substr(0, end_of_headers);
    if (end_of_headers != std::string::npos) reply.body = raw.substr(end_of_headers + 4);
    if (raw.rfind("HTTP/1.", 0) == 0 && raw.size() >= 12) reply.status = std::stoi(raw.substr(9, 3));
    return reply;
}

// "METHOD PATH" with a Host header and Connection: close; `body` is sent with its Content-Length.
inline HttpReply http_request(uint16_t port, std::string_view method, std::string_view path, std::string_view body = {},
                              bool ipv6 = false) {
    std::string request = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\n";
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    request += "Connection: close\r\n\r\n";
    request += body;
    return http_exchange(port, request, ipv6);
}

// The samples of a scrape, keyed "name{label="value",...}" with the labels sorted by name (as
// key() builds them); HELP and TYPE lines by metric name.
struct Scrape {
    std::map<std::string, double> samples;
    std::map<std::string, std::string> help;
    std::map<std::string, std::string> type;

    [[nodiscard]] static std::string key(std::string_view name, const std::map<std::string, std::string>& labels = {}) {
        std::string out(name);
        if (labels.empty()) return out;
        out += '{';
        bool first = true;
        for (const auto& [label, value] : labels) {
            if (!first) out += ',';
            first = false;
            out += label + "=\"" + value + "\"";
        }
        return out + '}';
    }
    // The sample's value, or nullopt when the scrape does not have it.
    [[nodiscard]] std::optional<double> value(std::string_view name, const std::map<std::string, std::string>& labels = {}) const {
        const auto it = samples.find(key(name, labels));
        if (it == samples.end()) return std::nullopt;
        return it->second;
    }
};

// Reads Prometheus text exposition; throws on a line it cannot read.
inline Scrape parse_scrape(const std::string& text) {
    Scrape scrape;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        if (line.empty()) continue;
        if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
            const auto space = line.find(' ', 7);
            auto& table = line[2] == 'H' ? scrape.help : scrape.type;
            table[line.substr(7, space - 7)] = space == std::string::npos ? "" : line.substr(space + 1);
            continue;
        }
        if (line[0] == '#') continue;
        const auto brace = line.find('{');
        const auto space = line.find(' ', brace == std::string::npos ? 0 : line.find('}'));
        if (space == std::string::npos) throw std::runtime_error("no value in '" + line + "'");
        std::map<std::string, std::string> labels;
        std::string name = line.substr(0, brace == std::string::npos ? space : brace);
        if (brace != std::string::npos) {
            const auto close = line.find('}', brace);
            std::string_view rest(line.data() + brace + 1, close - brace - 1);
            while (!rest.empty()) {
                const auto eq = rest.find("=\"");
                const auto quote = rest.find('"', eq + 2);
                if (eq == std::string_view::npos || quote == std::string_view::npos) {
                    throw std::runtime_error("bad labels in '" + line + "'");
                }
                labels[std::string(rest.substr(0, eq))] = std::string(rest.substr(eq + 2, quote - eq - 2));
                rest.remove_prefix(quote + 1);
                if (!rest.empty() && rest.front() == ',') rest.remove_prefix(1);
            }
        }
        scrape.samples[Scrape::key(name, labels)] = std::stod(line.substr(space + 1));
    }
    return scrape;
}

}  // namespace relaymilter::test
