// milter_counter: a proxy between an MTA and a milter that counts milter protocol packets per
// connection, for the round-trip benchmark. Each milter connection is one SMTP session (MTAs
// open one per session); every packet the milter sends is a reply the MTA waited for.
//   milter_counter LISTEN TARGET OUTFILE     (LISTEN and TARGET: unix:/path or inet:PORT@127.0.0.1)
// On each connection's end it appends one line to OUTFILE:
//   mta=O1 D2 C1 M1 R2 E1 Q1 milter=O1 c3 packets_mta=9 packets_milter=4
// (the letters are milter command codes, e.g. R = RCPT from the MTA, c = continue from the milter).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace {

std::mutex g_out_mutex;
std::string g_out;

// Fills `ss` from "unix:/path" or "inet:PORT@HOST"; returns the address length, 0 on error.
socklen_t address_of(const std::string& spec, sockaddr_storage& ss) {
    std::memset(&ss, 0, sizeof ss);
    if (spec.rfind("unix:", 0) == 0) {
        auto* sun = reinterpret_cast<sockaddr_un*>(&ss);
        sun->sun_family = AF_UNIX;
        std::strncpy(sun->sun_path, spec.c_str() + 5, sizeof sun->sun_path - 1);
        return sizeof *sun;
    }
    if (spec.rfind("inet:", 0) == 0) {
        auto at = spec.find('@');
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(static_cast<uint16_t>(std::stoi(spec.substr(5, at - 5))));
        inet_pton(AF_INET, spec.substr(at + 1).c_str(), &sin->sin_addr);
        return sizeof *sin;
    }
    return 0;
}

bool read_all(int fd, char* buf, size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, buf, n);
        if (r <= 0) return false;
        buf += r;
        n -= static_cast<size_t>(r);
    }
    return true;
}

bool write_all(int fd, const char* buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w <= 0) return false;
        buf += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// Copies packets from `from` to `to`, counting them by command letter. Each packet is written
// with one write, as the MTA and libmilter do.
void pump(int from, int to, std::map<char, int>& counts) {
    std::string packet;
    for (;;) {
        char header[5];
        if (!read_all(from, header, 5)) break;
        uint32_t length = 0;
        std::memcpy(&length, header, 4);
        length = ntohl(length);
        if (length == 0 || length > (1u << 24)) break;
        packet.assign(header, 5);
        packet.resize(4 + length);
        if (!read_all(from, packet.data() + 5, length - 1)) break;
        ++counts[header[4]];
        if (!write_all(to, packet.data(), packet.size())) break;
    }
    shutdown(to, SHUT_WR);
}

std::string summary(const std::map<char, int>& counts, int& total) {
    std::string out;
    total = 0;
    for (auto [cmd, n] : counts) {
        out += (out.empty() ? "" : " ") + std::string(1, cmd) + std::to_string(n);
        total += n;
    }
    return out;
}

// The proxy must not add delays of its own: no Nagle on its TCP sockets.
void no_delay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void serve(int client, std::string target, std::string outfile) {
    sockaddr_storage ss;
    socklen_t len = address_of(target, ss);
    int milter = socket(ss.ss_family, SOCK_STREAM, 0);
    if (ss.ss_family == AF_INET) {
        no_delay(milter);
        no_delay(client);
    }
    if (connect(milter, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        close(client);
        close(milter);
        return;
    }
    std::map<char, int> from_mta, from_milter;
    std::thread back([&] { pump(milter, client, from_milter); });
    pump(client, milter, from_mta);
    back.join();
    close(client);
    close(milter);
    int mta_total = 0, milter_total = 0;
    const std::string mta = summary(from_mta, mta_total);
    const std::string reply = summary(from_milter, milter_total);
    std::string line = "mta=" + mta + " milter=" + reply + " packets_mta=" + std::to_string(mta_total) +
                       " packets_milter=" + std::to_string(milter_total) + "\n";
    std::lock_guard lock(g_out_mutex);
    if (FILE* f = std::fopen(outfile.c_str(), "a")) {
        std::fputs(line.c_str(), f);
        std::fclose(f);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: milter_counter LISTEN TARGET OUTFILE\n");
        return 64;
    }
    sockaddr_storage ss;
    socklen_t len = address_of(argv[1], ss);
    if (!len) return 64;
    if (ss.ss_family == AF_UNIX) unlink(reinterpret_cast<sockaddr_un*>(&ss)->sun_path);
    int listener = socket(ss.ss_family, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(listener, 128) != 0) {
        std::perror("milter_counter: listen");
        return 71;
    }
    if (ss.ss_family == AF_UNIX) chmod(reinterpret_cast<sockaddr_un*>(&ss)->sun_path, 0666);
    for (;;) {
        int client = accept(listener, nullptr, nullptr);
        if (client < 0) continue;
        std::thread(serve, client, std::string(argv[2]), std::string(argv[3])).detach();
    }
}
