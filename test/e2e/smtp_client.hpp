// smtp_client: one SMTP connection for the test clients (smtp_dialog, smtp_load): from a chosen
// loopback source address to a server, IPv4 or IPv6, with line-based replies and AUTH PLAIN.
// Test code only: every failure throws; timeouts keep it bounded.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace smtp_test {

inline std::string base64(const std::string& in) {
    static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
        for (int s : {18, 12, 6, 0}) out += table[(v >> s) & 63];
    }
    if (i < in.size()) {
        uint32_t v = uint32_t(uint8_t(in[i])) << 16;
        if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += i + 1 < in.size() ? table[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

// "127.0.0.1:25" or "[::1]:25" split into host and port.
struct Endpoint {
    std::string host;
    uint16_t port = 25;
    static Endpoint parse(const std::string& text) {
        Endpoint e;
        const auto colon = text.rfind(':');
        if (colon == std::string::npos) throw std::runtime_error("want HOST:PORT, got " + text);
        e.host = text.substr(0, colon);
        if (e.host.size() >= 2 && e.host.front() == '[' && e.host.back() == ']') e.host = e.host.substr(1, e.host.size() - 2);
        e.port = static_cast<uint16_t>(std::stoi(text.substr(colon + 1)));
        return e;
    }
};

// A reply: its code and its last line ("250 2.0.0 Ok: queued as 4B5D3A72"), keywords of EHLO.
struct Reply {
    int code = 0;
    std::string last_line;
    std::string all;  // every line, '\n'-separated
};

class Connection {
public:
    Connection(const Endpoint& server, const std::string& source, int timeout_seconds = 15) {
        const bool v6 = server.host.find(':') != std::string::npos;
        fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket");
        timeval tv{timeout_seconds, 0};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
        sockaddr_storage local{}, remote{};
        socklen_t length = fill(local, source, 0, v6);
        if (!source.empty() && bind(fd_, reinterpret_cast<sockaddr*>(&local), length) != 0) {
            close(fd_);
            throw std::runtime_error("bind " + source);
        }
        length = fill(remote, server.host, server.port, v6);
        if (connect(fd_, reinterpret_cast<sockaddr*>(&remote), length) != 0) {
            close(fd_);
            throw std::runtime_error("connect");
        }
    }
    ~Connection() { close(fd_); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // The next (possibly multi-line) reply.
    Reply reply() {
        Reply r;
        for (;;) {
            std::string line = read_line();
            if (line.size() < 3) throw std::runtime_error("short reply '" + line + "'");
            r.all += line + "\n";
            if (line.size() == 3 || line[3] != '-') {
                r.code = std::stoi(line.substr(0, 3));
                r.last_line = line;
                return r;
            }
        }
    }
    Reply command(const std::string& text) {
        send(text + "\r\n");
        return reply();
    }
    void send(const std::string& text) {
        size_t done = 0;
        while (done < text.size()) {
            ssize_t n = write(fd_, text.data() + done, text.size() - done);
            if (n <= 0) throw std::runtime_error("write");
            done += static_cast<size_t>(n);
        }
    }
    // AUTH PLAIN for USER with PASSWORD.
    Reply auth_plain(const std::string& user, const std::string& password) {
        return command("AUTH PLAIN " + base64(std::string(1, '\0') + user + '\0' + password));
    }

private:
    static socklen_t fill(sockaddr_storage& ss, const std::string& host, uint16_t port, bool v6) {
        if (v6) {
            auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(port);
            if (!host.empty() && inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) != 1)
                throw std::runtime_error("not an IPv6 address: " + host);
            return sizeof *sin6;
        }
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        if (!host.empty() && inet_pton(AF_INET, host.c_str(), &sin->sin_addr) != 1)
            throw std::runtime_error("not an IPv4 address: " + host);
        return sizeof *sin;
    }
    std::string read_line() {
        for (;;) {
            auto eol = buffer_.find("\r\n");
            if (eol != std::string::npos) {
                std::string line = buffer_.substr(0, eol);
                buffer_.erase(0, eol + 2);
                return line;
            }
            char chunk[4096];
            ssize_t n = read(fd_, chunk, sizeof chunk);
            if (n <= 0) throw std::runtime_error(n == 0 ? "closed" : "read timeout or reset");
            buffer_.append(chunk, static_cast<size_t>(n));
        }
    }
    int fd_ = -1;
    std::string buffer_;
};

}  // namespace smtp_test
