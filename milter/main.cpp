// main: relaymilter's command line. Runs the milter daemon, or one of the two offline
// commands (--check-config, --explain), and maps every outcome to a sysexits.h code:
//   0 ok, 64 usage, 70 internal error, 71 socket or system error, 73 pid file,
//   77 cannot drop privileges, 78 configuration error.
#include <sysexits.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "daemon.hpp"
#include "explain.hpp"
#include "policy.hpp"
#include "version.hpp"

namespace po = boost::program_options;
using namespace relaymilter;

namespace {

struct Usage : std::runtime_error {
    using std::runtime_error::runtime_error;
};

po::options_description options_description() {
    po::options_description general("Options");
    general.add_options()
        ("config,c", po::value<std::string>()->value_name("FILE"), "conf file (default: see below)")
        ("check-config,n", "check the conf file, print a summary, and exit (0 valid, 78 not)")
        ("socket,p", po::value<std::string>()->value_name("SOCKET"),
         "milter socket: unix:/path, inet:PORT@HOST or inet6:PORT@HOST (overrides 'socket')")
        ("user,u", po::value<std::string>()->value_name("USER"), "drop root to USER once the socket exists (overrides 'user')")
        ("pidfile,P", po::value<std::string>()->value_name("FILE"), "write the pid to FILE (overrides 'pidfile')")
        ("foreground,f", "stay in the foreground")
        ("log", po::value<std::string>()->value_name("syslog|stderr"), "where log lines go (overrides 'log')")
        ("protocol", po::value<std::string>()->value_name("lean|full"),
         "lean (default): ask the MTA only for connect, MAIL and RCPT; full: every milter step, each answered "
         "(for measurement, or an MTA that mishandles skipped steps)")
        ("help,h", "print this help and exit")
        ("version,V", "print the version and exit");
    po::options_description explain("Explain (offline: what would happen to these recipients, and why)");
    explain.add_options()
        ("explain", "print one ACCEPT or REJECT line per --rcpt and exit")
        ("client", po::value<std::string>()->value_name("IP"), "the SMTP client's address")
        ("listener", po::value<std::string>()->value_name("IP"), "the server address it connected to")
        ("auth", po::value<std::string>()->value_name("LOGIN"), "the SMTP AUTH login, if it authenticated")
        ("from", po::value<std::string>()->value_name("ADDR"), "the envelope sender (it plays no part)")
        ("rcpt", po::value<std::vector<std::string>>()->value_name("ADDR")->composing(), "a recipient (repeatable)");
    po::options_description all;
    all.add(general).add(explain);
    return all;
}

void print_help(const po::options_description& options) {
    std::cout << "Usage: relaymilter [-c FILE] [-f] [-p SOCKET] [-u USER] [-P FILE] [--log syslog|stderr]\n"
                 "       relaymilter [-c FILE] --check-config\n"
                 "       relaymilter [-c FILE] --explain --client IP [--listener IP] [--auth LOGIN]\n"
                 "                   [--from ADDR] --rcpt ADDR [--rcpt ADDR ...]\n\n"
                 "Relay control for milter-capable MTAs: recipients outside the local domains are refused\n"
                 "unless the client authenticated, is in an allow-net, or reached an internal-address;\n"
                 "a deny-net beats everything.\n\n"
              << options
              << "\nDefault conf: " << kDefaultConf << "\nDefault socket: " << kDefaultSocket
              << "\nSignals: SIGHUP reloads the conf, SIGTERM and SIGINT stop.\n"
                 "Exit codes: 0 ok, 64 usage, 70 internal error, 71 socket or system error,\n"
                 "73 pid file, 77 cannot drop privileges, 78 configuration error.\n";
}

std::string get(const po::variables_map& vm, const char* name) {
    return vm.count(name) ? vm[name].as<std::string>() : std::string();
}

IpAddress address_argument(const po::variables_map& vm, const char* name) {
    auto address = IpAddress::parse_tagged(get(vm, name));
    if (!address) throw Usage("--" + std::string(name) + " '" + get(vm, name) + "' is not an IPv4 or IPv6 address");
    return *address;
}

int report_conf_errors(const LoadedPolicy& loaded) {
    for (const ConfError& error : loaded.errors) std::cerr << error.to_string() << "\n";
    return EX_CONFIG;
}

int explain_command(const po::variables_map& vm, const LoadedPolicy& loaded) {
    Client client;
    client.address = address_argument(vm, "client");
    if (vm.count("listener")) client.listener = address_argument(vm, "listener");
    const std::string login = get(vm, "auth");
    client.login = login;
    for (const std::string& rcpt : vm["rcpt"].as<std::vector<std::string>>()) {
        std::cout << explain(*loaded.conf, *loaded.policy, client, rcpt) << "\n";
    }
    return EX_OK;
}

int run(int argc, char** argv) {
    const po::options_description options = options_description();
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);

    if (vm.count("help")) {
        print_help(options);
        return EX_OK;
    }
    if (vm.count("version")) {
        std::cout << "relaymilter " << kVersion << "\n";
        return EX_OK;
    }
    const bool explaining = vm.count("explain") > 0;
    for (const char* only : {"client", "listener", "auth", "from", "rcpt"}) {
        if (vm.count(only) && !explaining) throw Usage("--" + std::string(only) + " goes with --explain");
    }
    if (explaining && (!vm.count("client") || !vm.count("rcpt"))) {
        throw Usage("--explain needs --client IP and at least one --rcpt ADDR");
    }
    if (explaining && vm.count("check-config")) throw Usage("--explain and --check-config do not go together");
    if (explaining) {  // check the arguments before the conf, so usage errors win
        address_argument(vm, "client");
        if (vm.count("listener")) address_argument(vm, "listener");
    }
    std::optional<std::string> socket_flag;
    if (vm.count("socket")) {
        socket_flag = get(vm, "socket");
        if (auto problem = socket_spec_problem(*socket_flag)) throw Usage("--socket " + *problem);
    }
    if (vm.count("log") && get(vm, "log") != "syslog" && get(vm, "log") != "stderr") {
        throw Usage("--log '" + get(vm, "log") + "' is not syslog or stderr");
    }
    if (vm.count("protocol") && get(vm, "protocol") != "lean" && get(vm, "protocol") != "full") {
        throw Usage("--protocol '" + get(vm, "protocol") + "' is not lean or full");
    }

    const std::string conf_path = vm.count("config") ? get(vm, "config") : kDefaultConf;
    LoadedPolicy loaded = load_policy(conf_path);
    if (!loaded.policy) return report_conf_errors(loaded);

    if (vm.count("check-config")) {
        std::cout << conf_path << ": OK: " << loaded.policy->summary() << "\n";
        return EX_OK;
    }
    if (explaining) return explain_command(vm, loaded);

    const Conf& conf = *loaded.conf;
    DaemonSettings settings;
    settings.conf_path = conf_path;
    settings.socket = socket_flag.value_or(conf.daemon.socket.value_or(kDefaultSocket));
    settings.user = vm.count("user") ? std::optional(get(vm, "user")) : conf.daemon.user;
    settings.pidfile = vm.count("pidfile") ? std::optional(get(vm, "pidfile")) : conf.daemon.pidfile;
    settings.foreground = vm.count("foreground") > 0;
    const std::string log = vm.count("log") ? get(vm, "log") : conf.daemon.log.value_or("syslog");
    settings.log = log == "stderr" ? LogTarget::stderr_stream : LogTarget::syslog;
    settings.protocol = get(vm, "protocol") == "full" ? Protocol::full : Protocol::lean;
    settings.listen_backlog = conf.daemon.listen_backlog;
    if (settings.pidfile && settings.pidfile->front() != '/') throw Usage("--pidfile must be an absolute path");
    return run_daemon(settings, std::move(loaded));
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const po::error& e) {
        std::cerr << "relaymilter: " << e.what() << " (see relaymilter --help)\n";
        return EX_USAGE;
    } catch (const Usage& e) {
        std::cerr << "relaymilter: " << e.what() << " (see relaymilter --help)\n";
        return EX_USAGE;
    } catch (const std::exception& e) {
        std::cerr << "relaymilter: internal error: " << e.what() << "\n";
        return EX_SOFTWARE;
    }
}
