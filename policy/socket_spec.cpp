// socket_spec: parsing libmilter's socket forms, with a reason for each bad one.
#include "socket_spec.hpp"

#include <charconv>

#include "ip_address.hpp"

namespace relaymilter {

std::variant<SocketSpec, std::string> SocketSpec::parse(std::string_view spec) {
    const std::string shown = "'" + std::string(spec) + "'";
    SocketSpec s;
    s.text_ = std::string(spec);
    const auto colon = spec.find(':');
    if (colon == std::string_view::npos) {
        if (!spec.empty() && spec.front() == '/') {  // a bare path: a UNIX socket
            s.path_ = std::string(spec);
            return s;
        }
        return shown + " is not a milter socket: write unix:/path, inet:PORT@HOST or inet6:PORT@HOST";
    }
    const std::string_view proto = spec.substr(0, colon);
    const std::string_view rest = spec.substr(colon + 1);
    if (proto == "unix" || proto == "local") {
        if (rest.empty() || rest.front() != '/') return shown + ": the socket path must be absolute";
        s.path_ = std::string(rest);
        return s;
    }
    if (proto == "inet" || proto == "inet6") {
        s.kind_ = proto == "inet" ? Kind::inet : Kind::inet6;
        const auto at = rest.find('@');
        const std::string_view port = rest.substr(0, at);
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
            return shown + ": '" + std::string(port) + "' is not a port from 1 to 65535";
        }
        if (at != std::string_view::npos && at + 1 == rest.size()) return shown + ": no host after '@'";
        s.port_ = static_cast<uint16_t>(value);
        if (at != std::string_view::npos) s.host_ = std::string(rest.substr(at + 1));
        return s;
    }
    return shown + ": unknown socket type '" + std::string(proto) + "' (use unix, inet or inet6)";
}

std::string SocketSpec::local_address() const {
    std::string host = host_;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const auto address = IpAddress::parse(host);
    if (host.empty() || (address && address->is_unspecified())) return kind_ == Kind::inet6 ? "::1" : "127.0.0.1";
    return address ? host : std::string();
}

}  // namespace relaymilter
