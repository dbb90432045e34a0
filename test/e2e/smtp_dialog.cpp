// smtp_dialog: one SMTP session for the end-to-end tests, as a mail client would hold it, printing
// "COMMAND -> REPLY" per command (the reply's last line), e.g.
//   RCPT TO:<user@gmail.com> -> 550 5.7.1 Relaying prohibited
// It exists beside swaks because the tests need what swaks 20201014 cannot send: DSN parameters
// (RET=, NOTIFY=, ORCPT=) and IPv6 source addresses in one tool. Like a real client it leaves the
// DSN parameters out when the server does not offer DSN (it says so), unless --dsn-anyway.
//   smtp_dialog --server HOST:PORT|[V6]:PORT [--source ADDR] [--helo NAME] [--auth USER:PASSWORD]
//               --from 'ADDR [PARAMS]' --to 'ADDR [PARAMS]'... [--header 'Name: value']...
//               [--quit-after RCPT] [--dsn-anyway]
// Exit: 0 when the dialog ran to its end (whatever the replies), 2 when the connection failed
// ("ERROR ..." printed), 64 for bad arguments. Loopback tests only; every read is bounded.
#include <cstdio>
#include <string>
#include <vector>

#include "smtp_client.hpp"

namespace {

struct Options {
    std::string server, source, helo = "client.test", auth, from;
    std::vector<std::string> to, headers;
    bool quit_after_rcpt = false;
    bool dsn_anyway = false;
};

// "ADDR PARAMS" as the command's argument: ADDR in angle brackets unless it has them.
std::string envelope(const std::string& arg) {
    const auto space = arg.find(' ');
    std::string address = arg.substr(0, space);
    std::string params = space == std::string::npos ? "" : arg.substr(space);
    if (address.empty() || address.front() != '<') address = "<" + address + ">";
    return address + params;
}

bool is_dsn_param(const std::string& word) {
    for (const char* p : {"RET=", "ENVID=", "NOTIFY=", "ORCPT="}) {
        if (word.compare(0, std::char_traits<char>::length(p), p) == 0) return true;
    }
    return false;
}

// Drops the DSN parameters of a command argument, reporting them.
std::string without_dsn(const std::string& arg, std::string& dropped) {
    std::string out;
    size_t at = 0;
    while (at <= arg.size()) {
        size_t space = arg.find(' ', at);
        std::string word = arg.substr(at, space == std::string::npos ? std::string::npos : space - at);
        if (at > 0 && is_dsn_param(word)) {
            dropped += (dropped.empty() ? "" : " ") + word;
        } else if (!word.empty()) {
            out += (out.empty() ? "" : " ") + word;
        }
        if (space == std::string::npos) break;
        at = space + 1;
    }
    return out;
}

void print(const std::string& command, const smtp_test::Reply& reply) {
    std::printf("%s -> %s\n", command.c_str(), reply.last_line.c_str());
    std::fflush(stdout);
}

int dialog(const Options& o) {
    smtp_test::Connection smtp(smtp_test::Endpoint::parse(o.server), o.source);
    smtp_test::Reply banner = smtp.reply();
    print("CONNECT", banner);
    if (banner.code != 220) return 0;
    smtp_test::Reply ehlo = smtp.command("EHLO " + o.helo);
    print("EHLO " + o.helo, ehlo);
    if (ehlo.code != 250) return 0;
    const bool dsn = ehlo.all.find("250-DSN\n") != std::string::npos || ehlo.all.find("250 DSN\n") != std::string::npos;
    if (!o.auth.empty()) {
        const auto colon = o.auth.find(':');
        print("AUTH PLAIN", smtp.auth_plain(o.auth.substr(0, colon), o.auth.substr(colon + 1)));
    }
    auto send_envelope = [&](const std::string& verb, const std::string& arg) {
        std::string text = envelope(arg), dropped;
        if (!dsn && !o.dsn_anyway) text = without_dsn(text, dropped);
        if (!dropped.empty()) std::printf("NOTE the server offers no DSN: %s left out\n", dropped.c_str());
        const std::string command = verb + text;
        smtp_test::Reply r = smtp.command(command);
        print(command, r);
        return r.code;
    };
    if (send_envelope("MAIL FROM:", o.from) != 250) {
        smtp.command("QUIT");
        return 0;
    }
    int accepted = 0;
    for (const std::string& rcpt : o.to) accepted += send_envelope("RCPT TO:", rcpt) == 250;
    if (o.quit_after_rcpt || accepted == 0) {
        smtp.command("QUIT");
        return 0;
    }
    smtp_test::Reply data = smtp.command("DATA");
    print("DATA", data);
    if (data.code != 354) {
        smtp.command("QUIT");
        return 0;
    }
    std::string message;
    for (const std::string& h : o.headers) message += h + "\r\n";
    message += "\r\nrelaymilter end-to-end test message\r\n.\r\n";
    smtp.send(message);
    print("END", smtp.reply());
    smtp.command("QUIT");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string key = argv[i];
        if (key == "--dsn-anyway") {
            o.dsn_anyway = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "smtp_dialog: %s needs a value\n", key.c_str());
            return 64;
        }
        const std::string value = argv[++i];
        if (key == "--server") o.server = value;
        else if (key == "--source") o.source = value;
        else if (key == "--helo") o.helo = value;
        else if (key == "--auth") o.auth = value;
        else if (key == "--from") o.from = value;
        else if (key == "--to") o.to.push_back(value);
        else if (key == "--header") o.headers.push_back(value);
        else if (key == "--quit-after" && value == "RCPT") o.quit_after_rcpt = true;
        else {
            std::fprintf(stderr, "smtp_dialog: unknown option %s\n", key.c_str());
            return 64;
        }
    }
    if (o.server.empty() || o.from.empty() || o.to.empty()) {
        std::fprintf(stderr, "smtp_dialog: --server, --from and --to are required\n");
        return 64;
    }
    try {
        return dialog(o);
    } catch (const std::exception& e) {
        std::printf("ERROR %s\n", e.what());
        return 2;
    }
}
