// main: relaymilter's command line. Runs the milter daemon, or one of the commands that do not
// (--check-config, --explain, --unlock), and maps every outcome to a sysexits.h code:
//   0 ok, 64 usage, 69 the limits store cannot be reached, 70 internal error, 71 socket or system
//   error, 73 pid file, 77 cannot drop privileges, 78 configuration error.
#include <sysexits.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "daemon.hpp"
#include "explain.hpp"
#include "policy.hpp"
#include "redis_store.hpp"
#include "settings.hpp"
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
        ("unlock", po::value<std::string>()->value_name("LOGIN"),
         "lift LOGIN's lock in the shared limits store (limits-store = redis://...) and exit")
        ("help,h", "print this help and exit")
        ("version,V", "print the version and exit");
    po::options_description explain("Explain (offline: what would happen to these recipients, and why)");
    explain.add_options()
        ("explain", "print one ACCEPT or REJECT line per --rcpt and exit")
        ("client", po::value<std::string>()->value_name("IP"), "the SMTP client's address")
        ("listener", po::value<std::string>()->value_name("IP"), "the server address it connected to")
        ("auth", po::value<std::string>()->value_name("LOGIN"), "the SMTP AUTH login, if it authenticated")
        ("from", po::value<std::string>()->value_name("ADDR"), "the envelope sender (it plays no part)")
        ("rcpt", po::value<std::vector<std::string>>()->value_name("ADDR")->composing(), "a recipient (repeatable)")
        ("port", po::value<uint16_t>()->value_name("PORT"), "the listener's port it connected to (for authenticated-port)");
    po::options_description all;
    all.add(general).add(explain);
    return all;
}

void print_help(const po::options_description& options) {
    std::cout << "Usage: relaymilter [-c FILE] [-f] [-p SOCKET] [-u USER] [-P FILE] [--log syslog|stderr]\n"
                 "       relaymilter [-c FILE] --check-config\n"
                 "       relaymilter [-c FILE] --explain --client IP [--listener IP] [--auth LOGIN]\n"
                 "                   [--port PORT] [--from ADDR] --rcpt ADDR [--rcpt ADDR ...]\n"
                 "       relaymilter [-c FILE] --unlock LOGIN\n\n"
                 "Relay control for milter-capable MTAs: recipients outside the local domains are refused\n"
                 "unless the client authenticated, is in an allow-net, or reached an internal-address;\n"
                 "a deny-net beats everything.\n\n"
              << options
              << "\nDefault conf: " << kDefaultConf << "\nDefault socket: " << kDefaultSocket
              << "\nSignals: SIGHUP reloads the conf, SIGTERM and SIGINT stop.\n"
                 "Exit codes: 0 ok, 64 usage, 69 the limits store cannot be reached, 70 internal error,\n"
                 "71 socket or system error, 73 pid file, 77 cannot drop privileges, 78 configuration error.\n";
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

SocketSpec default_socket() { return std::get<SocketSpec>(SocketSpec::parse(kDefaultSocket)); }

// The command line's daemon flags; a bad value is a usage error naming the flag.
DaemonSettings settings_from(const po::variables_map& vm, const std::string& conf_path, const Conf& conf) {
    CommandLine flags;
    flags.conf_path = conf_path;
    auto flag = [&vm](const char* name) { return vm.count(name) ? std::optional(get(vm, name)) : std::nullopt; };
    flags.socket = flag("socket");
    flags.user = flag("user");
    flags.pidfile = flag("pidfile");
    flags.log = flag("log");
    flags.protocol = flag("protocol");
    flags.foreground = vm.count("foreground") > 0;
    auto settings = daemon_settings(conf, flags, default_socket());
    if (auto* problem = std::get_if<std::string>(&settings)) throw Usage(*problem);
    return std::get<DaemonSettings>(settings);
}

Microseconds wall_clock() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<Microseconds>(ts.tv_sec) * kSecond + ts.tv_nsec / 1000;
}

// A shared store's view of one login: "recipients 37/500 in 1h, locked: no".
std::string use_text(const LoginUse& use, const LoginLimits& limits) {
    std::string out;
    auto add = [&out](const char* what, double used, const std::optional<Rate>& rate) {
        if (!rate) return;
        char number[32];
        std::snprintf(number, sizeof number, "%.0f", used);
        out += std::string(out.empty() ? "" : ", ") + what + " " + number + "/" + std::to_string(rate->count) + " in " +
               duration_text(rate->period_seconds);
    };
    add("recipients", use.recipients, limits.recipients);
    add("messages", use.messages, limits.messages);
    add("clients", use.clients, limits.clients);
    return out + (out.empty() ? "" : ", ") + "locked: " + (use.locked_until ? "yes" : "no");
}

// A command's store: one round trip, and no daemon "store: ... down" line on the command's stderr
// (the command reports the failure itself).
RedisStoreOptions cli_store_options(const DaemonOptions& daemon) {
    RedisStoreOptions options = store_options(daemon, StoreFailure::tempfail);
    options.log = [](int, std::string_view) {};
    return options;
}

int check_config_command(const std::string& conf_path, const LoadedPolicy& loaded, const DaemonSettings& settings) {
    // The conf itself parsed; what remains is the machine: errors stop the daemon, warnings may not.
    const SettingsCheck check = check_settings(settings, *loaded.conf);
    for (const std::string& warning : check.warnings) std::cerr << conf_path << ": warning: " << warning << "\n";
    for (const std::string& error : check.errors) std::cerr << conf_path << ": " << error << "\n";
    if (!check.errors.empty()) return EX_CONFIG;
    std::cout << conf_path << ": OK: " << loaded.policy->summary() << "\n";
    return EX_OK;
}

int explain_command(const po::variables_map& vm, const LoadedPolicy& loaded) {
    Client client;
    client.address = address_argument(vm, "client");
    if (vm.count("listener")) client.listener = address_argument(vm, "listener");
    if (vm.count("port")) client.port = vm["port"].as<uint16_t>();
    const std::string login = get(vm, "auth");
    client.login = login;
    for (const std::string& rcpt : vm["rcpt"].as<std::vector<std::string>>()) {
        std::cout << explain(*loaded.conf, *loaded.policy, client, rcpt) << "\n";
    }
    const DaemonOptions& daemon = loaded.conf->daemon;
    if (!login.empty() && loaded.policy->has_login_limits() && daemon.limits_store.shared()) {
        RedisStore store(daemon.limits_store, cli_store_options(daemon));
        const LoginLimits limits = loaded.policy->limits_of(login);
        const auto use = store.use(login_key(login), limits, wall_clock());
        std::cout << "USE " << login << " store=" << daemon.limits_store.display() << " use=\""
                  << (use ? use_text(*use, limits) : "unknown: " + store.last_error()) << "\"\n";
    }
    return EX_OK;
}

int unlock_command(const std::string& login, const LoadedPolicy& loaded) {
    const DaemonOptions& daemon = loaded.conf->daemon;
    if (!daemon.limits_store.shared()) {
        std::cerr << "relaymilter: --unlock " << login
                  << ": limits-store = memory keeps locks in the running daemon's memory, which this command cannot "
                     "reach; restart relaymilter to clear every lock, or share the limits through Redis\n";
        return EX_UNAVAILABLE;
    }
    RedisStore store(daemon.limits_store, cli_store_options(daemon));
    std::string why;
    const std::optional<bool> unlocked = store.unlock_shared(login_key(login), why);
    if (!unlocked) {
        std::cerr << "relaymilter: --unlock " << login << ": " << why << "\n";  // why names the store
        return EX_UNAVAILABLE;
    }
    std::cout << login << (*unlocked ? ": unlocked in " : ": was not locked in ") << daemon.limits_store.display() << "\n";
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
    for (const char* only : {"client", "listener", "auth", "from", "rcpt", "port"}) {
        if (vm.count(only) && !explaining) throw Usage("--" + std::string(only) + " goes with --explain");
    }
    if (explaining && (!vm.count("client") || !vm.count("rcpt"))) {
        throw Usage("--explain needs --client IP and at least one --rcpt ADDR");
    }
    if (vm.count("explain") + vm.count("check-config") + vm.count("unlock") > 1) {
        throw Usage("--explain, --check-config and --unlock do not go together");
    }
    if (explaining) {  // check the arguments before the conf, so usage errors win
        address_argument(vm, "client");
        if (vm.count("listener")) address_argument(vm, "listener");
    }

    const std::string conf_path = vm.count("config") ? get(vm, "config") : kDefaultConf;
    LoadedPolicy loaded = load_policy(conf_path);
    if (!loaded.policy) return report_conf_errors(loaded);
    DaemonSettings settings = settings_from(vm, conf_path, *loaded.conf);

    if (vm.count("check-config")) return check_config_command(conf_path, loaded, settings);
    if (explaining) return explain_command(vm, loaded);
    if (vm.count("unlock")) return unlock_command(get(vm, "unlock"), loaded);
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
