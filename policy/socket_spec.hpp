// socket_spec: the milter socket as libmilter writes it ("unix:/path", "local:/path", a bare
// "/path", "inet:PORT@HOST", "inet6:PORT@HOST", HOST optional), parsed once into a value that
// the conf, the command line and the daemon share. It opens nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace relaymilter {

class SocketSpec {
public:
    enum class Kind { unix_path, inet, inet6 };

    // The socket, or why `text` is not one (phrased for "KEY: why" and "--socket why").
    [[nodiscard]] static std::variant<SocketSpec, std::string> parse(std::string_view text);

    [[nodiscard]] Kind kind() const { return kind_; }
    [[nodiscard]] const std::string& path() const { return path_; }  // unix_path
    [[nodiscard]] uint16_t port() const { return port_; }             // inet, inet6
    [[nodiscard]] const std::string& host() const { return host_; }   // inet, inet6: as written, may be empty
    // The address to connect to for reaching our own listener: the host when it is a literal
    // address, loopback for none or a wildcard, empty for a host name (not resolved).
    [[nodiscard]] std::string local_address() const;
    // As written, the form libmilter's smfi_setconn takes.
    [[nodiscard]] const std::string& text() const { return text_; }
    friend bool operator==(const SocketSpec& a, const SocketSpec& b) { return a.text_ == b.text_; }

private:
    SocketSpec() = default;
    Kind kind_ = Kind::unix_path;
    std::string path_;
    uint16_t port_ = 0;
    std::string host_;
    std::string text_;
};

}  // namespace relaymilter
